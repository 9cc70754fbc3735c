package estest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/consequent/consequent/es"
)

// reactionCases check what durable workflows and scheduled commands need of a
// store: a command id is stored once ([es.ErrDuplicateCommand]), and the
// optional [es.ScheduleStore] capability.
func reactionCases() []storeCase {
	ss := func(run func(context.Context, es.ScheduleStore) error) func(context.Context, es.EventStore) error {
		return func(ctx context.Context, s es.EventStore) error {
			p, ok := s.(es.ScheduleStore)
			if !ok {
				return nil
			}
			return run(ctx, p)
		}
	}
	return []storeCase{
		{"duplicate command", "a commit whose command id is stored already fails with ErrDuplicateCommand and writes nothing", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			c, err := f.commit(ctx, s, f.stream(ID(1), 0, 1))
			if err != nil {
				return err
			}
			again := &es.Commit{Command: c.Command, Streams: []es.StreamWrite{f.write(ID(2), "test.Thing", 0, 1, c.Command)}}
			if err := s.Commit(ctx, again, nil); !errors.Is(err, es.ErrDuplicateCommand) {
				return fmt.Errorf("the second commit of command %s returned %v, want ErrDuplicateCommand", c.Command.ID, err)
			}
			recs, err := s.LoadStream(ctx, ID(2), es.StreamQuery{})
			if err != nil {
				return err
			}
			if len(recs) != 0 {
				return errors.New("the refused commit's events are stored")
			}
			return nil
		}},
		{"scheduled commands in commits", "a commit stores Schedule (replacing by key) and applies Cancel first, in its transaction; a failed commit changes nothing; a commit of a scheduled command removes its schedule", ss(func(ctx context.Context, s es.ScheduleStore) error {
			f := newFixture()
			a, b := scheduled(1, "a", f.at.Add(2*time.Hour)), scheduled(2, "b", f.at.Add(time.Hour))
			c := &es.Commit{Command: f.command(), Schedule: []es.ScheduledCommand{a, b}}
			c.Streams = []es.StreamWrite{f.write(ID(1), "test.Thing", 0, 1, c.Command)}
			if err := s.Commit(ctx, c, nil); err != nil {
				return err
			}
			if err := sameSchedule(ctx, s, b, a); err != nil {
				return fmt.Errorf("after the first commit: %w", err)
			}
			b2 := scheduled(3, "b", f.at.Add(3*time.Hour))
			c = &es.Commit{Command: f.command(), Schedule: []es.ScheduledCommand{b2}, Cancel: []string{"a"}}
			if err := s.Commit(ctx, c, nil); err != nil {
				return err
			}
			if err := sameSchedule(ctx, s, b2); err != nil {
				return fmt.Errorf("after replacing b and cancelling a: %w", err)
			}
			stale := &es.Commit{Command: f.command(), Schedule: []es.ScheduledCommand{scheduled(4, "d", f.at)}, Cancel: []string{"b"}}
			stale.Streams = []es.StreamWrite{f.write(ID(1), "test.Thing", 0, 1, stale.Command)}
			if err := s.Commit(ctx, stale, nil); !errors.Is(err, es.ErrConcurrencyConflict) {
				return fmt.Errorf("a stale commit returned %v, want ErrConcurrencyConflict", err)
			}
			if err := sameSchedule(ctx, s, b2); err != nil {
				return fmt.Errorf("after a failed commit: %w", err)
			}
			ran := &es.Commit{Command: f.command(), Scheduled: true}
			ran.Command.ID = b2.ID
			if err := s.Commit(ctx, ran, func(context.Context, es.Persistor) error { return nil }); err != nil {
				return err
			}
			return sameSchedule(ctx, s)
		})},
		{"scheduled commands", "Scheduled lists in due order, DueBy selects the due ones that are not parked, Limit bounds; SetScheduleFailure parks and clears; Schedule and Unschedule work outside commits", ss(func(ctx context.Context, s es.ScheduleStore) error {
			at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			x, y, z := scheduled(1, "x", at), scheduled(2, "y", at.Add(time.Minute)), scheduled(3, "z", at.Add(time.Hour))
			if err := s.Schedule(ctx, []es.ScheduledCommand{z, y, x}, nil); err != nil {
				return err
			}
			due, err := s.Scheduled(ctx, es.ScheduleQuery{DueBy: at.Add(time.Minute)})
			if err != nil {
				return err
			}
			if len(due) != 2 || due[0].ID != x.ID || due[1].ID != y.ID {
				return fmt.Errorf("due by %v: %d commands, want x and y", at.Add(time.Minute), len(due))
			}
			if due, _ := s.Scheduled(ctx, es.ScheduleQuery{Limit: 1}); len(due) != 1 || due[0].ID != x.ID {
				return errors.New("Limit 1 did not return the first due")
			}
			if err := s.SetScheduleFailure(ctx, x.ID, "boom"); err != nil {
				return err
			}
			if due, _ := s.Scheduled(ctx, es.ScheduleQuery{DueBy: at}); len(due) != 0 {
				return errors.New("a parked command is due")
			}
			parked := x
			parked.Error = "boom"
			if err := sameSchedule(ctx, s, parked, y, z); err != nil {
				return fmt.Errorf("with x parked: %w", err)
			}
			if err := s.SetScheduleFailure(ctx, x.ID, ""); err != nil {
				return err
			}
			if err := s.Unschedule(ctx, y.ID); err != nil {
				return err
			}
			if err := s.Unschedule(ctx, y.ID); err != nil {
				return fmt.Errorf("unscheduling twice: %w", err)
			}
			z2 := scheduled(4, "z", at.Add(2*time.Hour))
			if err := s.Schedule(ctx, []es.ScheduledCommand{z2}, []string{"x"}); err != nil {
				return err
			}
			return sameSchedule(ctx, s, z2)
		})},
	}
}

// scheduled is a scheduled command of the conformance cases.
func scheduled(n uint64, key string, due time.Time) es.ScheduledCommand {
	return es.ScheduledCommand{ID: ID(2000 + n), Key: key, Due: due.UTC(), Type: "test.Later", Data: fmt.Appendf(nil, `{"n": %d}`, n),
		UserID: "u1", CorrelationID: ID(3000 + n), CausationID: ID(4000 + n), Metadata: map[string]string{"k": key}}
}

// sameSchedule checks that s holds exactly want, in order.
func sameSchedule(ctx context.Context, s es.ScheduleStore, want ...es.ScheduledCommand) error {
	got, err := s.Scheduled(ctx, es.ScheduleQuery{})
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("%d commands scheduled, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Key != w.Key || !g.Due.Equal(es.CanonicalTime(w.Due)) || g.Due.Location() != time.UTC || g.Type != w.Type ||
			!jsonEqual(g.Data, w.Data) || g.UserID != w.UserID || g.CorrelationID != w.CorrelationID ||
			g.CausationID != w.CausationID || !reflect.DeepEqual(g.Metadata, w.Metadata) || g.Error != w.Error {
			return fmt.Errorf("scheduled command %d = %+v (data %s), want %+v (data %s)", i+1, g, g.Data, w, w.Data)
		}
	}
	return nil
}
