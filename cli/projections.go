package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/consequent/consequent/es"
)

func (a *app) projectionsCommand() *cobra.Command {
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each projector's serving and building version, phase, checkpoint, lag and last failure",
		Args:  exactArgs(0),
	}
	asJSON := jsonFlag(status)
	status.RunE = func(c *cobra.Command, _ []string) error { return a.projectionsStatus(c, *asJSON) }

	rebuild := &cobra.Command{
		Use:   "rebuild NAME|--all",
		Short: "Rebuild a projector's tables now, beside the live ones, and swap them in",
		Long: `rebuild rebuilds the tables of the projector NAME (or of every projector, with
--all) as a deploy of a new projector version does: into shadow tables, from
the event log, while the live tables keep serving, then swaps them in. Tables
that serve the projector's version already are rebuilt too, to repair them.
An interrupted rebuild resumes from its last chunk when run again.`,
	}
	all := rebuild.Flags().Bool("all", false, "rebuild every projector")
	chunk := rebuild.Flags().Int("chunk", 0, "events per write to the shadow tables, the unit a rebuild resumes from (default 50000)")
	rebuild.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 1 || (len(args) == 1) == *all {
			return misuse("usage: %s (a projector's name, or --all)", c.UseLine())
		}
		return nil
	}
	rebuild.RunE = func(c *cobra.Command, args []string) error { return a.projectionsRebuild(c, args, *chunk) }

	resume := &cobra.Command{
		Use:   "resume NAME",
		Short: "Clear an async projector's failure, so that its workers try the failing event again",
		Args:  exactArgs(1),
		RunE:  a.projectionsResume,
	}
	return group("projections", "Show, rebuild and resume the projectors that keep the read models", status, rebuild, resume)
}

// projector finds a registered projector by name.
func projector(reg *es.Registry, name string) (*es.Projector, error) {
	var names []string
	for _, p := range reg.Projectors() {
		if p.Name() == name {
			return p, nil
		}
		names = append(names, p.Name())
	}
	if len(names) == 0 {
		return nil, misuse("unknown projector %q: the application registers none", name)
	}
	return nil, misuse("unknown projector %q: the projectors are %s", name, strings.Join(names, ", "))
}

// projectorJSON is one projector as projections status --json prints it.
type projectorJSON struct {
	Projector  string          `json:"projector"`
	Async      bool            `json:"async"`
	Version    int             `json:"version"`
	Serving    int             `json:"serving"`
	Building   int             `json:"building"`
	Phase      string          `json:"phase"`
	Stale      bool            `json:"stale"`
	Skipped    int64           `json:"skipped"`
	Done       int64           `json:"done"`
	Total      int64           `json:"total"`
	Rate       float64         `json:"rate"`
	ETASeconds float64         `json:"eta_seconds"`
	Started    *time.Time      `json:"started,omitempty"`
	Updated    *time.Time      `json:"updated,omitempty"`
	Error      string          `json:"error,omitempty"`
	Partitions []partitionJSON `json:"partitions,omitempty"` // async projectors only
}

type partitionJSON struct {
	Name       string        `json:"name"`
	Checkpoint cursorJSON    `json:"checkpoint"`
	Lag        int64         `json:"lag"`
	OldestAge  float64       `json:"oldest_age_seconds"`
	Owner      string        `json:"owner,omitempty"`
	Failed     bool          `json:"failed"`
	Error      string        `json:"error,omitempty"`
	lag        time.Duration // for the table
}

// cursorJSON is a place in the log.
type cursorJSON struct {
	TxID     uint64 `json:"tx_id"`
	Position int64  `json:"position"`
}

func (a *app) projectionsStatus(c *cobra.Command, asJSON bool) error {
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	statuses, err := es.ReadModelStatus(ctx, e.reg, e.store)
	if err != nil {
		return failure("%v", err)
	}
	parts, err := a.partitions(ctx, e)
	if err != nil {
		return err
	}
	out := []projectorJSON{}
	for _, s := range statuses {
		pj := projectorJSON{Projector: s.Projector, Async: s.Async, Version: s.Version, Serving: s.Serving, Building: s.Building,
			Phase: s.Phase, Stale: s.Stale, Skipped: s.Skipped, Done: s.Done, Total: s.Total, Rate: s.Rate,
			ETASeconds: s.ETA.Seconds(), Error: s.Error, Partitions: parts[s.Projector]}
		if !s.Started.IsZero() {
			pj.Started, pj.Updated = &s.Started, &s.Updated
		}
		out = append(out, pj)
	}
	if asJSON {
		return printJSON(c.OutOrStdout(), out)
	}
	return a.printProjections(c.OutOrStdout(), out)
}

// partitions reports the checkpoints and lag of the async projectors, by
// projector.
func (a *app) partitions(ctx context.Context, e *env) (map[string][]partitionJSON, error) {
	out := map[string][]partitionJSON{}
	w, err := es.NewProjectionWorker(e.reg, e.store, es.WorkerOptions{Logger: logger(io.Discard), Jobs: es.RunProjectors | es.RunSubscriptions})
	if err != nil {
		return nil, failure("%v", err)
	}
	lags, err := w.Lag(ctx)
	if err != nil {
		return nil, failure("lag of the async projectors: %v", err)
	}
	for _, l := range lags {
		name, _, _ := strings.Cut(l.Projection, "#")
		out[name] = append(out[name], partitionJSON{Name: l.Projection, Checkpoint: cursorJSON(l.State.Checkpoint), Lag: l.Events,
			OldestAge: l.OldestAge.Seconds(), Owner: l.State.Owner, Failed: l.State.Failed, Error: l.State.Error, lag: l.OldestAge})
	}
	return out, nil
}

func (a *app) printProjections(w io.Writer, ps []projectorJSON) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "the application registers no projectors")
		return err
	}
	t := table(w)
	fmt.Fprintln(t, "PROJECTOR\tMODE\tVERSION\tSERVING\tBUILDING\tPHASE\tPROGRESS\tCHECKPOINT\tLAG")
	var notes []string
	for _, p := range ps {
		mode, checkpoint, lag := "inline", "-", "-"
		if p.Async {
			mode = "async"
			checkpoint, lag = partitionsText(p.Partitions)
		}
		progress := "-"
		if p.Building > 0 {
			progress = fmt.Sprintf("%d/%d", p.Done, p.Total)
			if p.Total > 0 {
				progress += fmt.Sprintf(" (%d%%)", p.Done*100/p.Total)
			}
			if p.Rate > 0 {
				progress += ", " + rateText(p.Rate)
			}
			if p.ETASeconds > 0 {
				progress += ", " + durationText(time.Duration(p.ETASeconds*float64(time.Second))) + " left"
			}
		}
		fmt.Fprintf(t, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Projector, mode, p.Version, orDash(p.Serving), orDash(p.Building),
			p.Phase, progress, checkpoint, lag)
		switch {
		case p.Phase == es.PhaseWaiting:
			notes = append(notes, fmt.Sprintf("%s: version %d waits for its tables: run %s projections rebuild %s, or start the application",
				p.Projector, p.Version, a.name, p.Projector))
		case p.Skipped > 0:
			notes = append(notes, fmt.Sprintf("%s: %s of an older version did not write its tables; the application rebuilds them once they stop",
				p.Projector, count(p.Skipped, "commit")))
		}
		stopped := false
		for _, part := range p.Partitions {
			if part.Failed {
				stopped = stopped || part.Error == p.Error
				notes = append(notes, fmt.Sprintf("%s: stopped: %s; fix the cause, then run %s projections resume %s",
					part.Name, failureText(p.Projector, part.Error), a.name, part.Name))
			}
		}
		switch {
		case p.Error == "" || stopped:
		case p.Building > 0:
			notes = append(notes, fmt.Sprintf("%s: the rebuild stopped: %s; fix the cause, then run %s projections rebuild %s",
				p.Projector, failureText(p.Projector, p.Error), a.name, p.Projector))
		default:
			notes = append(notes, fmt.Sprintf("%s: failed: %s", p.Projector, failureText(p.Projector, p.Error)))
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	return nil
}

// failureText is a recorded failure, without the projector's name it starts
// with and the advice of the runtime's own message (the notes give theirs).
func failureText(projector, msg string) string {
	msg = oneLine(msg)
	msg = strings.TrimPrefix(msg, "projector "+projector+": ")
	msg, _, _ = strings.Cut(msg, "; fix the cause")
	return msg
}

// partitionsText sums up the partitions of an async projector: the
// checkpoint (of the only partition, or how many) and the lag.
func partitionsText(parts []partitionJSON) (checkpoint, lag string) {
	if len(parts) == 0 {
		return "-", "-"
	}
	var n int64
	var oldest time.Duration
	for _, p := range parts {
		n += p.Lag
		oldest = max(oldest, p.lag)
	}
	checkpoint = fmt.Sprintf("%d/%d", parts[0].Checkpoint.TxID, parts[0].Checkpoint.Position)
	if len(parts) > 1 {
		checkpoint = fmt.Sprintf("%d partitions", len(parts))
	}
	lag = count(n, "event")
	if n > 0 {
		lag += ", oldest " + durationText(oldest)
	}
	return checkpoint, lag
}

// projectionsRebuild drives the service's own rebuild, with rebuilds left
// to it (Options.ManualRebuilds): one mechanism for deploys and operators.
func (a *app) projectionsRebuild(c *cobra.Command, args []string, chunk int) error {
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	var ps []*es.Projector
	if len(args) == 1 {
		p, err := projector(e.reg, args[0])
		if err != nil {
			return err
		}
		ps = append(ps, p)
	} else if ps = e.reg.Projectors(); len(ps) == 0 {
		fmt.Fprintln(c.OutOrStdout(), "the application registers no projectors: nothing to rebuild")
		return nil
	}
	if chunk < 0 {
		return misuse("--chunk %d: give a positive number of events", chunk)
	}
	svc, err := es.NewCommandService(ctx, e.reg, e.store, es.Options{ManualRebuilds: true, DisableWorkflows: true,
		RebuildChunk: chunk, Logger: logger(c.ErrOrStderr())})
	if err != nil {
		return failure("%v", err)
	}
	defer svc.Close()
	for _, p := range ps {
		start := time.Now()
		bar := newProgress(c.ErrOrStderr(), fmt.Sprintf("%s v%d", p.Name(), p.Version()))
		var last es.RebuildProgress
		err := svc.Rebuild(ctx, p.Name(), func(r es.RebuildProgress) {
			last = r
			bar.update(r.Phase, r.Done, r.Total, r.Rate, r.ETA())
		})
		bar.end()
		switch {
		case err != nil && ctx.Err() != nil:
			return failure("rebuild of %s interrupted: run the rebuild again to resume it from its last chunk", p.Name())
		case errors.Is(err, es.ErrLeaseLost):
			return failure("rebuild of %s: another process took it over: %v", p.Name(), err)
		case err != nil:
			return failure("rebuild of %s: %v", p.Name(), err)
		}
		took := time.Since(start)
		fmt.Fprintf(c.OutOrStdout(), "%s: version %d serves, rebuilt from %s in %s (%s)\n", p.Name(), p.Version(),
			count(last.Done, "event"), durationText(took), rateText(float64(last.Done)/took.Seconds()))
	}
	return nil
}

// projectionsResume clears the failures of an async projector (every
// partition) or of one partition.
func (a *app) projectionsResume(c *cobra.Command, args []string) error {
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	name, _, _ := strings.Cut(args[0], "#")
	p, err := projector(e.reg, name)
	if err != nil {
		return err
	}
	if !p.IsAsync() {
		return misuse("projector %s runs inline: only async projectors stop at a failing event; to retry a failed rebuild, run %s projections rebuild %s",
			p.Name(), a.name, p.Name())
	}
	w, err := es.NewProjectionWorker(e.reg, e.store, es.WorkerOptions{Logger: logger(io.Discard), Jobs: es.RunProjectors | es.RunSubscriptions})
	if err != nil {
		return failure("%v", err)
	}
	lags, err := w.Lag(ctx)
	if err != nil {
		return failure("%v", err)
	}
	resumed, found := 0, false
	for _, l := range lags {
		if proj, _, _ := strings.Cut(l.Projection, "#"); proj != name || (args[0] != name && l.Projection != args[0]) {
			continue
		}
		found = true
		if !l.State.Failed {
			continue
		}
		if err := w.Resume(ctx, l.Projection); err != nil {
			return failure("resume %s: %v", l.Projection, err)
		}
		fmt.Fprintf(c.OutOrStdout(), "%s: resumed; it had stopped: %s\n", l.Projection, failureText(name, l.State.Error))
		resumed++
	}
	switch {
	case !found:
		return misuse("projector %s has no partition %q", name, args[0])
	case resumed == 0:
		fmt.Fprintf(c.OutOrStdout(), "%s has not stopped: nothing to resume\n", args[0])
	}
	return nil
}
