package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is what [Views] needs of a connection: *pgxpool.Pool, *pgxpool.Conn,
// *pgx.Conn and pgx.Tx all satisfy it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error)
}

// Views is the PostgreSQL [es.Persistor]: view tables in one schema. Its
// semantics are those of memstore.Views; rows hold the canonical values
// [es.Canonical] produces (JSON columns come back as PostgreSQL's jsonb renders
// them: the same value, not necessarily the same bytes).
//
// A Views on a pool is safe for concurrent use, each call its own transaction; a
// Views on a pgx.Tx joins that transaction and is for one goroutine at a time.
type Views struct {
	q       Querier
	schema  string
	err     error
	catalog *catalog
}

var _ es.Persistor = (*Views)(nil)

// NewViews returns the view tables in schema (default [DefaultViewSchema]) on q.
// An invalid schema name makes every method fail.
func NewViews(q Querier, schema string) *Views {
	if schema == "" {
		schema = DefaultViewSchema
	}
	return &Views{q: q, schema: schema, err: checkIdent("view schema", schema), catalog: newCatalog()}
}

// CreateTables implements [es.Persistor]. It creates the missing tables and
// indexes under a transaction-scoped advisory lock, so processes that create the
// same tables at once do not fail, and checks that tables that existed have the
// columns and key of their definition. On a pool, the tables of one call are
// created in one transaction.
func (v *Views) CreateTables(ctx context.Context, defs ...es.TableDef) error {
	if v.err != nil {
		return v.err
	}
	if len(defs) == 0 {
		return nil
	}
	ddl, err := createTablesSQL(v.schema, defs)
	if err != nil {
		return err
	}
	if _, err := v.q.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("pgstore: create tables: %w", err)
	}
	for _, d := range defs {
		got, ok, err := describe(ctx, v.q, v.schema, d.Name)
		if err != nil {
			return fmt.Errorf("pgstore: create table %s: %w", d.Name, err)
		}
		if !ok {
			return fmt.Errorf("pgstore: create table %s: not found after creating it", d.Name)
		}
		if !sameTable(got, d) {
			return fmt.Errorf("pgstore: create table %s: %w: %s, want %s", d.Name, es.ErrTableChanged, got, d)
		}
		v.catalog.put(got)
	}
	return nil
}

// Insert implements [es.Persistor].
func (v *Views) Insert(ctx context.Context, table string, row es.Row) error {
	return v.write(ctx, "insert into", table, row, false)
}

// Upsert implements [es.Persistor].
func (v *Views) Upsert(ctx context.Context, table string, row es.Row) error {
	return v.write(ctx, "upsert into", table, row, true)
}

// write inserts a whole row, replacing the one with its key when upsert is set.
func (v *Views) write(ctx context.Context, op, table string, row es.Row, upsert bool) error {
	def, r, _, err := v.prepare(ctx, table, row, true, nil)
	if err != nil {
		return err
	}
	sql, args := insertSQL(v.schema, def, r, upsert)
	if _, err := v.q.Exec(ctx, sql, args...); err != nil {
		return v.writeError(def, op, def.KeyOf(r), err)
	}
	return nil
}

// Update implements [es.Persistor].
func (v *Views) Update(ctx context.Context, table string, where es.Where, set es.Row) (int64, error) {
	def, s, cond, err := v.prepare(ctx, table, set, false, where)
	if err != nil {
		return 0, err
	}
	if len(s) == 0 { // nothing to set: count the rows it would change
		sql, args := countSQL(v.schema, def, cond)
		var n int64
		if err := v.q.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			return 0, v.writeError(def, "update", nil, err)
		}
		return n, nil
	}
	sql, args := updateSQL(v.schema, def, cond, s)
	tag, err := v.q.Exec(ctx, sql, args...)
	if err != nil {
		return 0, v.writeError(def, "update", nil, err)
	}
	return tag.RowsAffected(), nil
}

// Delete implements [es.Persistor].
func (v *Views) Delete(ctx context.Context, table string, where es.Where) (int64, error) {
	def, _, cond, err := v.prepare(ctx, table, nil, false, where)
	if err != nil {
		return 0, err
	}
	sql, args := deleteSQL(v.schema, def, cond)
	tag, err := v.q.Exec(ctx, sql, args...)
	if err != nil {
		return 0, v.writeError(def, "delete from", nil, err)
	}
	return tag.RowsAffected(), nil
}

// Find implements [es.Persistor].
func (v *Views) Find(ctx context.Context, table string, where es.Where) ([]es.Row, error) {
	def, _, cond, err := v.prepare(ctx, table, nil, false, where)
	if err != nil {
		return nil, err
	}
	sql, args := findSQL(v.schema, def, cond)
	rows, err := v.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, v.writeError(def, "find in", nil, err)
	}
	defer rows.Close()
	var out []es.Row
	dest := make([]any, len(def.Columns))
	for rows.Next() {
		vals := make([]any, len(def.Columns))
		for i, c := range def.Columns {
			if c.Type == es.JSON {
				dest[i] = new([]byte) // scanning jsonb into any would decode it
			} else {
				dest[i] = &vals[i]
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("pgstore: find in %s: %w", def.Name, err)
		}
		row := make(es.Row, len(def.Columns))
		for i, c := range def.Columns {
			if c.Type == es.JSON {
				if b := *dest[i].(*[]byte); b != nil {
					row[c.Name] = b
				} else {
					row[c.Name] = nil
				}
				continue
			}
			row[c.Name] = canonicalResult(vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, v.writeError(def, "find in", nil, err)
	}
	return out, nil
}

// prepare returns the definition of table and row and where checked against
// it (row only when non-nil). When a cached definition rejects them, the table
// is described again once: a rebuild's swap, here or in another process, may
// have replaced it since it was cached.
func (v *Views) prepare(ctx context.Context, table string, row es.Row, full bool, where es.Where) (es.TableDef, es.Row, es.Row, error) {
	for try := 0; ; try++ {
		def, err := v.table(ctx, table)
		if err != nil {
			return es.TableDef{}, nil, nil, err
		}
		var r es.Row
		if row != nil {
			r, err = prepareRow(def, row, full)
		}
		var cond es.Row
		if err == nil {
			cond, err = prepareWhere(def, where)
		}
		if err == nil || try > 0 {
			return def, r, cond, err
		}
		v.catalog.forget(table)
	}
}

// canonicalResult turns what pgx scans into any into the canonical value.
func canonicalResult(v any) any {
	switch x := v.(type) {
	case [16]byte:
		return uuid.UUID(x)
	case time.Time:
		return x.UTC()
	case []byte:
		if len(x) == 0 {
			return []byte(nil) // as es.Canonical has it
		}
	}
	return v
}

// table returns the definition of the named table, from the catalog cache or
// else from PostgreSQL.
func (v *Views) table(ctx context.Context, name string) (es.TableDef, error) {
	if v.err != nil {
		return es.TableDef{}, v.err
	}
	if d, ok := v.catalog.get(name); ok {
		return d, nil
	}
	if err := checkIdent("table name", name); err != nil {
		return es.TableDef{}, err
	}
	d, ok, err := describe(ctx, v.q, v.schema, name)
	if err != nil {
		return es.TableDef{}, fmt.Errorf("pgstore: table %s: %w", name, err)
	}
	if !ok {
		return es.TableDef{}, fmt.Errorf("pgstore: table %s.%s does not exist: create it with CreateTables", v.schema, name)
	}
	v.catalog.put(d)
	return d, nil
}

// writeError maps the failure of a statement on a view table.
func (v *Views) writeError(def es.TableDef, op string, key es.Where, err error) error {
	if pe := pgError(err); pe != nil {
		switch pe.Code {
		case codeUniqueViolation:
			return &mappedError{
				msg:  fmt.Sprintf("pgstore: %s %s: %s: %v", op, def.Name, pe.Detail, es.ErrDuplicateRecord),
				errs: []error{es.ErrDuplicateRecord, err},
			}
		case codeUndefinedTable, codeUndefinedColumn:
			v.catalog.forget(def.Name) // dropped or altered behind our back
		}
	}
	if key != nil {
		return fmt.Errorf("pgstore: %s %s: key %v: %w", op, def.Name, key, err)
	}
	return fmt.Errorf("pgstore: %s %s: %w", op, def.Name, err)
}

// prepareRow checks row against def and converts it to canonical values (see
// [es.TableDef.CheckRow]).
func prepareRow(def es.TableDef, row es.Row, full bool) (es.Row, error) {
	out, err := def.CheckRow(row, full)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return out, nil
}

// prepareWhere checks where against def and converts its values.
func prepareWhere(def es.TableDef, where es.Where) (es.Row, error) {
	out, err := def.CheckWhere(where)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return out, nil
}
