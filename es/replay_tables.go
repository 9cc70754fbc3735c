package es

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// replayTables are a rebuild's tables in memory: a [Persistor] for one
// goroutine that remembers which rows changed since the last write to the
// shadow tables, and can undo what it applied since a savepoint (a swap that
// must be tried again).
//
// A rebuild holds every row of the projector's tables, so rows are kept
// compact: their canonical values in column order (a slice, not a [Row] map),
// under the key [TableDef.KeyString] gives them. Rows become maps only on
// their way out (Find, and the changes written to the shadow tables).
type replayTables struct {
	tables map[string]*replayTable
	order  []*replayTable
	undo   map[*replayTable]map[string]*replayRow // savepoint: rows as they were
}

type replayTable struct {
	def   TableDef
	cols  map[string]int // column index by name
	key   []int          // the primary key's column indexes
	rows  map[string]*replayRow
	dirty []string    // keys changed since the last write, in order of first change
	slab  []replayRow // rows are allocated from here, a block at a time
	buf   []byte      // scratch for keys
}

type replayRow struct {
	vals     []any // the row's values in column order; when deleted, the last ones (for its key)
	deleted  bool  // gone since the last write
	inShadow bool  // the shadow table holds a row with this key
	dirty    bool
}

func newReplayTables(defs []TableDef) *replayTables {
	t := &replayTables{tables: map[string]*replayTable{}}
	for _, d := range defs {
		rt := &replayTable{def: d, cols: make(map[string]int, len(d.Columns)), rows: map[string]*replayRow{}}
		for i, c := range d.Columns {
			rt.cols[c.Name] = i
		}
		for _, k := range d.Key {
			rt.key = append(rt.key, rt.cols[k])
		}
		t.tables[d.Name] = rt
		t.order = append(t.order, rt)
	}
	return t
}

// newRow allocates a row of rt.
func (rt *replayTable) newRow() *replayRow {
	if len(rt.slab) == cap(rt.slab) {
		rt.slab = make([]replayRow, 0, 256)
	}
	rt.slab = rt.slab[:len(rt.slab)+1]
	return &rt.slab[len(rt.slab)-1]
}

// check checks a full row (an insert) as [TableDef.CheckRow] does and returns
// its canonical values in column order. A row it refuses gets CheckRow's error.
func (rt *replayTable) check(row Row) ([]any, error) {
	vals := make([]any, len(rt.def.Columns))
	n := 0
	for i, c := range rt.def.Columns {
		v, ok := row[c.Name]
		if !ok {
			if !c.Nullable {
				return nil, rt.checkError(row, true)
			}
			continue
		}
		n++
		cv, ok := canonicalValue(c.Type, v)
		if !ok || (cv == nil && !c.Nullable) {
			return nil, rt.checkError(row, true)
		}
		vals[i] = cv
	}
	if n != len(row) { // a column the table does not have
		return nil, rt.checkError(row, true)
	}
	return vals, nil
}

// colValue is a column's canonical value.
type colValue struct {
	col int
	val any
}

// checkSet checks the columns an update sets, as [TableDef.CheckRow] does.
func (rt *replayTable) checkSet(set Row) ([]colValue, error) {
	out := make([]colValue, 0, len(set))
	for name, v := range set {
		i, ok := rt.cols[name]
		if !ok {
			return nil, rt.checkError(set, false)
		}
		c := rt.def.Columns[i]
		cv, ok := canonicalValue(c.Type, v)
		if !ok || (cv == nil && !c.Nullable) {
			return nil, rt.checkError(set, false)
		}
		out = append(out, colValue{i, cv})
	}
	return out, nil
}

// checkWhere checks a condition as [TableDef.CheckWhere] does.
func (rt *replayTable) checkWhere(where Where) ([]colValue, error) {
	out := make([]colValue, 0, len(where))
	for name, v := range where {
		i, ok := rt.cols[name]
		if !ok {
			return nil, rt.whereError(where)
		}
		cv, ok := canonicalValue(rt.def.Columns[i].Type, v)
		if !ok {
			return nil, rt.whereError(where)
		}
		out = append(out, colValue{i, cv})
	}
	return out, nil
}

// checkError is the error [TableDef.CheckRow] gives for a row check refused.
func (rt *replayTable) checkError(row Row, full bool) error {
	if _, err := rt.def.CheckRow(row, full); err != nil {
		return err
	}
	return fmt.Errorf("table %s: the row does not fit the table", rt.def.Name)
}

// whereError is the error [TableDef.CheckWhere] gives for a condition checkWhere refused.
func (rt *replayTable) whereError(where Where) error {
	if _, err := rt.def.CheckWhere(where); err != nil {
		return err
	}
	return fmt.Errorf("table %s: the condition does not fit the table", rt.def.Name)
}

// canonicalValue is [Canonical], without converting (and allocating) values
// that are canonical already; ok is false when v does not fit the column.
func canonicalValue(t ColumnType, v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		if t == Text {
			return v, true
		}
	case int64:
		if t == Int {
			return v, true
		}
	case float64:
		if t == Float {
			return v, true
		}
	case bool:
		if t == Bool {
			return v, true
		}
	case uuid.UUID:
		if t == UUID {
			return v, true
		}
	case time.Time:
		if t == Time && x == CanonicalTime(x) {
			return v, true
		}
	}
	cv, err := Canonical(t, v)
	return cv, err == nil
}

// keyOf returns the key of a row's values ([TableDef.KeyString] of the row)
// in rt's scratch buffer, valid until the next call.
func (rt *replayTable) keyOf(vals []any) []byte {
	b := rt.buf[:0]
	for _, i := range rt.key {
		b = appendKeyValue(b, vals[i])
	}
	rt.buf = b
	return b
}

// row returns a row's values as a [Row].
func (rt *replayTable) row(vals []any) Row {
	r := make(Row, len(vals))
	for i, c := range rt.def.Columns {
		r[c.Name] = vals[i]
	}
	return r
}

// where returns the [Where] that selects a row by its primary key.
func (rt *replayTable) where(vals []any) Where {
	w := make(Where, len(rt.key))
	for _, i := range rt.key {
		w[rt.def.Columns[i].Name] = vals[i]
	}
	return w
}

// load adds a row the shadow table holds already (a resumed rebuild).
func (t *replayTables) load(table string, row Row) error {
	rt, err := t.table(table)
	if err != nil {
		return err
	}
	vals, err := rt.check(row)
	if err != nil {
		return err
	}
	r := rt.newRow()
	r.vals, r.inShadow = vals, true
	rt.rows[string(rt.keyOf(vals))] = r
	return nil
}

// rowChange is a row changed since the last write, as changes takes it from
// the tables: the values it had then (immutable: a change replaces them).
type rowChange struct {
	table   *replayTable
	vals    []any
	deleted bool
	replace bool
}

// changes returns the rows changed since the last call and forgets them: what
// the next write to the shadow tables must hold. [rowChanges] turns them into
// [RowChange]s, in any goroutine.
func (t *replayTables) changes() []rowChange {
	n := 0
	for _, rt := range t.order {
		n += len(rt.dirty)
	}
	out := make([]rowChange, 0, n)
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
					out = append(out, rowChange{table: rt, vals: r.vals, deleted: true, replace: true})
				}
				continue
			}
			out = append(out, rowChange{table: rt, vals: r.vals, replace: r.inShadow})
			r.inShadow = true
		}
		clear(rt.dirty) // let the keys go
		rt.dirty = rt.dirty[:0]
	}
	return out
}

// rowChanges returns the changes as a store writes them.
func rowChanges(changes []rowChange) []RowChange {
	out := make([]RowChange, len(changes))
	for i, c := range changes {
		out[i] = RowChange{Table: c.table.def.Name, Key: c.table.where(c.vals), Replace: c.replace}
		if !c.deleted {
			out[i].Row = c.table.row(c.vals)
		}
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

// set replaces (vals non-nil) or deletes the row under key; old is the row
// the table holds under key (nil if none).
func (t *replayTables) set(rt *replayTable, key string, old *replayRow, vals []any) {
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
		if vals == nil {
			return
		}
		old = rt.newRow()
		rt.rows[key] = old
	}
	if !old.dirty {
		old.dirty = true
		rt.dirty = append(rt.dirty, key)
	}
	if vals == nil {
		old.deleted = true
		return
	}
	old.vals, old.deleted = vals, false
}

// lookup returns the live row under key (nil if none) and the row the table
// holds under it, live or deleted since the last write.
func (rt *replayTable) lookup(key []byte) (live, held *replayRow) {
	r := rt.rows[string(key)]
	if r == nil || r.deleted {
		return nil, r
	}
	return r, r
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
	vals, err := rt.check(row)
	if err != nil {
		return fmt.Errorf("es: %w", err)
	}
	k := rt.keyOf(vals)
	live, held := rt.lookup(k)
	if live != nil {
		return fmt.Errorf("es: insert into %s: key %v: %w", table, rt.where(vals), ErrDuplicateRecord)
	}
	t.set(rt, string(k), held, vals)
	return nil
}

// Upsert implements [Persistor].
func (t *replayTables) Upsert(_ context.Context, table string, row Row) error {
	rt, err := t.table(table)
	if err != nil {
		return err
	}
	vals, err := rt.check(row)
	if err != nil {
		return fmt.Errorf("es: %w", err)
	}
	k := rt.keyOf(vals)
	_, held := rt.lookup(k)
	t.set(rt, string(k), held, vals)
	return nil
}

// Update implements [Persistor].
func (t *replayTables) Update(_ context.Context, table string, where Where, set Row) (int64, error) {
	rt, err := t.table(table)
	if err != nil {
		return 0, err
	}
	s, err := rt.checkSet(set)
	if err != nil {
		return 0, fmt.Errorf("es: %w", err)
	}
	keys, err := t.match(rt, where)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		cur := rt.rows[k]
		vals := slices.Clone(cur.vals)
		for _, cv := range s {
			vals[cv.col] = cv.val
		}
		nk := rt.keyOf(vals)
		if string(nk) == k {
			t.set(rt, k, cur, vals)
			continue
		}
		live, held := rt.lookup(nk)
		if live != nil {
			return 0, fmt.Errorf("es: update %s: key %v: %w", table, rt.where(vals), ErrDuplicateRecord)
		}
		nks := string(nk)
		t.set(rt, k, cur, nil)
		t.set(rt, nks, held, vals)
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
		t.set(rt, k, rt.rows[k], nil)
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
	type found struct {
		vals []any
		row  Row
	}
	out := make([]found, 0, len(keys))
	for _, k := range keys {
		r := rt.rows[k]
		row := make(Row, len(r.vals))
		for i, c := range rt.def.Columns {
			v := r.vals[i]
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			row[c.Name] = v
		}
		out = append(out, found{r.vals, row})
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b found) int {
			for _, i := range rt.key {
				if c := CompareValues(a.vals[i], b.vals[i]); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	rows := make([]Row, len(out))
	for i, f := range out {
		rows[i] = f.row
	}
	return rows, nil
}

// match returns the keys of the live rows matching where: one look-up when
// where names the whole primary key (as replays nearly always do), else a scan.
func (t *replayTables) match(rt *replayTable, where Where) ([]string, error) {
	cond, err := rt.checkWhere(where)
	if err != nil {
		return nil, fmt.Errorf("es: %w", err)
	}
	matches := func(r *replayRow) bool {
		for _, c := range cond {
			if !EqualValues(r.vals[c.col], c.val) {
				return false
			}
		}
		return true
	}
	if len(cond) == len(rt.key) && rt.coversKey(cond) {
		vals := make([]any, len(rt.def.Columns))
		for _, c := range cond {
			vals[c.col] = c.val
		}
		k := rt.keyOf(vals)
		if r, _ := rt.lookup(k); r != nil && matches(r) {
			return []string{string(k)}, nil
		}
		return nil, nil
	}
	var keys []string
	for k, r := range rt.rows {
		if !r.deleted && matches(r) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// coversKey reports whether cond names every primary-key column of rt.
func (rt *replayTable) coversKey(cond []colValue) bool {
	for _, k := range rt.key {
		if !slices.ContainsFunc(cond, func(c colValue) bool { return c.col == k }) {
			return false
		}
	}
	return true
}
