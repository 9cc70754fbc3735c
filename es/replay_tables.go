package es

import (
	"context"
	"fmt"
	"slices"
)

// replayTables are a rebuild's tables in memory: a [Persistor] for one
// goroutine that remembers which rows changed since the last write to the
// shadow tables, and can undo what it applied since a savepoint (a swap that
// must be tried again).
type replayTables struct {
	tables map[string]*replayTable
	order  []*replayTable
	undo   map[*replayTable]map[string]*replayRow // savepoint: rows as they were
}

type replayTable struct {
	def   TableDef
	rows  map[string]*replayRow
	dirty []string // keys changed since the last write, in order of first change
}

type replayRow struct {
	row      Row  // the row; when deleted, the last one (for its key)
	deleted  bool // gone since the last write
	inShadow bool // the shadow table holds a row with this key
	dirty    bool
}

func newReplayTables(defs []TableDef) *replayTables {
	t := &replayTables{tables: map[string]*replayTable{}}
	for _, d := range defs {
		rt := &replayTable{def: d, rows: map[string]*replayRow{}}
		t.tables[d.Name] = rt
		t.order = append(t.order, rt)
	}
	return t
}

// load adds a row the shadow table holds already (a resumed rebuild).
func (t *replayTables) load(table string, row Row) error {
	rt, err := t.table(table)
	if err != nil {
		return err
	}
	r, err := rt.def.CheckRow(row, true)
	if err != nil {
		return err
	}
	rt.rows[rt.def.KeyString(r)] = &replayRow{row: r, inShadow: true}
	return nil
}

// changes returns the rows changed since the last call and forgets them: what
// the next write to the shadow tables must hold.
func (t *replayTables) changes() []RowChange {
	var out []RowChange
	for _, rt := range t.order {
		for _, k := range rt.dirty {
			r := rt.rows[k]
			if r == nil || !r.dirty {
				continue
			}
			r.dirty = false
			if r.deleted {
				delete(rt.rows, k)
				if r.inShadow {
					out = append(out, RowChange{Table: rt.def.Name, Key: rt.def.KeyOf(r.row), Replace: true})
				}
				continue
			}
			out = append(out, RowChange{Table: rt.def.Name, Key: rt.def.KeyOf(r.row), Row: r.row, Replace: r.inShadow})
			r.inShadow = true
		}
		rt.dirty = rt.dirty[:0]
	}
	return out
}

// savepoint starts recording what rollback restores.
func (t *replayTables) savepoint() { t.undo = map[*replayTable]map[string]*replayRow{} }

// rollback restores the rows as they were at the savepoint, and ends it.
func (t *replayTables) rollback() {
	for rt, rows := range t.undo {
		for k, r := range rows {
			if r == nil {
				delete(rt.rows, k)
			} else {
				rt.rows[k] = r
			}
		}
	}
	t.undo = nil
}

// release ends the savepoint, keeping the changes.
func (t *replayTables) release() { t.undo = nil }

func (t *replayTables) table(name string) (*replayTable, error) {
	rt, ok := t.tables[name]
	if !ok {
		return nil, fmt.Errorf("es: table %s: %w", name, ErrTableNotFound)
	}
	return rt, nil
}

// set replaces (r non-nil) or deletes the row under key.
func (t *replayTables) set(rt *replayTable, key string, r Row) {
	old := rt.rows[key]
	if t.undo != nil {
		saved := t.undo[rt]
		if saved == nil {
			saved = map[string]*replayRow{}
			t.undo[rt] = saved
		}
		if _, ok := saved[key]; !ok {
			if old != nil {
				c := *old
				saved[key] = &c
			} else {
				saved[key] = nil
			}
		}
	}
	if old == nil {
		if r == nil {
			return
		}
		old = &replayRow{}
		rt.rows[key] = old
	}
	if !old.dirty {
		old.dirty = true
		rt.dirty = append(rt.dirty, key)
	}
	if r == nil {
		old.deleted = true
		return
	}
	old.row, old.deleted = r, false
}

func (t *replayTables) get(rt *replayTable, key string) (Row, bool) {
	r, ok := rt.rows[key]
	if !ok || r.deleted {
		return nil, false
	}
	return r.row, true
}

// CreateTables implements [Persistor]: the tables are the projector's, known
// from the start.
func (t *replayTables) CreateTables(_ context.Context, defs ...TableDef) error {
	for _, d := range defs {
		if _, err := t.table(d.Name); err != nil {
			return err
		}
	}
	return nil
}

// Insert implements [Persistor].
func (t *replayTables) Insert(_ context.Context, table string, row Row) error {
	rt, err := t.table(table)
	if err != nil {
		return err
	}
	r, err := rt.def.CheckRow(row, true)
	if err != nil {
		return fmt.Errorf("es: %w", err)
	}
	k := rt.def.KeyString(r)
	if _, ok := t.get(rt, k); ok {
		return fmt.Errorf("es: insert into %s: key %v: %w", table, rt.def.KeyOf(r), ErrDuplicateRecord)
	}
	t.set(rt, k, r)
	return nil
}

// Upsert implements [Persistor].
func (t *replayTables) Upsert(_ context.Context, table string, row Row) error {
	rt, err := t.table(table)
	if err != nil {
		return err
	}
	r, err := rt.def.CheckRow(row, true)
	if err != nil {
		return fmt.Errorf("es: %w", err)
	}
	t.set(rt, rt.def.KeyString(r), r)
	return nil
}

// Update implements [Persistor].
func (t *replayTables) Update(_ context.Context, table string, where Where, set Row) (int64, error) {
	rt, err := t.table(table)
	if err != nil {
		return 0, err
	}
	s, err := rt.def.CheckRow(set, false)
	if err != nil {
		return 0, fmt.Errorf("es: %w", err)
	}
	keys, err := t.match(rt, where)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		cur, _ := t.get(rt, k)
		r := make(Row, len(cur))
		for c, v := range cur {
			r[c] = v
		}
		for c, v := range s {
			r[c] = v
		}
		nk := rt.def.KeyString(r)
		if nk != k {
			if _, ok := t.get(rt, nk); ok {
				return 0, fmt.Errorf("es: update %s: key %v: %w", table, rt.def.KeyOf(r), ErrDuplicateRecord)
			}
			t.set(rt, k, nil)
		}
		t.set(rt, nk, r)
	}
	return int64(len(keys)), nil
}

// Delete implements [Persistor].
func (t *replayTables) Delete(_ context.Context, table string, where Where) (int64, error) {
	rt, err := t.table(table)
	if err != nil {
		return 0, err
	}
	keys, err := t.match(rt, where)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		t.set(rt, k, nil)
	}
	return int64(len(keys)), nil
}

// Find implements [Persistor].
func (t *replayTables) Find(_ context.Context, table string, where Where) ([]Row, error) {
	rt, err := t.table(table)
	if err != nil {
		return nil, err
	}
	keys, err := t.match(rt, where)
	if err != nil {
		return nil, err
	}
	out := make([]Row, 0, len(keys))
	for _, k := range keys {
		r, _ := t.get(rt, k)
		out = append(out, copyRow(r))
	}
	slices.SortFunc(out, func(a, b Row) int { return compareKeys(rt.def, a, b) })
	return out, nil
}

// match returns the keys of the rows matching where: one look-up when where
// names the whole primary key (as replays nearly always do), else a scan.
func (t *replayTables) match(rt *replayTable, where Where) ([]string, error) {
	cond, err := rt.def.CheckWhere(where)
	if err != nil {
		return nil, fmt.Errorf("es: %w", err)
	}
	matches := func(r Row) bool {
		for c, v := range cond {
			if !EqualValues(r[c], v) {
				return false
			}
		}
		return true
	}
	if len(cond) == len(rt.def.Key) && coversKey(rt.def, cond) {
		k := rt.def.KeyString(cond)
		if r, ok := t.get(rt, k); ok && matches(r) {
			return []string{k}, nil
		}
		return nil, nil
	}
	var keys []string
	for k, r := range rt.rows {
		if !r.deleted && matches(r.row) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// coversKey reports whether cond names every primary-key column of d.
func coversKey(d TableDef, cond Row) bool {
	for _, k := range d.Key {
		if _, ok := cond[k]; !ok {
			return false
		}
	}
	return true
}

// compareKeys orders two rows of d by primary key.
func compareKeys(d TableDef, a, b Row) int {
	for _, k := range d.Key {
		if c := CompareValues(a[k], b[k]); c != 0 {
			return c
		}
	}
	return 0
}

func copyRow(r Row) Row {
	out := make(Row, len(r))
	for k, v := range r {
		if b, ok := v.([]byte); ok {
			v = append([]byte(nil), b...)
		}
		out[k] = v
	}
	return out
}
