package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/consequent/consequent/es"
)

func (a *app) eventsCommand() *cobra.Command {
	show := &cobra.Command{
		Use:   "show STREAM [--as-of VERSION]",
		Short: "Show a stream's events, decoded, with the command behind each",
		Args:  exactArgs(1),
	}
	asOf := show.Flags().Int64("as-of", 0, "show the stream up to this version")
	showJSON := jsonFlag(show)
	show.RunE = func(c *cobra.Command, args []string) error {
		if c.Flags().Changed("as-of") && *asOf < 1 {
			return misuse("--as-of %d: versions start at 1", *asOf)
		}
		return a.eventsShow(c, args[0], *asOf, *showJSON)
	}

	tail := &cobra.Command{
		Use:   "tail [--type T] [-n N]",
		Short: "Show the last events of the log, then follow it until interrupted",
		Args:  exactArgs(0),
	}
	tailType := tail.Flags().String("type", "", "only the events of this aggregate type, or of this event type")
	last := tail.Flags().IntP("lines", "n", 10, "how many of the last events to show first")
	tailJSON := tail.Flags().Bool("json", false, "print one JSON object per event, for scripts")
	tail.RunE = func(c *cobra.Command, _ []string) error {
		if *last < 0 {
			return misuse("-n %d: give 0 or more events", *last)
		}
		return a.eventsTail(c, *tailType, *last, *tailJSON)
	}
	return group("events", "Read the event log: a stream's history, or the log as it grows", show, tail)
}

func (a *app) commandsCommand() *cobra.Command {
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a command as it was recorded: type, payload, user, time, correlation and cause",
		Args:  exactArgs(1),
	}
	asJSON := jsonFlag(show)
	show.RunE = func(c *cobra.Command, args []string) error { return a.commandsShow(c, args[0], *asJSON) }
	return group("commands", "Read the commands recorded with the events: the audit trail", show)
}

// parseID parses a stream or command id.
func parseID(what, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, misuse("malformed %s id %q: want a UUID such as 01a208f7-4c9c-7d3e-9a1b-2f5c6d7e8f90", what, s)
	}
	return id, nil
}

// eventJSON is an event as events show and tail print it.
type eventJSON struct {
	StreamID   uuid.UUID       `json:"stream_id"`
	StreamType string          `json:"stream_type"`
	Version    int64           `json:"version"`
	Type       string          `json:"type"`
	ID         uuid.UUID       `json:"id"`
	Time       time.Time       `json:"time"`
	Position   int64           `json:"position"`
	Payload    json.RawMessage `json:"payload"`
	Undecoded  string          `json:"undecoded,omitempty"` // why the payload is shown as stored
	CommandID  uuid.UUID       `json:"command_id"`
	Command    *commandJSON    `json:"command,omitempty"`
}

// commandJSON is a command record as the commands print it.
type commandJSON struct {
	ID            uuid.UUID         `json:"id"`
	Type          string            `json:"type"`
	Time          time.Time         `json:"time"`
	User          string            `json:"user,omitempty"`
	CorrelationID uuid.UUID         `json:"correlation_id"`
	CausationID   *uuid.UUID        `json:"causation_id,omitempty"` // the event that caused it (workflows)
	Metadata      map[string]string `json:"metadata,omitempty"`
	Payload       json.RawMessage   `json:"payload"`
}

func commandOf(c es.CommandRecord) *commandJSON {
	cj := &commandJSON{ID: c.ID, Type: c.Type, Time: c.Time.UTC(), User: c.UserID, CorrelationID: c.CorrelationID,
		Metadata: c.Metadata, Payload: rawJSON(c.Data)}
	if c.CausationID != uuid.Nil {
		cj.CausationID = &c.CausationID
	}
	return cj
}

// rawJSON is stored JSON as one compact value ("null" when empty, a string
// when it is not JSON).
func rawJSON(data []byte) json.RawMessage {
	if len(data) == 0 {
		return json.RawMessage("null")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		s, _ := json.Marshal(string(data))
		return s
	}
	return b.Bytes()
}

// decoded turns a stored event into what the commands print: its payload as
// the application decodes it now (upcast), or as stored when it cannot.
func decoded(reg *es.Registry, rec es.EventRecord) eventJSON {
	ej := eventJSON{StreamID: rec.StreamID, StreamType: rec.StreamType, Version: rec.Version, Type: rec.Type, ID: rec.ID,
		Time: rec.Time.UTC(), Position: rec.Position, CommandID: rec.CommandID, Payload: rawJSON(rec.Data)}
	env, err := reg.Decode(rec)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(env.Event); err == nil {
			ej.Payload = b
		}
	}
	if err != nil {
		ej.Undecoded = err.Error()
	}
	return ej
}

// commands looks up the command records behind events.
func commands(ctx context.Context, store es.EventStore, events []eventJSON) (map[uuid.UUID]*commandJSON, error) {
	ids := map[uuid.UUID]bool{}
	for _, e := range events {
		ids[e.CommandID] = true
	}
	recs, err := store.Commands(ctx, slices.Collect(maps.Keys(ids))...)
	if err != nil {
		return nil, failure("%v", err)
	}
	out := map[uuid.UUID]*commandJSON{}
	for _, c := range recs {
		out[c.ID] = commandOf(c)
	}
	return out, nil
}

// streamJSON is what events show --json prints.
type streamJSON struct {
	StreamID uuid.UUID   `json:"stream_id"`
	Type     string      `json:"type"`
	Version  int64       `json:"version"` // the stream's current version
	AsOf     int64       `json:"as_of,omitempty"`
	Events   []eventJSON `json:"events"`
}

func (a *app) eventsShow(c *cobra.Command, arg string, asOf int64, asJSON bool) error {
	id, err := parseID("stream", arg)
	if err != nil {
		return err
	}
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	info, err := e.store.StreamInfo(ctx, id)
	if errors.Is(err, es.ErrAggregateNotFound) {
		return failure("no stream %s in database %q", id, e.db)
	} else if err != nil {
		return failure("%v", err)
	}
	recs, err := e.store.LoadStream(ctx, id, es.StreamQuery{ToVersion: asOf})
	if err != nil {
		return failure("%v", err)
	}
	st := streamJSON{StreamID: id, Type: info.Type, Version: info.Version, AsOf: asOf, Events: []eventJSON{}}
	for _, r := range recs {
		st.Events = append(st.Events, decoded(e.reg, r))
	}
	cmds, err := commands(ctx, e.store, st.Events)
	if err != nil {
		return err
	}
	for i := range st.Events {
		st.Events[i].Command = cmds[st.Events[i].CommandID]
	}
	w := c.OutOrStdout()
	if asJSON {
		return printJSON(w, st)
	}
	fmt.Fprintf(w, "%s %s, version %d", st.Type, st.StreamID, st.Version)
	if asOf > 0 && asOf < st.Version {
		fmt.Fprintf(w, ", shown as of version %d", asOf)
	}
	fmt.Fprintln(w)
	t := table(w)
	var last uuid.UUID
	for _, ev := range st.Events {
		if ev.CommandID != last || last == uuid.Nil {
			last = ev.CommandID
			fmt.Fprintln(t)
			fmt.Fprintln(t, commandLine(ev))
		}
		fmt.Fprintf(t, "  %d\t%s\t%s\n", ev.Version, ev.Type, payloadText(ev))
	}
	return t.Flush()
}

// commandLine heads the events of one command in events show.
func commandLine(ev eventJSON) string {
	cmd := ev.Command
	if cmd == nil {
		return fmt.Sprintf("%s  command %s (not recorded)", timeText(ev.Time), ev.CommandID)
	}
	line := fmt.Sprintf("%s  %s %s", timeText(cmd.Time), cmd.Type, cmd.ID)
	if cmd.User != "" {
		line += " by " + cmd.User
	}
	if cmd.CausationID != nil {
		line += ", issued by a workflow on event " + cmd.CausationID.String()
	}
	return line + "\n  " + string(cmd.Payload)
}

func payloadText(ev eventJSON) string {
	if ev.Undecoded != "" {
		return string(ev.Payload) + "  (as stored: " + ev.Undecoded + ")"
	}
	return string(ev.Payload)
}

func (a *app) commandsShow(c *cobra.Command, arg string, asJSON bool) error {
	id, err := parseID("command", arg)
	if err != nil {
		return err
	}
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	recs, err := e.store.Commands(ctx, id)
	if err != nil {
		return failure("%v", err)
	}
	if len(recs) == 0 {
		return failure("no command %s in database %q", id, e.db)
	}
	cmd := commandOf(recs[0])
	w := c.OutOrStdout()
	if asJSON {
		return printJSON(w, cmd)
	}
	t := table(w)
	fmt.Fprintf(t, "command\t%s\n", cmd.Type)
	fmt.Fprintf(t, "id\t%s\n", cmd.ID)
	fmt.Fprintf(t, "time\t%s\n", timeText(cmd.Time))
	fmt.Fprintf(t, "user\t%s\n", orDash(cmd.User))
	fmt.Fprintf(t, "correlation\t%s\n", cmd.CorrelationID)
	if cmd.CausationID != nil {
		fmt.Fprintf(t, "caused by\tevent %s (a workflow issued it)\n", cmd.CausationID)
	}
	if len(cmd.Metadata) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(cmd.Metadata)) {
			kv = append(kv, k+"="+cmd.Metadata[k])
		}
		fmt.Fprintf(t, "metadata\t%s\n", strings.Join(kv, ", "))
	}
	fmt.Fprintf(t, "payload\t%s\n", cmd.Payload)
	return t.Flush()
}

// tailTypes resolves --type: an aggregate type (its events) or an event type.
func tailTypes(reg *es.Registry, name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	var aggs []string
	for _, t := range reg.AggregateTypes() {
		if t.Name() == name {
			return t.EventTypes(), nil
		}
		if slices.Contains(t.EventTypes(), name) {
			return []string{name}, nil
		}
		aggs = append(aggs, t.Name())
	}
	return nil, misuse("unknown type %q: give an aggregate type (%s) or one of their event types", name, listOrNone(aggs))
}

// tailPoll bounds the wait between reads of the log while it is quiet.
const (
	tailPollMin = 50 * time.Millisecond
	tailPollMax = time.Second
)

// eventsTail prints the last n events of the log (of the types asked for),
// then every event committed after them, until ctx is done.
func (a *app) eventsTail(c *cobra.Command, typ string, n int, asJSON bool) error {
	ctx := c.Context()
	e, err := a.open(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	types, err := tailTypes(e.reg, typ)
	if err != nil {
		return err
	}
	var (
		cursor es.Cursor
		recent []es.EventRecord // the last n read
	)
	err = e.store.StreamLog(ctx, cursor, types, 0, func(r es.EventRecord) error {
		cursor = r.Cursor()
		if n > 0 {
			if len(recent) == n {
				recent = recent[1:]
			}
			recent = append(recent, r)
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return failure("%v", err)
	}
	p := &tailPrinter{w: c.OutOrStdout(), asJSON: asJSON, enc: json.NewEncoder(c.OutOrStdout())}
	if err := p.print(ctx, e, recent); err != nil {
		return err
	}
	wait := tailPollMin
	for {
		var batch []es.EventRecord
		err := e.store.StreamLog(ctx, cursor, types, 500, func(r es.EventRecord) error {
			batch = append(batch, r)
			return nil
		})
		if ctx.Err() != nil {
			return nil // interrupted: the tail's normal end
		}
		if err != nil {
			return failure("%v", err)
		}
		if len(batch) > 0 {
			cursor, wait = batch[len(batch)-1].Cursor(), tailPollMin
			if err := p.print(ctx, e, batch); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
			wait = min(wait*2, tailPollMax)
		}
	}
}

// tailPrinter writes the events of events tail, one line each.
type tailPrinter struct {
	w      io.Writer
	asJSON bool
	enc    *json.Encoder
}

func (p *tailPrinter) print(ctx context.Context, e *env, recs []es.EventRecord) error {
	if len(recs) == 0 {
		return nil
	}
	events := make([]eventJSON, len(recs))
	for i, r := range recs {
		events[i] = decoded(e.reg, r)
	}
	cmds, err := commands(ctx, e.store, events)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for _, ev := range events {
		ev.Command = cmds[ev.CommandID]
		if p.asJSON {
			if err := p.enc.Encode(ev); err != nil {
				return failure("%v", err)
			}
			continue
		}
		line := fmt.Sprintf("%s  %s %s v%s  %s  %s", timeText(ev.Time), ev.StreamType, ev.StreamID, strconv.FormatInt(ev.Version, 10), ev.Type, payloadText(ev))
		if ev.Command != nil {
			line += "  command " + ev.Command.Type
			if ev.Command.User != "" {
				line += " by " + ev.Command.User
			}
		}
		if _, err := fmt.Fprintln(p.w, line); err != nil {
			return failure("%v", err)
		}
	}
	return nil
}
