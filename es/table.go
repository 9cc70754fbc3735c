package es

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Table is a typed handle on a view table whose rows are values of the struct type
// R. Each exported field is a column named by its `db` tag, or else by the field
// name in snake_case; `db:"-"` leaves a field out. Pointer fields are nullable.
// Field types map to columns as [ColumnType] lists; any other type is stored as JSON.
//
// A Table is immutable and safe for concurrent use. Projectors declare the tables
// they write, see [NewProjector].
type Table[R any] struct {
	def    TableDef
	fields []tableField
	err    error // a definition mistake, reported on registration and use
}

type tableField struct {
	index []int
	col   Column
}

// NewTable describes the view table name with rows of type R and primary key
// columns key. Tables are declared once, as package-level variables, so NewTable
// does not return an error: a definition mistake (R not a struct, a key column
// that does not exist, an unsupported field) is kept with the table, with the
// file and line of the declaration, and reported by [NewCommandService] when a
// registered projector manages the table, and by every method of the table
// ([Table.Err]).
func NewTable[R any](name string, key ...string) *Table[R] {
	t, err := newTable[R](name, key)
	if err != nil {
		return &Table[R]{def: TableDef{Name: name, Key: key}, err: fmt.Errorf("%s%w", callerOutside(), err)}
	}
	return t
}

// Err returns the table's definition mistake, if any (see [NewTable]).
func (t *Table[R]) Err() error { return t.err }

func newTable[R any](name string, key []string) (*Table[R], error) {
	rt := reflect.TypeFor[R]()
	if rt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("es.NewTable %q: row type %s is not a struct", name, rt)
	}
	if name == "" {
		return nil, fmt.Errorf("es.NewTable: table for %s has no name", rt)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("es.NewTable %q: no primary key: name its columns after the table name", name)
	}
	t := &Table[R]{def: TableDef{Name: name, Key: key}}
	for _, f := range reflect.VisibleFields(rt) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		col := f.Tag.Get("db")
		if col == "-" {
			continue
		}
		if col == "" {
			col = snakeCase(f.Name)
		}
		typ, nullable := columnTypeOf(f.Type)
		c := Column{Name: col, Type: typ, Nullable: nullable}
		t.def.Columns = append(t.def.Columns, c)
		t.fields = append(t.fields, tableField{index: f.Index, col: c})
	}
	for _, k := range key {
		c, ok := t.def.Column(k)
		if !ok {
			return nil, fmt.Errorf("es.NewTable %q: key column %q is not a field of %s (tag the field `db:%q`)", name, k, rt, k)
		}
		if c.Nullable {
			return nil, fmt.Errorf("es.NewTable %q: key column %q must not be a pointer", name, k)
		}
	}
	return t, nil
}

// Index adds a secondary index on cols and returns t, for declarations like
// NewTable[PostRecord]("post_records", "aggregate_id").Index("author").
//
// An index column that does not exist is a definition mistake, kept as
// [NewTable]'s are.
func (t *Table[R]) Index(cols ...string) *Table[R] {
	if t.err != nil {
		return t
	}
	for _, c := range cols {
		if _, ok := t.def.Column(c); !ok {
			t.err = fmt.Errorf("%ses.Table %q: index column %q does not exist", callerOutside(), t.def.Name, c)
			return t
		}
	}
	t.def.Indexes = append(t.def.Indexes, cols)
	return t
}

// Def returns the table's definition.
func (t *Table[R]) Def() TableDef { return t.def }

// Name returns the table's name.
func (t *Table[R]) Name() string { return t.def.Name }

// Insert adds r; a row with the same key yields an error wrapping [ErrDuplicateRecord].
func (t *Table[R]) Insert(ctx context.Context, p Persistor, r R) error {
	row, err := t.toRow(r)
	if err != nil {
		return err
	}
	return p.Insert(ctx, t.def.Name, row)
}

// Upsert inserts r or replaces the row with the same key.
func (t *Table[R]) Upsert(ctx context.Context, p Persistor, r R) error {
	row, err := t.toRow(r)
	if err != nil {
		return err
	}
	return p.Upsert(ctx, t.def.Name, row)
}

// Find returns the rows matching where, ordered by key.
func (t *Table[R]) Find(ctx context.Context, p Persistor, where Where) ([]R, error) {
	if t.err != nil {
		return nil, t.err
	}
	rows, err := p.Find(ctx, t.def.Name, where)
	if err != nil {
		return nil, err
	}
	out := make([]R, 0, len(rows))
	for _, row := range rows {
		r, err := t.fromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Get returns the one row matching where: an error wrapping [ErrRecordNotFound]
// when there is none, and an error when there are several.
func (t *Table[R]) Get(ctx context.Context, p Persistor, where Where) (R, error) {
	var zero R
	rs, err := t.Find(ctx, p, where)
	if err != nil {
		return zero, err
	}
	switch len(rs) {
	case 0:
		return zero, fmt.Errorf("%s where %v: %w", t.def.Name, where, ErrRecordNotFound)
	case 1:
		return rs[0], nil
	}
	return zero, fmt.Errorf("%s where %v: %d rows match, want one", t.def.Name, where, len(rs))
}

// Update calls change on each row matching where and writes it back; it returns
// the number of rows updated. Changing a key column is an error.
func (t *Table[R]) Update(ctx context.Context, p Persistor, where Where, change func(*R)) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	rows, err := p.Find(ctx, t.def.Name, where)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, row := range rows {
		r, err := t.fromRow(row)
		if err != nil {
			return n, err
		}
		change(&r)
		next, err := t.toRow(r)
		if err != nil {
			return n, err
		}
		key := t.def.KeyOf(row)
		for k, v := range key {
			if !EqualValues(v, next[k]) {
				return n, fmt.Errorf("%s: update changed key column %s from %v to %v", t.def.Name, k, v, next[k])
			}
		}
		m, err := p.Update(ctx, t.def.Name, key, next)
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// Set sets the columns named in set (values as for the fields of R) on every
// row matching where, in one statement that does not read the rows first: the
// form for a projector that changes a few columns, where [Table.Update] reads
// each row and writes every column back. Setting a key column, or a column R
// does not have, is an error. Rows that do not match are left alone; no count is
// returned, so that a [Setter] (pgstore, in a commit) may send the statement
// together with the writes that follow.
//
//	PostRecords.Set(ctx, v, es.Where{"aggregate_id": e.StreamID}, es.Row{"title": ev.Title})
func (t *Table[R]) Set(ctx context.Context, p Persistor, where Where, set Row) error {
	for c := range set {
		if _, ok := t.def.Column(c); !ok {
			return fmt.Errorf("%s: set: no column %s", t.def.Name, c)
		}
		if slices.Contains(t.def.Key, c) {
			return fmt.Errorf("%s: set: %s is a key column", t.def.Name, c)
		}
	}
	if len(set) == 0 {
		return nil
	}
	if s, ok := p.(Setter); ok {
		return s.Set(ctx, t.def.Name, where, set)
	}
	_, err := p.Update(ctx, t.def.Name, where, set)
	return err
}

// Delete removes the rows matching where and returns how many.
func (t *Table[R]) Delete(ctx context.Context, p Persistor, where Where) (int64, error) {
	if t.err != nil {
		return 0, t.err
	}
	return p.Delete(ctx, t.def.Name, where)
}

// RowOf converts a record, which must be an R, to its canonical row.
func (t *Table[R]) RowOf(record any) (Row, error) {
	r, ok := record.(R)
	if !ok {
		return nil, fmt.Errorf("%s: record is a %T, want %s", t.def.Name, record, reflect.TypeFor[R]())
	}
	return t.toRow(r)
}

// RecordOf converts a canonical row to an R.
func (t *Table[R]) RecordOf(row Row) (any, error) { return t.fromRow(row) }

func (t *Table[R]) toRow(r R) (Row, error) {
	if t.err != nil {
		return nil, t.err
	}
	v := reflect.ValueOf(r)
	row := make(Row, len(t.fields))
	for _, f := range t.fields {
		fv := v.FieldByIndex(f.index)
		switch fv.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			if fv.IsNil() && f.col.Nullable {
				row[f.col.Name] = nil
				continue
			}
		}
		c, err := canonical(f.col.Type, fv.Interface())
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.def.Name, f.col.Name, err)
		}
		row[f.col.Name] = c
	}
	return row, nil
}

func (t *Table[R]) fromRow(row Row) (R, error) {
	var r R
	if t.err != nil {
		return r, t.err
	}
	v := reflect.ValueOf(&r).Elem()
	for _, f := range t.fields {
		val, ok := row[f.col.Name]
		if !ok || val == nil {
			continue
		}
		fv := v.FieldByIndex(f.index)
		if fv.Kind() == reflect.Pointer && f.col.Type != JSON {
			fv.Set(reflect.New(fv.Type().Elem()))
			fv = fv.Elem()
		}
		if err := assign(fv, f.col.Type, val); err != nil {
			return r, fmt.Errorf("%s.%s: %w", t.def.Name, f.col.Name, err)
		}
	}
	return r, nil
}

var (
	timeType = reflect.TypeFor[time.Time]()
	uuidType = reflect.TypeFor[uuid.UUID]()
)

func columnTypeOf(t reflect.Type) (ColumnType, bool) {
	nullable := false
	if t.Kind() == reflect.Pointer {
		nullable, t = true, t.Elem()
	}
	switch {
	case t == timeType:
		return Time, nullable
	case t == uuidType:
		return UUID, nullable
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return Bytes, nullable
	}
	switch t.Kind() {
	case reflect.String:
		return Text, nullable
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return Int, nullable
	case reflect.Float32, reflect.Float64:
		return Float, nullable
	case reflect.Bool:
		return Bool, nullable
	}
	return JSON, true
}

// canonical converts a Go value to the canonical value of a column type.
func canonical(t ColumnType, v any) (any, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, nil
		}
		rv = rv.Elem()
	}
	bad := func() (any, error) { return nil, fmt.Errorf("a %s column cannot hold %T", t, v) }
	switch t {
	case Text:
		if rv.Kind() == reflect.String {
			return rv.String(), nil
		}
	case Int:
		switch {
		case rv.CanInt():
			return rv.Int(), nil
		case rv.CanUint():
			return int64(rv.Uint()), nil
		}
	case Float:
		switch {
		case rv.CanFloat():
			return rv.Float(), nil
		case rv.CanInt():
			return float64(rv.Int()), nil
		}
	case Bool:
		if rv.Kind() == reflect.Bool {
			return rv.Bool(), nil
		}
	case Time:
		if rv.Type() == timeType {
			return CanonicalTime(rv.Interface().(time.Time)), nil
		}
	case UUID:
		switch {
		case rv.Type() == uuidType:
			return rv.Interface().(uuid.UUID), nil
		case rv.Kind() == reflect.Array && rv.Len() == 16 && rv.Type().Elem().Kind() == reflect.Uint8:
			var id uuid.UUID
			reflect.Copy(reflect.ValueOf(id[:]), rv)
			return id, nil
		case rv.Kind() == reflect.String:
			id, err := uuid.Parse(rv.String())
			if err != nil {
				return nil, fmt.Errorf("a uuid column cannot hold %q: %w", rv.String(), err)
			}
			return id, nil
		}
	case Bytes:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return append([]byte(nil), rv.Bytes()...), nil
		}
	case JSON:
		switch x := rv.Interface().(type) {
		case json.RawMessage: // already encoded, as rows hold JSON columns
			return append([]byte(nil), x...), nil
		case []byte:
			return append([]byte(nil), x...), nil
		}
		b, err := json.Marshal(rv.Interface())
		if err != nil {
			return nil, fmt.Errorf("encode json column: %w", err)
		}
		return b, nil
	}
	return bad()
}

// assign stores the canonical value val into the field fv.
func assign(fv reflect.Value, t ColumnType, val any) error {
	if t == JSON {
		b, ok := val.([]byte)
		if !ok {
			return fmt.Errorf("json column holds %T, want []byte", val)
		}
		return json.Unmarshal(b, fv.Addr().Interface())
	}
	rv := reflect.ValueOf(val)
	switch {
	case rv.Type().AssignableTo(fv.Type()):
		fv.Set(rv)
	case rv.CanConvert(fv.Type()):
		fv.Set(rv.Convert(fv.Type()))
	default:
		return fmt.Errorf("cannot store %T in %s", val, fv.Type())
	}
	return nil
}

func snakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
