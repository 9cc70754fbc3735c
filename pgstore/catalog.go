package pgstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/consequent/consequent/es"
)

// catalog caches the definitions of view tables as PostgreSQL reports them, so
// that a write needs no look-up once its table was seen. It is safe for
// concurrent use; an entry is dropped when PostgreSQL says its table or a column
// is gone.
type catalog struct {
	mu     sync.Mutex
	tables map[string]es.TableDef
}

func newCatalog() *catalog { return &catalog{tables: map[string]es.TableDef{}} }

func (c *catalog) get(name string) (es.TableDef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.tables[name]
	return d, ok
}

func (c *catalog) put(d es.TableDef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables[d.Name] = d
}

func (c *catalog) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tables, name)
}

// describeSQL lists a table's columns in order: name, type, not null, and the
// column's place in the primary key (0: not a key column).
const describeSQL = `
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce((SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                  WHERE k.attnum = a.attnum), 0)::int4
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`

var columnTypes = map[string]es.ColumnType{
	"text":                     es.Text,
	"bigint":                   es.Int,
	"double precision":         es.Float,
	"boolean":                  es.Bool,
	"timestamp with time zone": es.Time,
	"uuid":                     es.UUID,
	"bytea":                    es.Bytes,
	"jsonb":                    es.JSON,
}

var sqlTypes = map[es.ColumnType]string{
	es.Text:  `text COLLATE "C"`,
	es.Int:   "bigint",
	es.Float: "double precision",
	es.Bool:  "boolean",
	es.Time:  "timestamptz",
	es.UUID:  "uuid",
	es.Bytes: "bytea",
	es.JSON:  "jsonb",
}

// describe reads the definition of table name from PostgreSQL; ok is false when
// there is no such table. Indexes are not read: rows do not depend on them.
func describe(ctx context.Context, q Querier, schema, name string) (def es.TableDef, ok bool, err error) {
	rows, err := q.Query(ctx, describeSQL, schema, name)
	if err != nil {
		return def, false, err
	}
	defer rows.Close()
	def.Name = name
	keys := map[int32]string{}
	for rows.Next() {
		var (
			col, typ string
			notNull  bool
			keyPos   int32
		)
		if err := rows.Scan(&col, &typ, &notNull, &keyPos); err != nil {
			return def, false, err
		}
		ct, known := columnTypes[typ]
		if !known {
			return def, false, fmt.Errorf("column %s has type %s, which view tables do not support", col, typ)
		}
		def.Columns = append(def.Columns, es.Column{Name: col, Type: ct, Nullable: !notNull})
		if keyPos > 0 {
			keys[keyPos] = col
		}
	}
	if err := rows.Err(); err != nil {
		return def, false, err
	}
	for i := int32(1); i <= int32(len(keys)); i++ {
		def.Key = append(def.Key, keys[i])
	}
	return def, len(def.Columns) > 0, nil
}
