package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/consequent/consequent/es"
)

// Views is an in-memory [es.Persistor]: view tables in maps, with the same
// semantics as pgstore's tables (canonical values, duplicate keys, ordering by key).
// It is safe for concurrent use. [Views.Begin] gives a transaction whose
// writes become visible all at once on commit. As in PostgreSQL, of two
// transactions that insert one key the second to commit fails with
// [es.ErrDuplicateRecord], and an update changes only the columns it sets, so
// concurrent updates of one row do not undo each other.
type Views struct {
	mu     sync.RWMutex
	tables map[string]*memTable
}

type memTable struct {
	def  es.TableDef
	rows map[string]es.Row // by encoded primary key
}

// NewViews returns an empty in-memory persistor.
func NewViews() *Views { return &Views{tables: map[string]*memTable{}} }

// CreateTables implements [es.Persistor].
func (m *Views) CreateTables(_ context.Context, defs ...es.TableDef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range defs {
		if old, ok := m.tables[d.Name]; ok {
			if !sameColumns(old.def, d) {
				return fmt.Errorf("memstore: create table %s: %w: %s, want %s", d.Name, es.ErrTableChanged, old.def, d)
			}
			continue
		}
		m.tables[d.Name] = &memTable{def: d, rows: map[string]es.Row{}}
	}
	return nil
}

// Insert implements [es.Persistor].
func (m *Views) Insert(ctx context.Context, table string, row es.Row) error {
	return m.write(ctx, func(tx *Tx) error { return tx.Insert(ctx, table, row) })
}

// Upsert implements [es.Persistor].
func (m *Views) Upsert(ctx context.Context, table string, row es.Row) error {
	return m.write(ctx, func(tx *Tx) error { return tx.Upsert(ctx, table, row) })
}

// Update implements [es.Persistor].
func (m *Views) Update(ctx context.Context, table string, where es.Where, set es.Row) (n int64, err error) {
	err = m.write(ctx, func(tx *Tx) error { n, err = tx.Update(ctx, table, where, set); return err })
	return n, err
}

// Delete implements [es.Persistor].
func (m *Views) Delete(ctx context.Context, table string, where es.Where) (n int64, err error) {
	err = m.write(ctx, func(tx *Tx) error { n, err = tx.Delete(ctx, table, where); return err })
	return n, err
}

// Find implements [es.Persistor].
func (m *Views) Find(ctx context.Context, table string, where es.Where) ([]es.Row, error) {
	return (&Tx{views: m}).find(table, where)
}

func (m *Views) write(ctx context.Context, fn func(*Tx) error) error {
	tx := m.Begin()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Begin starts a transaction. Its writes are invisible to others until Commit;
// a transaction that is never committed leaves no trace. A Tx is for one
// goroutine at a time.
func (m *Views) Begin() *Tx {
	return &Tx{views: m, overlay: map[string]map[string]es.Row{}}
}

// Tx is a transaction on [Views]; it implements [es.Persistor].
type Tx struct {
	views   *Views
	overlay map[string]map[string]es.Row // table → key → row (nil: deleted), what the transaction reads
	ops     []memOp                      // the writes, replayed on the committed rows by Commit
}

// memOp is one row written by a transaction.
type memOp struct {
	kind  byte // 'i'nsert, 'u'psert, u'p'date, 'd'elete
	table string
	key   string
	row   es.Row // the row (insert, upsert) or the columns set (update)
}

// Commit makes the transaction's writes visible, all or none. Its writes are
// replayed on the rows as other transactions committed them meanwhile: an insert
// of a key committed since fails with [es.ErrDuplicateRecord]; an update sets its
// columns on the row as it now is, and on nothing when it has been deleted.
func (tx *Tx) Commit() error {
	tx.views.mu.Lock()
	defer tx.views.mu.Unlock()
	staged := map[*memTable]map[string]es.Row{}
	lookup := func(t *memTable, k string) (es.Row, bool) {
		if r, ok := staged[t][k]; ok {
			return r, r != nil
		}
		r, ok := t.rows[k]
		return r, ok
	}
	stage := func(t *memTable, k string, r es.Row) {
		if staged[t] == nil {
			staged[t] = map[string]es.Row{}
		}
		staged[t][k] = r
	}
	for _, op := range tx.ops {
		t := tx.views.tables[op.table]
		switch op.kind {
		case 'i':
			if _, ok := lookup(t, op.key); ok {
				return fmt.Errorf("memstore: insert into %s: key %v, committed by another transaction meanwhile: %w", op.table, t.def.KeyOf(op.row), es.ErrDuplicateRecord)
			}
			stage(t, op.key, op.row)
		case 'u':
			stage(t, op.key, op.row)
		case 'p':
			cur, ok := lookup(t, op.key)
			if !ok {
				continue
			}
			r := copyRow(cur)
			for c, v := range op.row {
				r[c] = v
			}
			if k := t.def.KeyString(r); k != op.key {
				if _, ok := lookup(t, k); ok {
					return fmt.Errorf("memstore: update %s: key %v: %w", op.table, t.def.KeyOf(r), es.ErrDuplicateRecord)
				}
				stage(t, op.key, nil)
				stage(t, k, r)
				continue
			}
			stage(t, op.key, r)
		case 'd':
			stage(t, op.key, nil)
		}
	}
	for t, rows := range staged {
		for k, r := range rows {
			if r == nil {
				delete(t.rows, k)
			} else {
				t.rows[k] = r
			}
		}
	}
	tx.overlay, tx.ops = map[string]map[string]es.Row{}, nil
	return nil
}

// CreateTables implements [es.Persistor]; tables are created at once, outside the
// transaction, as DDL is in most databases' practice.
func (tx *Tx) CreateTables(ctx context.Context, defs ...es.TableDef) error {
	return tx.views.CreateTables(ctx, defs...)
}

// Insert implements [es.Persistor].
func (tx *Tx) Insert(_ context.Context, table string, row es.Row) error {
	t, r, k, err := tx.prepare(table, row, true)
	if err != nil {
		return err
	}
	if _, ok := tx.get(t, k); ok {
		return fmt.Errorf("memstore: insert into %s: key %v: %w", table, t.def.KeyOf(r), es.ErrDuplicateRecord)
	}
	tx.put(table, k, r)
	tx.ops = append(tx.ops, memOp{kind: 'i', table: table, key: k, row: r})
	return nil
}

// Upsert implements [es.Persistor].
func (tx *Tx) Upsert(_ context.Context, table string, row es.Row) error {
	_, r, k, err := tx.prepare(table, row, true)
	if err != nil {
		return err
	}
	tx.put(table, k, r)
	tx.ops = append(tx.ops, memOp{kind: 'u', table: table, key: k, row: r})
	return nil
}

// Update implements [es.Persistor].
func (tx *Tx) Update(_ context.Context, table string, where es.Where, set es.Row) (int64, error) {
	t, setRow, _, err := tx.prepare(table, set, false)
	if err != nil {
		return 0, err
	}
	rows, err := tx.find(table, where)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		oldKey := t.def.KeyString(r)
		for c, v := range setRow {
			r[c] = v
		}
		newKey := t.def.KeyString(r)
		if newKey != oldKey {
			if _, ok := tx.get(t, newKey); ok {
				return 0, fmt.Errorf("memstore: update %s: key %v: %w", table, t.def.KeyOf(r), es.ErrDuplicateRecord)
			}
			tx.put(table, oldKey, nil)
		}
		tx.put(table, newKey, r)
		tx.ops = append(tx.ops, memOp{kind: 'p', table: table, key: oldKey, row: setRow})
	}
	return int64(len(rows)), nil
}

// Delete implements [es.Persistor].
func (tx *Tx) Delete(_ context.Context, table string, where es.Where) (int64, error) {
	rows, err := tx.find(table, where)
	if err != nil {
		return 0, err
	}
	t, err := tx.table(table) // under the lock: CreateTables may be writing the map
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		k := t.def.KeyString(r)
		tx.put(table, k, nil)
		tx.ops = append(tx.ops, memOp{kind: 'd', table: table, key: k})
	}
	return int64(len(rows)), nil
}

// Find implements [es.Persistor].
func (tx *Tx) Find(_ context.Context, table string, where es.Where) ([]es.Row, error) {
	return tx.find(table, where)
}

func (tx *Tx) table(name string) (*memTable, error) {
	tx.views.mu.RLock()
	defer tx.views.mu.RUnlock()
	t, ok := tx.views.tables[name]
	if !ok {
		return nil, fmt.Errorf("memstore: table %s: %w (create it with CreateTables)", name, es.ErrTableNotFound)
	}
	return t, nil
}

// prepare checks row against the table and converts it to canonical values; full
// requires every key column and fills absent nullable columns with nil.
func (tx *Tx) prepare(table string, row es.Row, full bool) (*memTable, es.Row, string, error) {
	t, err := tx.table(table)
	if err != nil {
		return nil, nil, "", err
	}
	out, err := t.def.CheckRow(row, full)
	if err != nil {
		return nil, nil, "", fmt.Errorf("memstore: %w", err)
	}
	if !full {
		return t, out, "", nil
	}
	return t, out, t.def.KeyString(out), nil
}

func (tx *Tx) get(t *memTable, key string) (es.Row, bool) {
	if rows, ok := tx.overlay[t.def.Name]; ok {
		if r, ok := rows[key]; ok {
			return r, r != nil
		}
	}
	tx.views.mu.RLock()
	defer tx.views.mu.RUnlock()
	r, ok := t.rows[key]
	return r, ok
}

func (tx *Tx) put(table, key string, r es.Row) {
	if tx.overlay == nil { // a read-only view of the committed tables
		panic("memstore: write through a read-only Tx")
	}
	rows := tx.overlay[table]
	if rows == nil {
		rows = map[string]es.Row{}
		tx.overlay[table] = rows
	}
	rows[key] = r
}

// find returns copies of the rows matching where, ordered by key.
func (tx *Tx) find(table string, where es.Where) ([]es.Row, error) {
	tx.views.mu.RLock()
	defer tx.views.mu.RUnlock()
	t, ok := tx.views.tables[table]
	if !ok {
		return nil, fmt.Errorf("memstore: table %s: %w (create it with CreateTables)", table, es.ErrTableNotFound)
	}
	cond, err := t.def.CheckWhere(where)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	match := func(r es.Row) bool {
		for c, v := range cond {
			if !es.EqualValues(r[c], v) {
				return false
			}
		}
		return true
	}
	over := tx.overlay[table]
	if len(cond) == len(t.def.Key) && coversKey(t.def, cond) {
		// By primary key: one look-up instead of a scan (replays find rows by key
		// for nearly every event).
		k := t.def.KeyString(cond)
		r, ok := over[k]
		if !ok {
			r, ok = t.rows[k]
		}
		if ok && r != nil && match(r) {
			return []es.Row{copyRow(r)}, nil
		}
		return nil, nil
	}
	var out []es.Row
	for k, r := range t.rows {
		if _, shadowed := over[k]; !shadowed && match(r) {
			out = append(out, copyRow(r))
		}
	}
	for _, r := range over {
		if r != nil && match(r) {
			out = append(out, copyRow(r))
		}
	}
	slices.SortFunc(out, func(a, b es.Row) int {
		for _, k := range t.def.Key {
			if c := es.CompareValues(a[k], b[k]); c != 0 {
				return c
			}
		}
		return 0
	})
	return out, nil
}

// coversKey reports whether cond names every primary-key column of d.
func coversKey(d es.TableDef, cond es.Row) bool {
	for _, k := range d.Key {
		if _, ok := cond[k]; !ok {
			return false
		}
	}
	return true
}

func copyRow(r es.Row) es.Row {
	out := make(es.Row, len(r))
	for k, v := range r {
		if b, ok := v.([]byte); ok {
			v = append([]byte(nil), b...)
		}
		out[k] = v
	}
	return out
}

func sameColumns(a, b es.TableDef) bool {
	return slices.Equal(a.Columns, b.Columns) && slices.Equal(a.Key, b.Key)
}
