package es

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Persistor is the contract for view tables (read models), the implementers' side:
// projectors reach it through typed [Table] handles. The in-memory store's
// persistor and pgstore implement it; both must agree on the semantics below.
//
// Rows carry canonical values only: string, int64, float64, bool, time.Time (UTC,
// microsecond precision), uuid.UUID, []byte (for Bytes and JSON columns) and nil
// for NULL. Every method names its table; an unknown table is an error.
// Implementations must be safe for concurrent use, except a persistor bound to one
// transaction, which is used by one goroutine at a time.
type Persistor interface {
	// CreateTables creates the tables that do not exist yet; it is idempotent.
	CreateTables(ctx context.Context, tables ...TableDef) error
	// Insert adds a row. A row with the same primary key yields [ErrDuplicateRecord].
	Insert(ctx context.Context, table string, row Row) error
	// Upsert inserts a row or replaces the one with the same primary key.
	Upsert(ctx context.Context, table string, row Row) error
	// Update sets the given columns on every row matching where and returns how many
	// rows it changed.
	Update(ctx context.Context, table string, where Where, set Row) (int64, error)
	// Delete removes every row matching where and returns how many.
	Delete(ctx context.Context, table string, where Where) (int64, error)
	// Find returns the rows matching where, ordered by primary key.
	Find(ctx context.Context, table string, where Where) ([]Row, error)
}

// A Setter is a [Persistor] that takes updates whose row counts nobody reads:
// it may queue one and send it with the statements that follow, as pgstore does
// with an inline projector's writes, which travel with the commit. [Table.Set]
// uses it when the Persistor has it, and [Persistor.Update] otherwise.
type Setter interface {
	// Set sets the given columns on every row matching where.
	Set(ctx context.Context, table string, where Where, set Row) error
}

// Row is one view-table row: column name to canonical value.
type Row map[string]any

// Where selects rows by equality on every listed column; an empty Where selects all
// rows. Values may be any Go value a column of that type accepts (see [Table]).
type Where map[string]any

// ColumnType is the type of a view-table column.
type ColumnType int

// Column types and the Go values that map to them.
const (
	Text  ColumnType = iota + 1 // string
	Int                         // int, int8…int64, uint8…uint32
	Float                       // float32, float64
	Bool                        // bool
	Time                        // time.Time
	UUID                        // uuid.UUID
	Bytes                       // []byte
	JSON                        // any other type, encoded as JSON
)

func (t ColumnType) String() string {
	switch t {
	case Text:
		return "text"
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Time:
		return "time"
	case UUID:
		return "uuid"
	case Bytes:
		return "bytes"
	case JSON:
		return "json"
	}
	return fmt.Sprintf("ColumnType(%d)", int(t))
}

// Column is one column of a view table.
type Column struct {
	Name     string
	Type     ColumnType
	Nullable bool
}

// TableDef describes a view table to a [Persistor].
type TableDef struct {
	Name    string
	Columns []Column
	Key     []string   // primary-key columns
	Indexes [][]string // secondary indexes
}

// String describes the table's columns and key, as errors show them:
// "(id uuid, title text, published_at time null; key id)".
func (d TableDef) String() string {
	cols := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = c.Name + " " + c.Type.String()
		if c.Nullable {
			cols[i] += " null"
		}
	}
	return fmt.Sprintf("(%s; key %s)", strings.Join(cols, ", "), strings.Join(d.Key, ", "))
}

// Column returns the named column and whether it exists.
func (d TableDef) Column(name string) (Column, bool) {
	for _, c := range d.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// KeyOf returns the Where that selects row by its primary key.
func (d TableDef) KeyOf(row Row) Where {
	w := make(Where, len(d.Key))
	for _, k := range d.Key {
		w[k] = row[k]
	}
	return w
}

// CheckRow checks a row against the table and returns it in canonical values.
// Every column must exist and a column that is not nullable must not be NULL;
// with full (an insert), absent columns must be nullable and are set to nil.
// Persistors share it, so that every store refuses the same rows the same way.
func (d TableDef) CheckRow(row Row, full bool) (Row, error) {
	out := make(Row, len(d.Columns))
	for name, v := range row {
		c, ok := d.Column(name)
		if !ok {
			return nil, fmt.Errorf("table %s has no column %q", d.Name, name)
		}
		cv, err := Canonical(c.Type, v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", d.Name, name, err)
		}
		if cv == nil && !c.Nullable {
			return nil, fmt.Errorf("%s.%s: null value in a column that is not nullable", d.Name, name)
		}
		out[name] = cv
	}
	if !full {
		return out, nil
	}
	for _, c := range d.Columns {
		if _, ok := out[c.Name]; !ok {
			if !c.Nullable {
				return nil, fmt.Errorf("insert into %s: column %s is missing", d.Name, c.Name)
			}
			out[c.Name] = nil
		}
	}
	return out, nil
}

// CheckWhere checks a Where against the table and returns its values in
// canonical form.
func (d TableDef) CheckWhere(where Where) (Row, error) {
	out := make(Row, len(where))
	for name, v := range where {
		c, ok := d.Column(name)
		if !ok {
			return nil, fmt.Errorf("table %s has no column %q", d.Name, name)
		}
		cv, err := Canonical(c.Type, v)
		if err != nil {
			return nil, fmt.Errorf("where %s.%s: %w", d.Name, name, err)
		}
		out[name] = cv
	}
	return out, nil
}

// Canonical converts v to the canonical value of a column of type t, or explains
// why it cannot. Persistors use it to normalise Where values and rows.
func Canonical(t ColumnType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return canonical(t, v)
}

// CanonicalTime returns t in the canonical form of a time: UTC, truncated to the
// microsecond, the precision PostgreSQL keeps. [Canonical] uses it for Time
// columns; stores apply it to event and command times on commit, so that a time
// reads back equal whatever the backend.
func CanonicalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// EqualValues reports whether two canonical values are equal, as a [Where]
// condition matches a column: []byte by content, time.Time by instant, any other
// value with ==. nil equals only nil. Persistors that keep rows in memory use it
// to match rows.
func EqualValues(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && string(ab) == string(bb)
	}
	if at, ok := a.(time.Time); ok {
		bt, ok := b.(time.Time)
		return ok && at.Equal(bt)
	}
	return a == b
}

// CompareValues orders two canonical values of one column type as view tables
// order rows by key, and returns -1, 0 or +1: strings and []byte byte by byte,
// numbers and times by value, false before true, uuids by their bytes. For values
// of different types, nil included, the result is unspecified (key columns are
// never NULL). Persistors that keep rows in memory use it to return rows ordered
// by primary key ([Persistor.Find]).
func CompareValues(a, b any) int {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		return strings.Compare(x, y)
	case int64:
		y, _ := b.(int64)
		return cmp.Compare(x, y)
	case float64:
		y, _ := b.(float64)
		return cmp.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		return cmp.Compare(boolInt(x), boolInt(y))
	case time.Time:
		y, _ := b.(time.Time)
		return x.Compare(y)
	case uuid.UUID:
		y, _ := b.(uuid.UUID)
		return bytes.Compare(x[:], y[:])
	case []byte:
		y, _ := b.([]byte)
		return bytes.Compare(x, y)
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
