package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/consequent/consequent/es"
)

var _ es.ReadModelStore = (*Store)(nil)

// shadowName names the shadow of table while its projector is rebuilt.
func shadowName(table string) string { return table + "__rebuild" }

// StreamLog implements [es.ReadModelStore]. The events are collected under the
// store's lock and handed to fn after it, so fn may use the store.
func (s *Store) StreamLog(ctx context.Context, after es.Cursor, types []string, limit int, fn func(es.EventRecord) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	recs := s.logAfter(after, types, limit)
	s.mu.RUnlock()
	for _, rec := range recs {
		if err := fn(rec); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// logAfter returns copies of the events after the cursor of the given types;
// the caller holds s.mu.
func (s *Store) logAfter(after es.Cursor, types []string, limit int) []es.EventRecord {
	i := sort.Search(len(s.log), func(i int) bool { return after.Before(s.log[i].Cursor()) })
	var out []es.EventRecord
	for ; i < len(s.log) && (limit <= 0 || len(out) < limit); i++ {
		if len(types) == 0 || slices.Contains(types, s.log[i].Type) {
			out = append(out, cloneRecord(s.log[i]))
		}
	}
	return out
}

// CountLog implements [es.ReadModelStore].
// The memory store has no watermark: committed or not, the count is the same.
func (s *Store) CountLog(ctx context.Context, after es.Cursor, types []string, _ bool) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.log), func(i int) bool { return after.Before(s.log[i].Cursor()) })
	var n int64
	for ; i < len(s.log); i++ {
		if len(types) == 0 || slices.Contains(types, s.log[i].Type) {
			n++
		}
	}
	return n, nil
}

// ClaimVersion implements [es.ReadModelStore].
func (s *Store) ClaimVersion(ctx context.Context, name string, version int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projection(name)
	if p.Version == 0 {
		p.Version = version
	}
	return p.Version, nil
}

// Rebuild implements [es.ReadModelStore].
func (s *Store) Rebuild(ctx context.Context, name string) (es.RebuildState, bool, error) {
	if err := ctx.Err(); err != nil {
		return es.RebuildState{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.rebuilds[name]; r != nil {
		return *r, true, nil
	}
	return es.RebuildState{}, false, nil
}

// OpenRebuild implements [es.ReadModelStore]: the shadow tables are tables of
// the store's views named <table>__rebuild until the swap.
func (s *Store) OpenRebuild(ctx context.Context, spec es.RebuildSpec) (es.RebuildSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fence(spec); err != nil {
		return nil, err
	}
	r := &rebuildSession{s: s, spec: spec}
	if st := s.rebuilds[spec.Projector]; st != nil && st.Version == spec.Version && s.hasShadows(spec) {
		r.resumed = st.RebuildMark
		return r, nil
	}
	s.views.mu.Lock()
	for _, d := range spec.Tables {
		sh := d
		sh.Name = shadowName(d.Name)
		s.views.tables[sh.Name] = &memTable{def: sh, rows: map[string]es.Row{}}
	}
	s.views.mu.Unlock()
	now := time.Now()
	s.rebuilds[spec.Projector] = &es.RebuildState{Projector: spec.Projector, Version: spec.Version, Started: now, Updated: now}
	return r, nil
}

// hasShadows reports whether the shadow tables of spec exist with its columns;
// the caller holds s.mu.
func (s *Store) hasShadows(spec es.RebuildSpec) bool {
	s.views.mu.RLock()
	defer s.views.mu.RUnlock()
	for _, d := range spec.Tables {
		t, ok := s.views.tables[shadowName(d.Name)]
		if !ok || !sameColumns(t.def, d) {
			return false
		}
	}
	return true
}

// fence checks that spec's owner holds its lease; the caller holds s.mu.
func (s *Store) fence(spec es.RebuildSpec) error {
	p := s.projs[spec.Lease]
	if p == nil || p.Owner != spec.Owner || !time.Now().Before(p.LeaseUntil) {
		return fmt.Errorf("memstore: rebuild %s as %s: %w", spec.Projector, spec.Owner, es.ErrLeaseLost)
	}
	return nil
}

// rebuildSession implements [es.RebuildSession].
type rebuildSession struct {
	s       *Store
	spec    es.RebuildSpec
	resumed es.RebuildMark
}

func (r *rebuildSession) Resumed() es.RebuildMark { return r.resumed }

func (r *rebuildSession) Rows(ctx context.Context, table string, fn func(es.Row) error) error {
	rows, err := r.s.views.Find(ctx, shadowName(table), nil)
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

func (r *rebuildSession) Write(ctx context.Context, changes []es.RowChange, mark es.RebuildMark) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if err := r.s.fence(r.spec); err != nil {
		return err
	}
	if err := r.apply(changes); err != nil {
		return err
	}
	if st := r.s.rebuilds[r.spec.Projector]; st != nil {
		st.RebuildMark, st.Updated, st.Error = mark, time.Now(), ""
	}
	return nil
}

// apply writes changes to the shadow tables; the caller holds r.s.mu.
func (r *rebuildSession) apply(changes []es.RowChange) error {
	v := r.s.views
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range changes {
		t, ok := v.tables[shadowName(c.Table)]
		if !ok {
			return fmt.Errorf("memstore: rebuild %s: no shadow table for %s", r.spec.Projector, c.Table)
		}
		k := t.def.KeyString(c.Key)
		if c.Row == nil {
			delete(t.rows, k)
			continue
		}
		t.rows[k] = copyRow(c.Row)
	}
	return nil
}

// Index implements [es.RebuildSession]: maps need no indexes.
func (r *rebuildSession) Index(ctx context.Context) error { return ctx.Err() }

func (r *rebuildSession) Swap(ctx context.Context, types []string, mark es.RebuildMark, catchUp func(context.Context, []es.EventRecord) ([]es.RowChange, error)) (es.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return es.Cursor{}, err
	}
	s := r.s
	s.mu.Lock() // commits wait: the memory store has no watermark, every event is committed
	defer s.mu.Unlock()
	if err := s.fence(r.spec); err != nil {
		return es.Cursor{}, err
	}
	recs := s.logAfter(mark.Cursor, types, 0)
	changes, err := catchUp(ctx, recs)
	if err != nil {
		return es.Cursor{}, err
	}
	if err := r.apply(changes); err != nil {
		return es.Cursor{}, err
	}
	to := mark.Cursor
	if len(recs) > 0 {
		to = recs[len(recs)-1].Cursor()
	}
	s.views.mu.Lock()
	for _, d := range r.spec.Tables {
		t := s.views.tables[shadowName(d.Name)]
		delete(s.views.tables, shadowName(d.Name))
		t.def = d
		s.views.tables[d.Name] = t
	}
	s.views.mu.Unlock()
	if len(r.spec.Partitions) == 0 {
		p := s.projection(r.spec.Projector)
		p.Version, p.Skipped, p.SkippedAt = r.spec.Version, 0, time.Time{}
	}
	for _, name := range r.spec.Partitions {
		p := s.projection(name)
		p.Checkpoint, p.Version = to, r.spec.Version
		p.Failed, p.FailedAt, p.Error = false, es.Cursor{}, ""
		p.Owner, p.LeaseUntil = "", time.Time{} // a worker of the old tables must not advance the new ones
	}
	delete(s.rebuilds, r.spec.Projector)
	return to, nil
}

func (r *rebuildSession) Fail(ctx context.Context, msg string) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if st := r.s.rebuilds[r.spec.Projector]; st != nil {
		st.Error, st.Updated = msg, time.Now()
	}
	return nil
}

func (r *rebuildSession) Abort(ctx context.Context) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if err := r.s.fence(r.spec); err != nil {
		return err
	}
	r.s.views.mu.Lock()
	for _, d := range r.spec.Tables {
		delete(r.s.views.tables, shadowName(d.Name))
	}
	r.s.views.mu.Unlock()
	delete(r.s.rebuilds, r.spec.Projector)
	return nil
}
