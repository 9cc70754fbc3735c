package memstore

import (
	"context"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/consequent/consequent/es"
)

var _ es.ScheduleStore = (*Store)(nil)

// Schedule implements [es.ScheduleStore].
func (s *Store) Schedule(ctx context.Context, add []es.ScheduledCommand, cancel []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.schedule(add, cancel)
	return nil
}

// schedule removes the commands scheduled under the keys in cancel, then
// stores add, each replacing the one under its key. s.mu is held.
func (s *Store) schedule(add []es.ScheduledCommand, cancel []string) {
	if len(add) == 0 && len(cancel) == 0 {
		return
	}
	drop := map[string]bool{}
	for _, k := range cancel {
		drop[k] = true
	}
	for _, sc := range add {
		drop[sc.Key] = true
	}
	for id, sc := range s.scheduled {
		if drop[sc.Key] {
			delete(s.scheduled, id)
		}
	}
	for _, sc := range add {
		sc.Due = es.CanonicalTime(sc.Due)
		sc.Data = slices.Clone(sc.Data)
		sc.Metadata = maps.Clone(sc.Metadata)
		sc.Error = ""
		s.scheduled[sc.ID] = sc
	}
}

// Scheduled implements [es.ScheduleStore].
func (s *Store) Scheduled(ctx context.Context, q es.ScheduleQuery) ([]es.ScheduledCommand, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []es.ScheduledCommand
	for _, sc := range s.scheduled {
		if !q.DueBy.IsZero() && (sc.Due.After(q.DueBy) || sc.Error != "") {
			continue
		}
		sc.Data = slices.Clone(sc.Data)
		sc.Metadata = maps.Clone(sc.Metadata)
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b es.ScheduledCommand) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return slices.Compare(a.ID[:], b.ID[:])
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// SetScheduleFailure implements [es.ScheduleStore].
func (s *Store) SetScheduleFailure(ctx context.Context, id uuid.UUID, msg string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.scheduled[id]; ok {
		sc.Error = msg
		s.scheduled[id] = sc
	}
	return nil
}

// Unschedule implements [es.ScheduleStore].
func (s *Store) Unschedule(ctx context.Context, id uuid.UUID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.scheduled, id)
	return nil
}
