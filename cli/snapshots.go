package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/consequent/consequent/es"
)

func (a *app) snapshotsCommand() *cobra.Command {
	take := &cobra.Command{
		Use:   "take [--type T]",
		Short: "Snapshot every aggregate of the types that take snapshots, at its current version",
		Args:  exactArgs(0),
	}
	takeType := take.Flags().String("type", "", "only the aggregates of this type")
	take.RunE = func(c *cobra.Command, _ []string) error { return a.snapshotsTake(c, *takeType) }

	prune := &cobra.Command{
		Use:   "prune --keep N [--type T]",
		Short: "Delete all but each aggregate's N newest snapshots, and those of other schemas",
		Args:  exactArgs(0),
	}
	keep := prune.Flags().Int("keep", 0, "how many snapshots of each aggregate to keep (required; 0 deletes them all)")
	pruneType := prune.Flags().String("type", "", "only the aggregates of this type")
	prune.RunE = func(c *cobra.Command, _ []string) error {
		if !c.Flags().Changed("keep") || *keep < 0 {
			return misuse("usage: %s (how many snapshots of each aggregate to keep, 0 or more)", c.UseLine())
		}
		return a.snapshotsPrune(c, *pruneType, *keep)
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "Show, per aggregate type, its snapshot policy, streams, snapshots and the events loads replay",
		Args:  exactArgs(0),
	}
	asJSON := jsonFlag(status)
	status.RunE = func(c *cobra.Command, _ []string) error { return a.snapshotsStatus(c, *asJSON) }
	return group("snapshots", "Take, prune and count the snapshots aggregates load from", take, prune, status)
}

// snapshotTypes returns the aggregate types to work on: the one named, which
// must take snapshots, or every one that does.
func snapshotTypes(reg *es.Registry, name string) ([]*es.AggregateType, error) {
	var all, names []string
	var out []*es.AggregateType
	for _, t := range reg.AggregateTypes() {
		all = append(all, t.Name())
		if n, _ := t.Snapshots(); n > 0 {
			names = append(names, t.Name())
			if name == "" || name == t.Name() {
				out = append(out, t)
			}
		}
	}
	switch {
	case name != "" && len(out) == 0:
		if _, ok := reg.AggregateType(name); ok {
			return nil, misuse("aggregate type %s takes no snapshots (register it with es.SnapshotEvery); those that do: %s", name, listOrNone(names))
		}
		return nil, misuse("unknown aggregate type %q: the types are %s", name, listOrNone(all))
	case len(out) == 0:
		return nil, failure("no aggregate type of the application takes snapshots: register one with es.SnapshotEvery")
	}
	return out, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// snapshotsTake snapshots every stream of each type, page by page.
func (a *app) snapshotsTake(c *cobra.Command, typ string) error {
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	types, err := snapshotTypes(e.reg, typ)
	if err != nil {
		return err
	}
	for _, t := range types {
		_, schema := t.Snapshots()
		stats, err := e.store.SnapshotStats(ctx, t.Name(), schema)
		if err != nil {
			return failure("%v", err)
		}
		bar := newProgress(c.ErrOrStderr(), t.Name()+" snapshots")
		var taken, current int64
		after := uuid.Nil
		for {
			ids, err := e.store.StreamIDs(ctx, t.Name(), after, 500)
			if err != nil {
				bar.end()
				return failure("%v", err)
			}
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				snap, err := es.TakeSnapshot(ctx, e.reg, e.store, id)
				switch {
				case errors.Is(err, es.ErrAggregateNotFound): // deleted meanwhile
				case err != nil:
					bar.end()
					return failure("%v", err)
				case snap == nil:
					current++
				default:
					taken++
				}
				bar.update("take", taken+current, stats.Streams, 0, 0)
			}
			after = ids[len(ids)-1]
		}
		bar.update("done", taken+current, stats.Streams, 0, 0)
		bar.end()
		fmt.Fprintf(c.OutOrStdout(), "%s: %s taken, %s current already\n", t.Name(), count(taken, "snapshot"), count(current, "aggregate"))
	}
	return nil
}

func (a *app) snapshotsPrune(c *cobra.Command, typ string, keep int) error {
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	types, err := snapshotTypes(e.reg, typ)
	if err != nil {
		return err
	}
	for _, t := range types {
		_, schema := t.Snapshots()
		n, err := e.store.PruneSnapshots(ctx, t.Name(), schema, keep)
		if err != nil {
			return failure("%v", err)
		}
		fmt.Fprintf(c.OutOrStdout(), "%s: %s deleted, the newest %d of each aggregate kept (schema %d)\n", t.Name(), count(n, "snapshot"), keep, schema)
	}
	return nil
}

// snapshotStatusJSON is one aggregate type as snapshots status --json prints it.
type snapshotStatusJSON struct {
	Aggregate   string `json:"aggregate"`
	Every       int    `json:"every"`  // 0: the type takes no snapshots
	Schema      int    `json:"schema"` // of its snapshots
	Streams     int64  `json:"streams"`
	Events      int64  `json:"events"`
	Snapshotted int64  `json:"snapshotted"`
	Snapshots   int64  `json:"snapshots"`
	Other       int64  `json:"other_schemas"`
	Replayed    int64  `json:"replayed"`
}

func (a *app) snapshotsStatus(c *cobra.Command, asJSON bool) error {
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	out := []snapshotStatusJSON{}
	for _, t := range e.reg.AggregateTypes() {
		every, schema := t.Snapshots()
		st, err := e.store.SnapshotStats(ctx, t.Name(), schema)
		if err != nil {
			return failure("%v", err)
		}
		out = append(out, snapshotStatusJSON{Aggregate: t.Name(), Every: every, Schema: schema, Streams: st.Streams, Events: st.Events,
			Snapshotted: st.Snapshotted, Snapshots: st.Snapshots, Other: st.Other, Replayed: st.Replayed})
	}
	w := c.OutOrStdout()
	if asJSON {
		return printJSON(w, out)
	}
	t := table(w)
	fmt.Fprintln(t, "AGGREGATE\tEVERY\tSCHEMA\tSTREAMS\tEVENTS\tSNAPSHOTTED\tSNAPSHOTS\tOTHER SCHEMAS\tEVENTS LOADS REPLAY")
	for _, s := range out {
		if s.Every == 0 {
			fmt.Fprintf(t, "%s\t-\t-\t%d\t%d\t-\t-\t%s\t%d\n", s.Aggregate, s.Streams, s.Events, orDash(s.Other), s.Replayed)
			continue
		}
		fmt.Fprintf(t, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Aggregate, s.Every, s.Schema, s.Streams, s.Events,
			s.Snapshotted, s.Snapshots, s.Other, s.Replayed)
	}
	return t.Flush()
}
