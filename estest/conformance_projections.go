package estest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consequent/consequent/es"
)

// projectionCases check the optional [es.ProjectionStore] capability; TestEventStore
// runs them on stores that have it.
func projectionCases() []storeCase {
	ps := func(run func(context.Context, es.ProjectionStore) error) func(context.Context, es.EventStore) error {
		return func(ctx context.Context, s es.EventStore) error {
			p, ok := s.(es.ProjectionStore)
			if !ok {
				return nil
			}
			return run(ctx, p)
		}
	}
	return []storeCase{
		{"projection state", "a projection that never ran has the zero state with its name", ps(func(ctx context.Context, s es.ProjectionStore) error {
			st, err := s.Projection(ctx, "never")
			if err != nil {
				return err
			}
			if st != (es.ProjectionState{Name: "never"}) {
				return fmt.Errorf("state = %+v, want the zero state named never", st)
			}
			return nil
		})},
		{"leases", "a lease is given when free, expired or already the owner's, refused while another owner's lasts, and Release frees it (only for its owner)", ps(func(ctx context.Context, s es.ProjectionStore) error {
			lease := func(owner string, ttl time.Duration, want bool) error {
				got, err := s.Lease(ctx, "p", owner, ttl)
				if err != nil {
					return err
				}
				if got != want {
					return fmt.Errorf("Lease(%s) = %v, want %v", owner, got, want)
				}
				return nil
			}
			if err := errors.Join(lease("a", time.Minute, true), lease("b", time.Minute, false), lease("a", 300*time.Millisecond, true)); err != nil {
				return err
			}
			st, err := s.Projection(ctx, "p")
			if err != nil {
				return err
			}
			if st.Owner != "a" || st.LeaseUntil.IsZero() {
				return fmt.Errorf("state = %+v, want owner a with a lease time", st)
			}
			time.Sleep(400 * time.Millisecond)
			if err := lease("b", time.Minute, true); err != nil {
				return fmt.Errorf("after a's lease expired: %w", err)
			}
			if err := s.Release(ctx, "p", "a"); err != nil {
				return err
			}
			if err := lease("a", time.Minute, false); err != nil {
				return fmt.Errorf("a released a lease it no longer held: %w", err)
			}
			if err := s.Release(ctx, "p", "b"); err != nil {
				return err
			}
			return lease("a", time.Minute, true)
		})},
		{"advance", "Advance commits fn's view writes with the checkpoint and version; an error from fn, or a lease not held, writes nothing (ErrLeaseLost)", ps(func(ctx context.Context, s es.ProjectionStore) error {
			if err := s.Views().CreateTables(ctx, viewTable.Def()); err != nil {
				return err
			}
			insert := func(n uint64) func(context.Context, es.Persistor) error {
				return func(ctx context.Context, v es.Persistor) error {
					return viewTable.Insert(ctx, v, viewRow{ID: ID(n), Name: "x"})
				}
			}
			if _, err := s.Lease(ctx, "p", "me", time.Minute); err != nil {
				return err
			}
			to := es.Cursor{TxID: 7, Position: 3}
			if err := s.Advance(ctx, "p", "me", to, 2, insert(1)); err != nil {
				return err
			}
			st, err := s.Projection(ctx, "p")
			if err != nil {
				return err
			}
			if st.Checkpoint != to || st.Version != 2 {
				return fmt.Errorf("state = %+v, want checkpoint %v and version 2", st, to)
			}
			boom := errors.New("boom")
			err = s.Advance(ctx, "p", "me", es.Cursor{TxID: 8, Position: 4}, 2, func(ctx context.Context, v es.Persistor) error {
				if err := insert(2)(ctx, v); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				return fmt.Errorf("Advance with a failing fn returned %v, want its error", err)
			}
			if err := s.Advance(ctx, "p", "intruder", es.Cursor{TxID: 9, Position: 5}, 2, insert(3)); !errors.Is(err, es.ErrLeaseLost) {
				return fmt.Errorf("Advance without the lease returned %v, want ErrLeaseLost", err)
			}
			rows, err := viewTable.Find(ctx, s.Views(), nil)
			if err != nil {
				return err
			}
			if len(rows) != 1 || rows[0].ID != ID(1) {
				return fmt.Errorf("rows = %d, want only the first Advance's", len(rows))
			}
			if st, _ := s.Projection(ctx, "p"); st.Checkpoint != to {
				return fmt.Errorf("checkpoint moved to %v by a failed Advance", st.Checkpoint)
			}
			return nil
		})},
		{"failures", "SetFailure stops a projection at an event with a message; an empty message clears it", ps(func(ctx context.Context, s es.ProjectionStore) error {
			at := es.Cursor{TxID: 5, Position: 9}
			if err := s.SetFailure(ctx, "p", at, "disk full"); err != nil {
				return err
			}
			st, err := s.Projection(ctx, "p")
			if err != nil {
				return err
			}
			if !st.Failed || st.FailedAt != at || st.Error != "disk full" {
				return fmt.Errorf("state = %+v, want failed at %v with the message", st, at)
			}
			if err := s.SetFailure(ctx, "p", es.Cursor{}, ""); err != nil {
				return err
			}
			if st, _ := s.Projection(ctx, "p"); st.Failed || st.Error != "" {
				return fmt.Errorf("state after clearing = %+v", st)
			}
			return nil
		})},
		{"partitions", "ReadPartition returns the log of the streams whose id's last byte modulo of is part; the partitions together are the log; Behind counts what follows a cursor", ps(func(ctx context.Context, s es.ProjectionStore) error {
			f := newFixture()
			for i := range 6 {
				if _, err := f.commit(ctx, s, f.stream(ID(uint64(i+1)), 0, 2)); err != nil {
					return err
				}
			}
			all, err := readLogUntil(ctx, s, 12)
			if err != nil {
				return err
			}
			seen := 0
			for part := range 3 {
				got, err := s.ReadPartition(ctx, es.Cursor{}, 0, part, 3)
				if err != nil {
					return err
				}
				for i, e := range got {
					if es.PartitionOf(e.StreamID, 3) != part {
						return fmt.Errorf("partition %d/3 holds stream %s", part, e.StreamID)
					}
					if i > 0 && !got[i-1].Cursor().Before(e.Cursor()) {
						return fmt.Errorf("partition %d/3 is out of log order", part)
					}
				}
				seen += len(got)
				n, oldest, err := s.Behind(ctx, es.Cursor{}, part, 3)
				if err != nil {
					return err
				}
				if n != int64(len(got)) || (n > 0 && !oldest.Equal(got[0].Time)) {
					return fmt.Errorf("Behind(partition %d/3) = %d, %v; want %d, %v", part, n, oldest, len(got), got[0].Time)
				}
			}
			if seen != len(all) {
				return fmt.Errorf("the partitions hold %d events, the log %d", seen, len(all))
			}
			limited, err := s.ReadPartition(ctx, all[0].Cursor(), 3, 0, 1)
			if err != nil {
				return err
			}
			if len(limited) != 3 || limited[0].ID != all[1].ID {
				return fmt.Errorf("ReadPartition(after the first, limit 3, 0/1) = %d events, want events 2 to 4", len(limited))
			}
			n, _, err := s.Behind(ctx, all[11].Cursor(), 0, 1)
			if err != nil || n != 0 {
				return fmt.Errorf("Behind the last event = %d, %v; want 0", n, err)
			}
			return nil
		})},
	}
}
