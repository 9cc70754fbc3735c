package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/consequent/consequent/es"
)

var _ es.SnapshotStore = (*Store)(nil)

// StreamIDs implements [es.SnapshotStore].
func (s *Store) StreamIDs(ctx context.Context, typ string, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []uuid.UUID
	for id, st := range s.streams {
		if st.typ == typ && bytes.Compare(id[:], after[:]) > 0 {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// SaveSnapshot implements [es.SnapshotStore].
func (s *Store) SaveSnapshot(ctx context.Context, snap es.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[snap.StreamID]
	switch {
	case st == nil:
		return fmt.Errorf("memstore: snapshot of stream %s: %w", snap.StreamID, es.ErrAggregateNotFound)
	case snap.Version < 1 || snap.Version > int64(len(st.events)):
		return fmt.Errorf("memstore: snapshot of stream %s at version %d: the stream has versions 1 to %d", snap.StreamID, snap.Version, len(st.events))
	}
	for _, old := range s.snapshots[snap.StreamID] {
		if old.Schema == snap.Schema && old.Version == snap.Version {
			return nil
		}
	}
	snap.StreamType, snap.Data = "", slices.Clone(snap.Data)
	s.snapshots[snap.StreamID] = append(s.snapshots[snap.StreamID], snap)
	return nil
}

// PruneSnapshots implements [es.SnapshotStore].
func (s *Store) PruneSnapshots(ctx context.Context, typ string, schema, keep int) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, snaps := range s.snapshots {
		if st := s.streams[id]; st == nil || st.typ != typ {
			continue
		}
		// Newest of the schema first; the first keep of them stay.
		slices.SortFunc(snaps, func(a, b es.Snapshot) int {
			if (a.Schema == schema) != (b.Schema == schema) {
				if a.Schema == schema {
					return -1
				}
				return 1
			}
			return cmp.Compare(b.Version, a.Version)
		})
		kept := 0
		for _, snap := range snaps {
			if snap.Schema == schema && kept < keep {
				kept++
			}
		}
		n += int64(len(snaps) - kept)
		s.snapshots[id] = slices.Clip(snaps[:kept])
	}
	return n, nil
}

// SnapshotStats implements [es.SnapshotStore].
func (s *Store) SnapshotStats(ctx context.Context, typ string, schema int) (es.SnapshotStats, error) {
	if err := ctx.Err(); err != nil {
		return es.SnapshotStats{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var st es.SnapshotStats
	for id, stream := range s.streams {
		if stream.typ != typ {
			continue
		}
		version := int64(len(stream.events))
		st.Streams++
		st.Events += version
		var newest int64
		for _, snap := range s.snapshots[id] {
			if snap.Schema != schema {
				st.Other++
				continue
			}
			st.Snapshots++
			newest = max(newest, snap.Version)
		}
		if newest > 0 {
			st.Snapshotted++
		}
		st.Replayed += version - newest
	}
	return st, nil
}
