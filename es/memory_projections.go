package es

import (
	"context"
	"fmt"
	"sort"
	"time"
)

var _ ProjectionStore = (*MemoryStore)(nil)

// ReadPartition implements [ProjectionStore].
func (s *MemoryStore) ReadPartition(ctx context.Context, after Cursor, limit int, part, of int) ([]EventRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.log), func(i int) bool { return after.Before(s.log[i].Cursor()) })
	var out []EventRecord
	for ; i < len(s.log) && (limit <= 0 || len(out) < limit); i++ {
		if PartitionOf(s.log[i].StreamID, of) == part {
			out = append(out, cloneRecord(s.log[i]))
		}
	}
	return out, nil
}

// Projection implements [ProjectionStore].
func (s *MemoryStore) Projection(ctx context.Context, name string) (ProjectionState, error) {
	if err := ctx.Err(); err != nil {
		return ProjectionState{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.projs[name]; p != nil {
		return *p, nil
	}
	return ProjectionState{Name: name}, nil
}

func (s *MemoryStore) projection(name string) *ProjectionState {
	p := s.projs[name]
	if p == nil {
		p = &ProjectionState{Name: name}
		s.projs[name] = p
	}
	return p
}

// Lease implements [ProjectionStore].
func (s *MemoryStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
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

// Release implements [ProjectionStore].
func (s *MemoryStore) Release(ctx context.Context, name, owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projs[name]; p != nil && p.Owner == owner {
		p.Owner, p.LeaseUntil = "", time.Time{}
	}
	return nil
}

// Advance implements [ProjectionStore].
func (s *MemoryStore) Advance(ctx context.Context, name, owner string, to Cursor, version int, fn func(context.Context, Persistor) error) error {
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
		return fmt.Errorf("es: advance projection %s as %s: %w", name, owner, ErrLeaseLost)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	p.Checkpoint, p.Version = to, version
	return nil
}

// SetFailure implements [ProjectionStore].
func (s *MemoryStore) SetFailure(ctx context.Context, name string, at Cursor, msg string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projection(name)
	p.Failed, p.FailedAt, p.Error = msg != "", at, msg
	if msg == "" {
		p.FailedAt = Cursor{}
	}
	return nil
}

// Behind implements [ProjectionStore].
func (s *MemoryStore) Behind(ctx context.Context, after Cursor, part, of int) (int64, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.log), func(i int) bool { return after.Before(s.log[i].Cursor()) })
	var n int64
	var oldest time.Time
	for ; i < len(s.log); i++ {
		if PartitionOf(s.log[i].StreamID, of) == part {
			if n == 0 {
				oldest = s.log[i].Time
			}
			n++
		}
	}
	return n, oldest, nil
}
