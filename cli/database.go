package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
)

// env is what a command that works on the database has: the application's
// registry and the store.
type env struct {
	reg   *es.Registry
	pool  *pgxpool.Pool
	store *pgstore.Store
	db    string // the database's name, for messages
}

func (e *env) close() { e.pool.Close() }

// databaseURL returns the database the commands work on.
func (a *app) databaseURL() (string, error) {
	url := a.dbURL
	if url == "" {
		url = os.Getenv(EnvDatabaseURL)
	}
	if url == "" {
		return "", misuse("no database: pass --database-url or set %s", EnvDatabaseURL)
	}
	return url, nil
}

// poolConfig parses the database URL.
func (a *app) poolConfig() (*pgxpool.Config, error) {
	url, err := a.databaseURL()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, misuse("--database-url: %v", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	cfg.MaxConns = 4
	return cfg, nil
}

// open connects to the database and builds the registry. With migrated, the
// event store's schema must be up to date: the commands that read or write it
// say what to run when it is not.
func (a *app) open(ctx context.Context, migrated bool) (*env, error) {
	reg, err := a.registry()
	if err != nil {
		return nil, err
	}
	cfg, err := a.poolConfig()
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, failure("connect to the database: %v", err)
	}
	store, err := pgstore.New(pool, a.cfg)
	if err != nil {
		pool.Close()
		return nil, failure("%v", err)
	}
	e := &env{reg: reg, pool: pool, store: store, db: cfg.ConnConfig.Database}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, a.connectError(e.db, err)
	}
	if migrated {
		if err := a.checkMigrated(ctx, e); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return e, nil
}

// connectError explains a failed connection, with the fix where there is one.
func (a *app) connectError(db string, err error) error {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == "3D000" { // invalid_catalog_name
		return failure("database %q does not exist: create it with %s db create", db, a.name)
	}
	return failure("connect to the database: %v", err)
}

// checkMigrated fails unless every migration pgstore has is applied.
func (a *app) checkMigrated(ctx context.Context, e *env) error {
	ms, err := pgstore.Migrations(ctx, e.pool, a.cfg)
	if err != nil {
		return failure("%v", err)
	}
	pending := 0
	for _, m := range ms {
		if m.Applied.IsZero() {
			pending++
		}
	}
	switch {
	case pending == len(ms):
		return failure("database %q holds no event store: run %s db migrate", e.db, a.name)
	case pending > 0:
		return failure("the event store in database %q lacks %d of %d migrations: run %s db migrate", e.db, pending, len(ms), a.name)
	}
	return nil
}

// logger is what the runtime logs while a command runs: warnings and errors
// only (the commands say what they do themselves).
func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
