package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consequent/consequent/pgstore"
)

// templateVersion changes when the way pgtest builds its template changes.
// pgstore's migrations are hashed into the template's name (see templateKey).
const templateVersion = 1

// poolMaxConns is the pool size on a process database unless the DSN sets
// pool_max_conns: enough for concurrency specs (several writers), small enough for
// a few parallel processes on one server.
const poolMaxConns = 12

// provision finds a server, makes sure the migrated template exists and clones
// this process's database from it.
func provision(ctx context.Context, proc int) (db *DB, err error) {
	var t Timings
	start := time.Now()
	srv, err := findServer(ctx)
	if err != nil {
		return nil, err
	}
	t.Server = time.Since(start)
	defer func() {
		if err != nil {
			_ = srv.close(context.WithoutCancel(ctx))
		}
	}()

	admin, err := pgx.Connect(ctx, srv.adminDSN)
	if err != nil {
		return nil, fmt.Errorf("pgtest: connecting to %s: %w", redact(srv.adminDSN), err)
	}
	defer admin.Close(context.WithoutCancel(ctx))

	start = time.Now()
	tmpl, err := ensureTemplate(ctx, admin, srv.adminDSN)
	if err != nil {
		return nil, err
	}
	t.Template = time.Since(start)

	name := processDBName(proc)
	start = time.Now()
	err = clone(ctx, admin, tmpl, name)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // the template was dropped meanwhile
		if tmpl, err = ensureTemplate(ctx, admin, srv.adminDSN); err == nil {
			err = clone(ctx, admin, tmpl, name)
		}
	}
	if err != nil {
		return nil, err
	}
	t.Clone = time.Since(start)
	defer func() {
		if err != nil {
			_ = dropDatabase(context.WithoutCancel(ctx), admin, name)
		}
	}()

	start = time.Now()
	dsn, err := withDatabase(srv.adminDSN, name)
	if err != nil {
		return nil, err
	}
	pool, err := newPool(ctx, dsn)
	if err != nil {
		return nil, err
	}
	t.Connect = time.Since(start)
	r, err := newResetter(ctx, pool, Config())
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{Name: name, DSN: dsn, Pool: pool, Source: srv.source, Template: tmpl, Timings: t, server: srv, reset: r}, nil
}

// close drops the process database and stops the container, if any.
func (db *DB) close(ctx context.Context) error {
	db.Pool.Close()
	var errs []error
	if db.server.container == nil { // a container's databases go with it
		admin, err := pgx.Connect(ctx, db.server.adminDSN)
		if err == nil {
			err = dropDatabase(ctx, admin, db.Name)
			admin.Close(ctx)
		}
		errs = append(errs, err)
	}
	errs = append(errs, db.server.close(ctx))
	return errors.Join(errs...)
}

// TempDatabase creates another database on the server, for specs that need one
// besides the process database (migration specs, for instance): a clone of the
// migrated template, or an empty database when migrated is false. drop removes it;
// [Close] does not.
func (db *DB) TempDatabase(ctx context.Context, migrated bool) (dsn string, drop func(context.Context) error, err error) {
	admin, err := pgx.Connect(ctx, db.server.adminDSN)
	if err != nil {
		return "", nil, wrap("connecting to the server", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	name := fmt.Sprintf("%s_t%d", db.Name, db.temps.Add(1))
	tmpl := "template0"
	if migrated {
		tmpl = db.Template
	}
	if err := clone(ctx, admin, tmpl, name); err != nil {
		return "", nil, err
	}
	drop = func(ctx context.Context) error {
		admin, err := pgx.Connect(ctx, db.server.adminDSN)
		if err != nil {
			return wrap("connecting to the server", err)
		}
		defer admin.Close(context.WithoutCancel(ctx))
		return dropDatabase(ctx, admin, name)
	}
	dsn, err = withDatabase(db.server.adminDSN, name)
	if err != nil {
		_ = drop(ctx)
		return "", nil, err
	}
	return dsn, drop, nil
}

// ensureTemplate returns the name of the migrated template database, building it
// when it does not exist yet. Parallel processes (and other test binaries on the
// same server) serialise on an advisory lock; the template is built under another
// name and renamed when complete, so a crashed build is never cloned.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, adminDSN string) (string, error) {
	name := "consequent_tmpl_" + templateKey()
	exists := func() (bool, error) {
		var ok bool
		err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
		return ok, err
	}
	if ok, err := exists(); err != nil || ok {
		return name, wrap("looking for the template", err)
	}
	// Session lock on the admin connection; advisory locks are per database, and
	// every process connects to the same maintenance database.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended('consequent pgtest template', 0))"); err != nil {
		return "", wrap("locking the template", err)
	}
	defer admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtextextended('consequent pgtest template', 0))")
	if ok, err := exists(); err != nil || ok {
		return name, wrap("looking for the template", err) // another process built it meanwhile
	}

	build := name + "_build"
	if err := dropDatabase(ctx, admin, build); err != nil { // left by a crashed build
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{build}.Sanitize()); err != nil {
		return "", wrap("creating the template", err)
	}
	if err := migrate(ctx, adminDSN, build); err != nil {
		_ = dropDatabase(context.WithoutCancel(ctx), admin, build)
		return "", err
	}
	// Nobody may connect to a template while it is cloned: forbid it outright.
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
		pgx.Identifier{build}.Sanitize(), pgx.Identifier{name}.Sanitize())); err != nil {
		return "", wrap("renaming the template", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
		pgx.Identifier{name}.Sanitize())); err != nil {
		return "", wrap("marking the template", err)
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS 'pgtest template, built %d'",
		pgx.Identifier{name}.Sanitize(), time.Now().Unix())); err != nil {
		return "", wrap("marking the template", err)
	}
	dropOldTemplates(ctx, admin, name)
	return name, nil
}

// templateMaxAge is the age from which the templates of other migration versions
// are dropped: younger ones may belong to a checkout whose specs run right now.
const templateMaxAge = time.Hour

// dropOldTemplates drops the templates of other migration versions built more
// than templateMaxAge ago, so that a developer's server does not collect one per
// edit of a migration. A process that still clones one of them rebuilds it.
func dropOldTemplates(ctx context.Context, admin *pgx.Conn, keep string) {
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database
		WHERE datname LIKE 'consequent\_tmpl\_%' AND datname NOT LIKE '%\_build' AND datname <> $1
		  AND coalesce(substring(shobj_description(oid, 'pg_database') FROM 'built (\d+)$')::bigint, 0) < $2`,
		keep, time.Now().Add(-templateMaxAge).Unix())
	if err != nil {
		return
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, t := range old {
		id := pgx.Identifier{t}.Sanitize()
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+id+" WITH IS_TEMPLATE false"); err == nil {
			_ = dropDatabase(ctx, admin, t)
		}
	}
}

// migrate runs pgstore's migrations in database name. The pool is closed before it
// returns: a template must have no connections when it is cloned.
func migrate(ctx context.Context, adminDSN, name string) error {
	dsn, err := withDatabase(adminDSN, name)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return wrap("connecting to the template", err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool, Config()); err != nil {
		return fmt.Errorf("pgtest: migrating the template: %w", err)
	}
	return nil
}

// clone (re)creates database name from the template. A database of that name is
// a leftover of a killed run of the same package and process number: dropped.
func clone(ctx context.Context, admin *pgx.Conn, tmpl, name string) error {
	if err := dropDatabase(ctx, admin, name); err != nil {
		return err
	}
	_, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{tmpl}.Sanitize()))
	return wrap("cloning the template", err)
}

func dropDatabase(ctx context.Context, admin *pgx.Conn, name string) error {
	_, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return wrap("dropping database "+name, err)
}

func newPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, wrap("parsing the DSN", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = poolMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap("connecting", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrap("connecting", err)
	}
	return pool, nil
}

// withDatabase returns dsn pointing at database name (URL or key=value form).
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("pgtest: parsing %s: %w", EnvDatabaseURL, err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		return "", fmt.Errorf("pgtest: parsing %s: %w", EnvDatabaseURL, err)
	}
	return dsn + " dbname=" + name, nil // the last setting wins
}

// processDBName names this process's database after the test binary's package
// directory and the process number, so that test binaries of several packages
// (go test ./... runs them at once) never share a database, and a rerun replaces
// the leftovers of a killed one. A binary that runs benchmarks (go test -bench)
// gets a name of its own, so that it does not clone over the database of the same
// package's specs running meanwhile (Ginkgo process 1), nor they over its.
func processDBName(proc int) string {
	dir, _ := os.Getwd()
	sum := sha256.Sum256([]byte(dir))
	base := nonIdent.ReplaceAllString(strings.ToLower(filepath.Base(dir)), "")
	if len(base) > 24 {
		base = base[:24]
	}
	kind := "p"
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		kind = "bench_p"
	}
	return fmt.Sprintf("consequent_test_%s_%s_%s%d", base, hex.EncodeToString(sum[:])[:8], kind, proc)
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]`)

// templateKey identifies the template: pgtest's template version and the content
// of pgstore's migrations, so a changed migration gets a new template.
func templateKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "pgtest template v%d\n", templateVersion)
	hashMigrations(h)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// hashMigrations hashes pgstore's SQL files, found next to this package's source.
// When the source is not on disk (a -trimpath build), only the version counts.
func hashMigrations(h interface{ Write([]byte) (int, error) }) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return
	}
	root := filepath.Dir(filepath.Dir(file)) // pgstore/
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && path != root && d.Name() == "pgtest" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".sql") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil {
			rel, _ := filepath.Rel(root, path)
			fmt.Fprintf(h, "%s %d\n", rel, len(b))
			h.Write(b)
		}
		return nil
	})
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pgtest: %s: %w", what, err)
}
