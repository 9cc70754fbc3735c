package pgtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consequent/consequent/pgstore"
)

// resetter empties a process database between specs.
//
// Measured on the project's machines (PostgreSQL 15, fsync off): cloning a fresh
// database costs 25–300 ms depending on the disk, TRUNCATE of pgstore's tables
// 6–40 ms (it swaps every table's and index's files), DELETE of a few rows and
// setval of the identities about 0.3 ms. So small tables are emptied with DELETE,
// and a table holding many rows (a load spec) with TRUNCATE, which leaves no dead
// rows behind.
type resetter struct {
	sql string // one batch: a SELECT (view tables present), then one DO block
}

// bigTable is the row count from which a table is truncated instead of deleted.
const bigTable = 1000

// newResetter looks at the fresh clone: the pgstore tables that hold rows right
// after the migrations (the migration ledger) are kept by every reset, all others
// are emptied; the view tables are dropped.
func newResetter(ctx context.Context, pool *pgxpool.Pool, cfg pgstore.Config) (*resetter, error) {
	rows, err := pool.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", cfg.Schema)
	if err != nil {
		return nil, wrap("listing pgstore tables", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("listing pgstore tables", err)
	}
	var keep []string
	for _, t := range tables {
		var filled bool
		q := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s)", pgx.Identifier{cfg.Schema, t}.Sanitize())
		if err := pool.QueryRow(ctx, q).Scan(&filled); err != nil {
			return nil, wrap("inspecting table "+t, err)
		}
		if filled {
			keep = append(keep, literal(t))
		}
	}
	// DELETE in any order is only safe without foreign keys between the tables.
	var foreignKeys bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE c.contype = 'f' AND n.nspname = $1)`, cfg.Schema).Scan(&foreignKeys); err != nil {
		return nil, wrap("inspecting foreign keys", err)
	}
	r := strings.NewReplacer(
		"{schema}", literal(cfg.Schema),
		"{views}", literal(cfg.ViewSchema),
		"{keep}", "ARRAY["+strings.Join(keep, ",")+"]::text[]",
		"{big}", strconv.Itoa(bigTable),
		"{fk}", strconv.FormatBool(foreignKeys),
	)
	return &resetter{sql: r.Replace(resetSQL)}, nil
}

// resetSQL runs as one simple-protocol batch: one round trip, one implicit
// transaction. The first statement reports whether there are view tables to drop.
// Tables and sequences are listed anew each time: pgstore or a spec may create some
// after the migrations. The lock timeout turns a connection left in a transaction
// by an earlier spec into an error instead of a hang.
const resetSQL = `
SELECT set_config('lock_timeout', '10s', true),
       EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = {views});
DO $reset$
DECLARE
    t text;
    big boolean;
    views text;
BEGIN
    SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO views
      FROM pg_tables WHERE schemaname = {views};
    IF views IS NOT NULL THEN
        EXECUTE 'DROP TABLE IF EXISTS ' || views || ' CASCADE';
    END IF;
    FOR t IN SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
              WHERE schemaname = {schema} AND tablename <> ALL ({keep}) LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s OFFSET %s)', t, {big}) INTO big;
        IF big OR {fk} THEN
            EXECUTE 'TRUNCATE ' || t || ' CASCADE';
        ELSE
            EXECUTE 'DELETE FROM ' || t;
        END IF;
    END LOOP;
    -- Identities restart, so positions are as deterministic as the memory store's.
    PERFORM setval(format('%I.%I', schemaname, sequencename), start_value, false)
       FROM pg_sequences WHERE schemaname = {schema};
END
$reset$;`

// run empties the database.
func (r *resetter) run(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return wrap("reset", err)
	}
	defer conn.Release()
	results, err := conn.Conn().PgConn().Exec(ctx, r.sql).ReadAll()
	if err != nil {
		return fmt.Errorf("pgtest: reset (is a connection of an earlier spec still in a transaction?): %w", err)
	}
	if len(results) == 0 || len(results[0].Rows) != 1 || string(results[0].Rows[0][1]) != "t" {
		return nil // no view tables were dropped
	}
	// Cached statements may describe dropped view tables; a table re-created with
	// other columns would make them fail ("cached plan must not change result type").
	if err := conn.Conn().DeallocateAll(ctx); err != nil {
		return wrap("reset: deallocating statements", err)
	}
	for _, c := range pool.AcquireAllIdle(ctx) {
		err := c.Conn().DeallocateAll(ctx)
		c.Release()
		if err != nil {
			return wrap("reset: deallocating statements", err)
		}
	}
	return nil
}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
