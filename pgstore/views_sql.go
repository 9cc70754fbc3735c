package pgstore

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// createTablesSQL returns one script that takes the schema's DDL lock and
// creates the tables and indexes of defs that do not exist. Run without
// parameters it is one simple-protocol query: one implicit transaction, so the
// lock is held until every table exists.
func createTablesSQL(schema string, defs []es.TableDef) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT pg_advisory_xact_lock(hashtextextended('pgstore views %s', 0));\n", schema)
	for _, d := range defs {
		if err := checkTableDef(d); err != nil {
			return "", err
		}
		table := quoteIdent(schema) + "." + quoteIdent(d.Name)
		fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (\n", table)
		for _, c := range d.Columns {
			null := " NOT NULL"
			if c.Nullable && !slices.Contains(d.Key, c.Name) {
				null = ""
			}
			fmt.Fprintf(&b, "\t%s %s%s,\n", quoteIdent(c.Name), sqlTypes[c.Type], null)
		}
		fmt.Fprintf(&b, "\tPRIMARY KEY (%s)\n);\n", quoteList(d.Key))
		for _, idx := range d.Indexes {
			fmt.Fprintf(&b, "CREATE INDEX IF NOT EXISTS %s ON %s (%s);\n", quoteIdent(indexName(d.Name, idx)), table, quoteList(idx))
		}
	}
	return b.String(), nil
}

func checkTableDef(d es.TableDef) error {
	if err := checkIdent("table name", d.Name); err != nil {
		return err
	}
	if len(d.Columns) == 0 {
		return fmt.Errorf("pgstore: table %s has no columns", d.Name)
	}
	seen := map[string]bool{}
	for _, c := range d.Columns {
		if err := checkIdent("column name in table "+d.Name, c.Name); err != nil {
			return err
		}
		if seen[c.Name] {
			return fmt.Errorf("pgstore: table %s: column %s is defined twice", d.Name, c.Name)
		}
		seen[c.Name] = true
		if _, ok := sqlTypes[c.Type]; !ok {
			return fmt.Errorf("pgstore: table %s: column %s has unknown type %v", d.Name, c.Name, c.Type)
		}
	}
	if len(d.Key) == 0 {
		return fmt.Errorf("pgstore: table %s has no primary key", d.Name)
	}
	for _, cols := range append([][]string{d.Key}, d.Indexes...) {
		if len(cols) == 0 {
			return fmt.Errorf("pgstore: table %s: an index has no columns", d.Name)
		}
		for _, k := range cols {
			if !seen[k] {
				return fmt.Errorf("pgstore: table %s: key or index column %q does not exist", d.Name, k)
			}
		}
	}
	return nil
}

// indexName is table_col1_col2_idx, or, when that is longer than PostgreSQL's
// 63 bytes, a prefix and a hash of it.
func indexName(table string, cols []string) string {
	name := table + "_" + strings.Join(cols, "_") + "_idx"
	if len(name) <= 63 {
		return name
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	sum := strconv.FormatUint(h.Sum64(), 16)
	return name[:63-len(sum)-5] + "_" + sum + "_idx"
}

// sameTable reports whether a table as PostgreSQL describes it matches def:
// the same columns in the same order, and the same key. Key columns are never
// null in PostgreSQL, whatever def says.
func sameTable(got, def es.TableDef) bool {
	norm := func(d es.TableDef) []es.Column {
		cols := slices.Clone(d.Columns)
		for i := range cols {
			if slices.Contains(d.Key, cols[i].Name) {
				cols[i].Nullable = false
			}
		}
		return cols
	}
	return slices.Equal(norm(got), norm(def)) && slices.Equal(got.Key, def.Key)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

func tableRef(schema string, d es.TableDef) string {
	return quoteIdent(schema) + "." + quoteIdent(d.Name)
}

// param turns a canonical value of column c into what pgx encodes directly. A
// typed nil []byte is a value, not NULL (es.Canonical makes one of every empty
// slice): an empty bytea, or a JSON null.
func param(c es.Column, v any) any {
	switch x := v.(type) {
	case uuid.UUID:
		return [16]byte(x)
	case []byte:
		if x == nil && c.Type == es.JSON {
			return []byte("null")
		}
		if x == nil {
			return []byte{}
		}
	}
	return v
}

// insertSQL returns an INSERT of every column of r (r holds them all), in the
// table's column order so that the statement text, and pgx's prepared
// statement, is the same for every row. upsert replaces a row with the same key.
func insertSQL(schema string, d es.TableDef, r es.Row, upsert bool) (string, []any) {
	var cols, vals, sets []string
	args := make([]any, 0, len(d.Columns))
	for _, c := range d.Columns {
		args = append(args, param(c, r[c.Name]))
		cols = append(cols, quoteIdent(c.Name))
		vals = append(vals, "$"+strconv.Itoa(len(args)))
		if !slices.Contains(d.Key, c.Name) {
			sets = append(sets, quoteIdent(c.Name)+" = EXCLUDED."+quoteIdent(c.Name))
		}
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", tableRef(schema, d), strings.Join(cols, ", "), strings.Join(vals, ", "))
	if upsert {
		if len(sets) == 0 {
			sql += fmt.Sprintf(" ON CONFLICT (%s) DO NOTHING", quoteList(d.Key))
		} else {
			sql += fmt.Sprintf(" ON CONFLICT (%s) DO UPDATE SET %s", quoteList(d.Key), strings.Join(sets, ", "))
		}
	}
	return sql, args
}

// whereSQL returns the WHERE clause for cond (empty when cond is), numbering
// parameters after args, with columns in table order; nil matches NULL.
func whereSQL(d es.TableDef, cond es.Row, args []any) (string, []any) {
	var parts []string
	for _, c := range d.Columns {
		v, ok := cond[c.Name]
		if !ok {
			continue
		}
		if v == nil {
			parts = append(parts, quoteIdent(c.Name)+" IS NULL")
			continue
		}
		args = append(args, param(c, v))
		parts = append(parts, quoteIdent(c.Name)+" = $"+strconv.Itoa(len(args)))
	}
	if len(parts) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(parts, " AND "), args
}

func updateSQL(schema string, d es.TableDef, cond, set es.Row) (string, []any) {
	var sets []string
	var args []any
	for _, c := range d.Columns {
		v, ok := set[c.Name]
		if !ok {
			continue
		}
		args = append(args, param(c, v))
		sets = append(sets, quoteIdent(c.Name)+" = $"+strconv.Itoa(len(args)))
	}
	where, args := whereSQL(d, cond, args)
	return fmt.Sprintf("UPDATE %s SET %s%s", tableRef(schema, d), strings.Join(sets, ", "), where), args
}

func countSQL(schema string, d es.TableDef, cond es.Row) (string, []any) {
	where, args := whereSQL(d, cond, nil)
	return fmt.Sprintf("SELECT count(*) FROM %s%s", tableRef(schema, d), where), args
}

func deleteSQL(schema string, d es.TableDef, cond es.Row) (string, []any) {
	where, args := whereSQL(d, cond, nil)
	return fmt.Sprintf("DELETE FROM %s%s", tableRef(schema, d), where), args
}

// findSQL selects every column in table order, ordered by key as Go compares
// values (text bytewise: COLLATE "C").
func findSQL(schema string, d es.TableDef, cond es.Row) (string, []any) {
	cols := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = quoteIdent(c.Name)
	}
	order := make([]string, len(d.Key))
	for i, k := range d.Key {
		order[i] = quoteIdent(k)
		if c, _ := d.Column(k); c.Type == es.Text {
			order[i] += ` COLLATE "C"`
		}
	}
	where, args := whereSQL(d, cond, nil)
	return fmt.Sprintf("SELECT %s FROM %s%s ORDER BY %s", strings.Join(cols, ", "), tableRef(schema, d), where, strings.Join(order, ", ")), args
}
