package memstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/consequent/consequent/es"
)

var _ es.ProjectionStore = (*Store)(nil)

// ReadPartition implements [es.ProjectionStore].
func (s *Store) ReadPartition(ctx context.Context, after es.Cursor, limit int, part, of int) ([]es.EventRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.log), func(i int) bool { return after.Before(s.log[i].Cursor()) })
	var out []es.EventRecord
	for ; i < len(s.log) && (limit <= 0 || len(out) < limit); i++ {
		if es.PartitionOf(s.log[i].StreamID, of) == part {
			out = append(out, cloneRecord(s.log[i]))
		}
	}
	return out, nil
}

// Projection implements [es.ProjectionStore].
func (s *Store) Projection(ctx context.Context, name string) (es.ProjectionState, error) {
	if err := ctx.Err(); err != nil {
		return es.ProjectionState{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.projs[name]; p != nil {
		return *p, nil
	}
	return es.ProjectionState{Name: name}, nil
}

func (s *Store) projection(name string) *es.ProjectionState {
	p := s.projs[name]
	if p == nil {
		p = &es.ProjectionState{Name: name}
		s.projs[name] = p
	}
	return p
}

// Lease implements [es.ProjectionStore].
func (s *Store) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, now := s.projection(name), time.Now()
	if p.Owner != "" && p.Owner != owner && now.Before(p.LeaseUntil) {
		return false, nil
	}
	p.Owner, p.LeaseUntil = owner, now.Add(ttl)
	return true, nil
}

// Release implements [es.ProjectionStore].
func (s *Store) Release(ctx context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projs[name]; p != nil && p.Owner == owner {
		p.Owner, p.LeaseUntil = "", time.Time{}
	}
	return nil
}

// Advance implements [es.ProjectionStore].
func (s *Store) Advance(ctx context.Context, name, owner string, to es.Cursor, version int, fn func(context.Context, es.Persistor) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := s.views.Begin()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	p := s.projection(name)
	if p.Owner != owner || !time.Now().Before(p.LeaseUntil) {
		return fmt.Errorf("memstore: advance projection %s as %s: %w", name, owner, es.ErrLeaseLost)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	p.Checkpoint, p.Version = to, version
	return nil
}

// SetFailure implements [es.ProjectionStore].
func (s *Store) SetFailure(ctx context.Context, name string, at es.Cursor, msg string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projection(name)
	p.Failed, p.FailedAt, p.Error = msg != "", at, msg
	if msg == "" {
		p.FailedAt = es.Cursor{}
	}
	return nil
}

// Behind implements [es.ProjectionStore].
func (s *Store) Behind(ctx context.Context, after es.Cursor, part, of int) (int64, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.log), func(i int) bool { return after.Before(s.log[i].Cursor()) })
	var n int64
	var oldest time.Time
	for ; i < len(s.log); i++ {
		if es.PartitionOf(s.log[i].StreamID, of) == part {
			if n == 0 {
				oldest = s.log[i].Time
			}
			n++
		}
	}
	return n, oldest, nil
}
