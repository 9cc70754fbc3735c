package estest

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// snapshotCases check the optional [es.SnapshotStore] capability; TestEventStore
// runs them on stores that have it.
func snapshotCases() []storeCase {
	ss := func(run func(context.Context, es.SnapshotStore) error) func(context.Context, es.EventStore) error {
		return func(ctx context.Context, s es.EventStore) error {
			p, ok := s.(es.SnapshotStore)
			if !ok {
				return nil
			}
			return run(ctx, p)
		}
	}
	return []storeCase{
		{"streams of a type", "Streams pages through the streams of one type in id order, after an id, up to a limit", ss(func(ctx context.Context, s es.SnapshotStore) error {
			f := newFixture()
			for _, n := range []uint64{5, 2, 4, 1, 3} {
				if _, err := f.commit(ctx, s, f.stream(ID(n), 0, 1)); err != nil {
					return err
				}
			}
			other := func(cmd es.CommandRecord) es.StreamWrite { return f.write(ID(6), "test.Other", 0, 1, cmd) }
			if _, err := f.commit(ctx, s, other); err != nil {
				return err
			}
			var got []uuid.UUID
			after := uuid.Nil
			for range 4 {
				page, err := s.StreamIDs(ctx, "test.Thing", after, 2)
				if err != nil {
					return err
				}
				if len(page) > 2 {
					return fmt.Errorf("a page of limit 2 holds %d streams", len(page))
				}
				if len(page) == 0 {
					break
				}
				got, after = append(got, page...), page[len(page)-1]
			}
			if want := []uuid.UUID{ID(1), ID(2), ID(3), ID(4), ID(5)}; !slices.Equal(got, want) {
				return fmt.Errorf("streams of test.Thing = %v, want %v", got, want)
			}
			all, err := s.StreamIDs(ctx, "test.Other", uuid.Nil, 0)
			if err != nil {
				return err
			}
			if !slices.Equal(all, []uuid.UUID{ID(6)}) {
				return fmt.Errorf("streams of test.Other (no limit) = %v, want [%v]", all, ID(6))
			}
			return nil
		})},
		{"snapshots saved, counted and pruned", "SaveSnapshot stores a snapshot once, refuses a stream that does not exist and a version past the stream's; SnapshotStats counts streams, events, snapshots of the schema and of others, and the events loads replay; PruneSnapshots keeps each stream's newest of the schema and deletes the rest", ss(func(ctx context.Context, s es.SnapshotStore) error {
			f := newFixture()
			a, b := ID(1), ID(2)
			if _, err := f.commit(ctx, s, f.stream(a, 0, 3), f.stream(b, 0, 2)); err != nil {
				return err
			}
			snap := func(version int64, schema int) es.Snapshot {
				return es.Snapshot{StreamID: a, Version: version, Schema: schema, Data: fmt.Appendf(nil, "state %d/%d", version, schema)}
			}
			for _, sn := range []es.Snapshot{snap(2, 1), snap(3, 1), snap(3, 1), snap(1, 2)} {
				if err := s.SaveSnapshot(ctx, sn); err != nil {
					return fmt.Errorf("SaveSnapshot(version %d, schema %d): %w", sn.Version, sn.Schema, err)
				}
			}
			if err := s.SaveSnapshot(ctx, es.Snapshot{StreamID: ID(99), Version: 1, Schema: 1}); !errors.Is(err, es.ErrAggregateNotFound) {
				return fmt.Errorf("a snapshot of a stream that does not exist: %v, want es.ErrAggregateNotFound", err)
			}
			if err := s.SaveSnapshot(ctx, snap(4, 1)); err == nil {
				return errors.New("a snapshot of version 4 of a stream of 3 events was stored")
			}
			got, err := s.LoadSnapshot(ctx, a, 1, 0)
			if err != nil {
				return err
			}
			if got == nil || got.Version != 3 || string(got.Data) != "state 3/1" || got.StreamType != "test.Thing" {
				return fmt.Errorf("LoadSnapshot after SaveSnapshot = %+v, want version 3 of test.Thing", got)
			}
			stats, err := s.SnapshotStats(ctx, "test.Thing", 1)
			if err != nil {
				return err
			}
			want := es.SnapshotStats{Streams: 2, Events: 5, Snapshotted: 1, Snapshots: 2, Other: 1, Replayed: 2}
			if stats != want {
				return fmt.Errorf("SnapshotStats = %+v, want %+v", stats, want)
			}
			n, err := s.PruneSnapshots(ctx, "test.Other", 1, 0)
			if err != nil || n != 0 {
				return fmt.Errorf("PruneSnapshots of another type = %d, %v: want 0 deleted", n, err)
			}
			if n, err = s.PruneSnapshots(ctx, "test.Thing", 1, 1); err != nil || n != 2 {
				return fmt.Errorf("PruneSnapshots(keep 1) = %d, %v: want 2 deleted (version 2 of schema 1, version 1 of schema 2)", n, err)
			}
			for _, q := range []struct {
				schema int
				max    int64
				want   int64
			}{{1, 0, 3}, {1, 2, 0}, {2, 0, 0}} {
				got, err := s.LoadSnapshot(ctx, a, q.schema, q.max)
				if err != nil {
					return err
				}
				if v := versionOf(got); v != q.want {
					return fmt.Errorf("after pruning, LoadSnapshot(schema %d, max version %d) = version %d, want %d", q.schema, q.max, v, q.want)
				}
			}
			if n, err = s.PruneSnapshots(ctx, "test.Thing", 1, 0); err != nil || n != 1 {
				return fmt.Errorf("PruneSnapshots(keep 0) = %d, %v: want 1 deleted", n, err)
			}
			if stats, err = s.SnapshotStats(ctx, "test.Thing", 1); err != nil {
				return err
			}
			if want := (es.SnapshotStats{Streams: 2, Events: 5, Replayed: 5}); stats != want {
				return fmt.Errorf("SnapshotStats after pruning all = %+v, want %+v", stats, want)
			}
			return nil
		})},
	}
}

func versionOf(s *es.Snapshot) int64 {
	if s == nil {
		return 0
	}
	return s.Version
}
