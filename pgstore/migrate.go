package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string // the file name
	sql     string // with the {{schema}} placeholder
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name it NNN_what.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// Migrate creates the schemas cfg names (the event store's and the view tables')
// and applies the embedded migrations that the event-store schema lacks, in
// version order, each in its own transaction, recording them in
// <schema>.schema_migrations. It holds a session advisory lock meanwhile, so
// processes that migrate at once wait for each other; it is idempotent.
func Migrate(ctx context.Context, pool *pgxpool.Pool, cfg Config) (err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return err
	}
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer conn.Release()
	lockName := "pgstore migrate " + cfg.Schema
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, lockName); err != nil {
		return fmt.Errorf("pgstore: migrate: take the migration lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockName); uerr != nil {
			// Closing the session is what releases the lock now.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
			err = errors.Join(err, fmt.Errorf("pgstore: migrate: release the migration lock: %w", uerr))
		}
	}()
	setup := withSchema(`
		CREATE SCHEMA IF NOT EXISTS {{schema}};
		CREATE TABLE IF NOT EXISTS {{schema}}.schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		);`, cfg.Schema) + `CREATE SCHEMA IF NOT EXISTS ` + quoteIdent(cfg.ViewSchema)
	if _, err := conn.Exec(ctx, setup); err != nil {
		return fmt.Errorf("pgstore: migrate: create schemas: %w", err)
	}
	rows, err := conn.Query(ctx, withSchema(`SELECT version FROM {{schema}}.schema_migrations`, cfg.Schema))
	if err != nil {
		return fmt.Errorf("pgstore: migrate: read applied versions: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("pgstore: migrate: read applied versions: %w", err)
	}
	done := map[int]bool{}
	for _, v := range applied {
		done[int(v)] = true
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, withSchema(m.sql, cfg.Schema)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, withSchema(`INSERT INTO {{schema}}.schema_migrations (version, name) VALUES ($1, $2)`, cfg.Schema), m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("pgstore: migrate: %s: %w", m.name, err)
		}
	}
	return nil
}

// MigrationStatus is one of pgstore's embedded migrations and whether the
// event-store schema has it.
type MigrationStatus struct {
	Version int
	Name    string    // its file name, such as "001_init.sql"
	Applied time.Time // when it was applied; zero while it is pending
}

// Migrations lists pgstore's embedded migrations in version order, each with
// the time [Migrate] applied it to the event-store schema cfg names (zero: it
// is pending). In a database never migrated, every migration is pending. It
// changes nothing: a command line's "db status" calls it.
func Migrations(ctx context.Context, pool *pgxpool.Pool, cfg Config) ([]MigrationStatus, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ms, err := migrations()
	if err != nil {
		return nil, fmt.Errorf("pgstore: migrations: %w", err)
	}
	applied := map[int]time.Time{}
	var exists bool
	ledger := cfg.Schema + ".schema_migrations"
	if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, quoteIdent(cfg.Schema)+".schema_migrations").Scan(&exists); err != nil {
		return nil, fmt.Errorf("pgstore: migrations: look for %s: %w", ledger, err)
	}
	if exists {
		rows, err := pool.Query(ctx, withSchema(`SELECT version, applied_at FROM {{schema}}.schema_migrations`, cfg.Schema))
		if err != nil {
			return nil, fmt.Errorf("pgstore: migrations: read %s: %w", ledger, err)
		}
		var v int32
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&v, &at}, func() error {
			applied[int(v)] = at.UTC()
			return nil
		}); err != nil {
			return nil, fmt.Errorf("pgstore: migrations: read %s: %w", ledger, err)
		}
	}
	out := make([]MigrationStatus, len(ms))
	for i, m := range ms {
		out[i] = MigrationStatus{Version: m.version, Name: m.name, Applied: applied[m.version]}
	}
	return out, nil
}
