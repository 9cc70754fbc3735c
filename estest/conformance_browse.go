package estest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// browseCases check the optional [es.BrowseStore] capability; TestEventStore
// runs them on stores that have it.
func browseCases() []storeCase {
	bs := func(run func(context.Context, es.BrowseStore) error) func(context.Context, es.EventStore) error {
		return func(ctx context.Context, s es.EventStore) error {
			b, ok := s.(es.BrowseStore)
			if !ok {
				return nil
			}
			return run(ctx, b)
		}
	}
	return []storeCase{
		{"browse streams", "Streams lists streams by the place of their last event, newest first, with type, version, last cursor and time; filters by type; pages by Before and Limit; leaves deleted streams out", bs(func(ctx context.Context, s es.BrowseStore) error {
			f := newFixture()
			a, b, c, d := ID(1), ID(2), ID(3), ID(4)
			other := func(id uuid.UUID, expected int64, n int) func(es.CommandRecord) es.StreamWrite {
				return func(cmd es.CommandRecord) es.StreamWrite { return f.write(id, "test.Other", expected, n, cmd) }
			}
			if _, err := f.commit(ctx, s, f.stream(a, 0, 2), f.stream(b, 0, 1)); err != nil {
				return err
			}
			if _, err := f.commit(ctx, s, other(c, 0, 1)); err != nil {
				return err
			}
			if _, err := f.commit(ctx, s, f.stream(d, 0, 1)); err != nil {
				return err
			}
			last, err := f.commit(ctx, s, f.stream(a, 2, 1))
			if err != nil {
				return err
			}
			if err := s.DeleteStream(ctx, d); err != nil {
				return err
			}
			all, err := s.Streams(ctx, es.StreamsQuery{})
			if err != nil {
				return err
			}
			if err := sameStreams(all, a, c, b); err != nil {
				return fmt.Errorf("every stream: %w", err)
			}
			want := last.Streams[0].Events[0]
			if got := all[0]; got.Type != "test.Thing" || got.Version != 3 || got.Last != want.Cursor() ||
				!got.Updated.Equal(want.Time.UTC().Truncate(time.Microsecond)) || got.Updated.Location() != time.UTC {
				return fmt.Errorf("stream %s = %+v, want type test.Thing, version 3, last %v at %v (UTC)", a, got, want.Cursor(), want.Time)
			}
			typed, err := s.Streams(ctx, es.StreamsQuery{Type: "test.Other"})
			if err != nil {
				return err
			}
			if err := sameStreams(typed, c); err != nil {
				return fmt.Errorf("type test.Other: %w", err)
			}
			page, err := s.Streams(ctx, es.StreamsQuery{Limit: 1})
			if err != nil {
				return err
			}
			if err := sameStreams(page, a); err != nil {
				return fmt.Errorf("first page of 1: %w", err)
			}
			next, err := s.Streams(ctx, es.StreamsQuery{Before: page[0].Last, Limit: 5})
			if err != nil {
				return err
			}
			if err := sameStreams(next, c, b); err != nil {
				return fmt.Errorf("after the first page: %w", err)
			}
			typedNext, err := s.Streams(ctx, es.StreamsQuery{Type: "test.Thing", Before: page[0].Last})
			if err != nil {
				return err
			}
			return sameStreams(typedNext, b)
		})},
		{"browse log", "Log returns the log newest first, pages by Before and Limit and back by After, and filters by event types and an inclusive time range", bs(func(ctx context.Context, s es.BrowseStore) error {
			f := newFixture()
			for i := range 4 { // streams 1 and 2, versions 1 and 2, alternating
				if _, err := f.commit(ctx, s, f.stream(ID(uint64(i%2+1)), int64(i/2), 1)); err != nil {
					return err
				}
			}
			if _, err := f.commit(ctx, s, func(cmd es.CommandRecord) es.StreamWrite {
				w := f.write(ID(3), "test.Thing", 0, 1, cmd)
				w.Events[0].Type = "test.Other"
				return w
			}); err != nil {
				return err
			}
			log, err := readLogUntil(ctx, s, 5)
			if err != nil {
				return err
			}
			newest := slices.Clone(log)
			slices.Reverse(newest)
			all, err := s.Log(ctx, es.LogQuery{})
			if err != nil {
				return err
			}
			if err := sameEvents(all, newest...); err != nil {
				return fmt.Errorf("the whole log: %w", err)
			}
			for i := range all {
				if err := sameRecord(all[i], newest[i]); err != nil {
					return fmt.Errorf("event %d of the log: %w", i+1, err)
				}
			}
			page, err := s.Log(ctx, es.LogQuery{Before: newest[1].Cursor(), Limit: 2})
			if err != nil {
				return err
			}
			if err := sameEvents(page, newest[2], newest[3]); err != nil {
				return fmt.Errorf("2 before the second newest: %w", err)
			}
			back, err := s.Log(ctx, es.LogQuery{After: newest[3].Cursor(), Limit: 2})
			if err != nil {
				return err
			}
			if err := sameEvents(back, newest[1], newest[2]); err != nil {
				return fmt.Errorf("2 after the fourth newest: %w", err)
			}
			between, err := s.Log(ctx, es.LogQuery{After: newest[4].Cursor(), Before: newest[1].Cursor()})
			if err != nil {
				return err
			}
			if err := sameEvents(between, newest[2], newest[3]); err != nil {
				return fmt.Errorf("between the fifth and the second newest: %w", err)
			}
			typed, err := s.Log(ctx, es.LogQuery{Types: []string{"test.Other"}})
			if err != nil {
				return err
			}
			if err := sameEvents(typed, newest[0]); err != nil {
				return fmt.Errorf("type test.Other: %w", err)
			}
			typedPage, err := s.Log(ctx, es.LogQuery{Types: []string{"test.Happened", "test.Other"}, Before: newest[0].Cursor(), Limit: 1})
			if err != nil {
				return err
			}
			if err := sameEvents(typedPage, newest[1]); err != nil {
				return fmt.Errorf("two types, before the newest: %w", err)
			}
			// The fixture records version v at f.at + v seconds: versions 2 are the
			// events of the second and fourth commits.
			v2 := f.at.Add(2 * time.Second)
			timed, err := s.Log(ctx, es.LogQuery{Since: v2, Until: v2})
			if err != nil {
				return err
			}
			if err := sameEvents(timed, log[3], log[2]); err != nil {
				return fmt.Errorf("recorded at %v: %w", v2, err)
			}
			early, err := s.Log(ctx, es.LogQuery{Until: v2.Add(-time.Microsecond), Types: []string{"test.Happened"}})
			if err != nil {
				return err
			}
			return sameEvents(early, log[1], log[0])
		})},
		{"browse commands", "FindCommands returns command records newest first by (Time, ID), with every field, filtered by user, correlation, causing events and an inclusive time range, paged by Before and Limit", bs(func(ctx context.Context, s es.BrowseStore) error {
			f := newFixture()
			flow, cause := ID(900), ID(901)
			var cmds []es.CommandRecord
			for i := range 5 {
				cmd := f.command()
				cmd.Time = f.at.Add(time.Duration(i/2) * time.Minute) // 0, 0, 1, 1, 2 minutes: ties broken by id
				if i%2 == 1 {
					cmd.UserID = "u2"
				}
				if i >= 2 {
					cmd.CorrelationID = flow
				}
				if i == 3 {
					cmd.CausationID = cause
				}
				if err := s.Commit(ctx, &es.Commit{Command: cmd, Streams: []es.StreamWrite{f.write(ID(uint64(i+1)), "test.Thing", 0, 1, cmd)}}, nil); err != nil {
					return err
				}
				cmds = append(cmds, cmd)
			}
			newest := []es.CommandRecord{cmds[4], cmds[3], cmds[2], cmds[1], cmds[0]} // fixture ids increase
			all, err := s.FindCommands(ctx, es.CommandQuery{})
			if err != nil {
				return err
			}
			if err := sameCommands(all, newest...); err != nil {
				return fmt.Errorf("every command: %w", err)
			}
			for i := range all {
				if err := sameCommand(all[i], newest[i]); err != nil {
					return fmt.Errorf("command %d: %w", i+1, err)
				}
			}
			checks := []struct {
				what string
				q    es.CommandQuery
				want []es.CommandRecord
			}{
				{"of user u2", es.CommandQuery{UserID: "u2"}, []es.CommandRecord{cmds[3], cmds[1]}},
				{"of the flow", es.CommandQuery{CorrelationID: flow}, []es.CommandRecord{cmds[4], cmds[3], cmds[2]}},
				{"caused by the event", es.CommandQuery{CausedBy: []uuid.UUID{ID(5), cause}}, []es.CommandRecord{cmds[3]}},
				{"in the first minute", es.CommandQuery{Since: f.at, Until: f.at.Add(59 * time.Second)}, []es.CommandRecord{cmds[1], cmds[0]}},
				{"from the second minute", es.CommandQuery{Since: f.at.Add(time.Minute)}, []es.CommandRecord{cmds[4], cmds[3], cmds[2]}},
				{"2 after the newest", es.CommandQuery{Before: es.CursorOf(all[0]), Limit: 2}, []es.CommandRecord{cmds[3], cmds[2]}},
				{"after a tie", es.CommandQuery{Before: es.CursorOf(cmds[3])}, []es.CommandRecord{cmds[2], cmds[1], cmds[0]}},
				{"of user u1 in the flow after the newest", es.CommandQuery{UserID: "u1", CorrelationID: flow, Before: es.CursorOf(cmds[4])}, []es.CommandRecord{cmds[2]}},
				{"of an unknown user", es.CommandQuery{UserID: "nobody"}, nil},
			}
			for _, c := range checks {
				got, err := s.FindCommands(ctx, c.q)
				if err != nil {
					return fmt.Errorf("%s: %w", c.what, err)
				}
				if err := sameCommands(got, c.want...); err != nil {
					return fmt.Errorf("%s: %w", c.what, err)
				}
			}
			return nil
		})},
		{"browse command events", "CommandEvents returns every event a command's commit recorded, across streams, in log order with every field; none for an unknown command; those of a deleted stream are gone", bs(func(ctx context.Context, s es.BrowseStore) error {
			f := newFixture()
			if _, err := f.commit(ctx, s, f.stream(ID(1), 0, 1)); err != nil {
				return err
			}
			c, err := f.commit(ctx, s, f.stream(ID(2), 0, 2), f.stream(ID(1), 1, 1))
			if err != nil {
				return err
			}
			if _, err := f.commit(ctx, s, f.stream(ID(2), 2, 1)); err != nil {
				return err
			}
			got, err := s.CommandEvents(ctx, c.Command.ID)
			if err != nil {
				return err
			}
			want := slices.Concat(c.Streams[0].Events, c.Streams[1].Events)
			if err := sameEvents(got, want...); err != nil {
				return err
			}
			for i := range got {
				if err := sameRecord(got[i], want[i]); err != nil {
					return fmt.Errorf("event %d: %w", i+1, err)
				}
			}
			none, err := s.CommandEvents(ctx, ID(999))
			if err != nil {
				return err
			}
			if len(none) != 0 {
				return fmt.Errorf("an unknown command: got %d events, want none", len(none))
			}
			if err := s.DeleteStream(ctx, ID(2)); err != nil {
				return err
			}
			left, err := s.CommandEvents(ctx, c.Command.ID)
			if err != nil {
				return err
			}
			return sameEvents(left, c.Streams[1].Events...)
		})},
	}
}

// sameStreams checks the ids of a listing of streams, in order.
func sameStreams(got []es.StreamSummary, want ...uuid.UUID) error {
	ids := make([]uuid.UUID, len(got))
	for i, s := range got {
		ids[i] = s.ID
	}
	if !slices.Equal(ids, want) {
		return fmt.Errorf("got streams %v, want %v", ids, want)
	}
	return nil
}

// sameEvents checks the ids of events, in order.
func sameEvents(got []es.EventRecord, want ...es.EventRecord) error {
	if !slices.EqualFunc(got, want, func(a, b es.EventRecord) bool { return a.ID == b.ID }) {
		return fmt.Errorf("got events %s, want %s", eventNames(got), eventNames(want))
	}
	return nil
}

func eventNames(recs []es.EventRecord) string {
	out := "["
	for i, r := range recs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%s v%d", r.StreamID, r.Version)
	}
	return out + "]"
}

// sameCommands checks the ids of command records, in order.
func sameCommands(got []es.CommandRecord, want ...es.CommandRecord) error {
	if !slices.EqualFunc(got, want, func(a, b es.CommandRecord) bool { return a.ID == b.ID }) {
		ids := func(cs []es.CommandRecord) []uuid.UUID {
			out := make([]uuid.UUID, len(cs))
			for i, c := range cs {
				out[i] = c.ID
			}
			return out
		}
		return fmt.Errorf("got commands %v, want %v", ids(got), ids(want))
	}
	return nil
}
