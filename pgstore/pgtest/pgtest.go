package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/onsi/ginkgo/v2"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
)

// Environment variables read by pgtest.
const (
	// EnvDatabaseURL names a server to test against: a DSN whose role may create and
	// drop databases (CREATEDB). pgtest never reads the application's own
	// CONSEQUENT_DATABASE_URL, so specs cannot touch a database an application uses.
	EnvDatabaseURL = "CONSEQUENT_TEST_DATABASE_URL"
	// EnvImage names the container image started when EnvDatabaseURL is unset.
	EnvImage = "CONSEQUENT_POSTGRES_IMAGE"
	// EnvRequire, when "1" or "true", turns a missing database into a failure
	// instead of a skip (make integration-test sets it).
	EnvRequire = "CONSEQUENT_REQUIRE_DATABASE"
)

// DefaultImage is the container image used when EnvImage is unset.
const DefaultImage = "postgres:16-alpine"

// Label is the Ginkgo label every spec that uses pgtest must carry.
const Label = "integration"

// Config returns the pgstore configuration of every store pgtest returns: pgstore's
// defaults, spelled out because Reset needs the schema names.
func Config() pgstore.Config {
	return pgstore.Config{Schema: "consequent", ViewSchema: "consequent_views"}
}

// ErrNoDatabase is wrapped by the error [Open] returns when neither EnvDatabaseURL
// nor a container engine provides a server. Its message says how to get one.
var ErrNoDatabase = errors.New("pgtest: no PostgreSQL server for integration specs")

// provisionTimeout bounds the first provisioning: container start (image already
// present), template build and clone.
const provisionTimeout = 3 * time.Minute

// DB is this test process's database: a clone of the migrated template, reset
// between specs. It is safe for concurrent use.
type DB struct {
	Name     string        // the database's name
	DSN      string        // a DSN for it
	Pool     *pgxpool.Pool // a pool on it
	Source   string        // where the server came from: EnvDatabaseURL or "container <image>"
	Template string        // the migrated template it was cloned from
	Timings  Timings

	server *server
	reset  *resetter
	mu     sync.Mutex
	dirty  bool // handed out since the last reset
	temps  atomic.Int64
}

// Timings records how long provisioning took, for reports and benchmarks.
type Timings struct {
	Server   time.Duration // container start (0 when from EnvDatabaseURL)
	Template time.Duration // waiting for or building the template (migrations)
	Clone    time.Duration // CREATE DATABASE … TEMPLATE
	Connect  time.Duration // pool on the clone, first connection
}

func (t Timings) String() string {
	return fmt.Sprintf("server %v, template %v, clone %v, connect %v",
		t.Server.Round(time.Millisecond), t.Template.Round(time.Millisecond),
		t.Clone.Round(time.Millisecond), t.Connect.Round(time.Millisecond))
}

// The one piece of package state: a test process has at most one server and one
// database, provisioned on first use and released by [Close].
var process struct {
	mu  sync.Mutex
	db  *DB
	err error // sticky: once provisioning failed, every later call fails alike
}

// Open returns this process's database, provisioning it on first use. The error
// wraps [ErrNoDatabase] when no server is available; callers decide whether that is
// a skip ([Backend], [Store] and [Pool] decide for Ginkgo specs).
func Open(ctx context.Context) (*DB, error) {
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.db != nil || process.err != nil {
		return process.db, process.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), provisionTimeout)
	defer cancel()
	process.db, process.err = provision(ctx, parallelProcess())
	if errors.Is(process.err, ErrNoDatabase) && !required() && firstNotice() {
		// Skip messages show only in verbose runs: say it once where it is seen,
		// once per run of the ginkgo command (every suite and process would).
		fmt.Fprintf(os.Stderr, "%v\n(the specs labelled %q that need it are skipped; make unit runs only the others)\n", process.err, Label)
	}
	return process.db, process.err
}

// Close drops this process's database and stops the container pgtest started, if
// any. Call it once when the process's specs are done: from the suite's Test
// function (defer pgtest.Close() before RunSpecs) or an AfterSuite. A later [Open]
// provisions anew.
func Close() error {
	process.mu.Lock()
	defer process.mu.Unlock()
	db := process.db
	process.db, process.err = nil, nil
	if db == nil {
		return nil
	}
	return db.close(context.Background())
}

// Reset empties the database: every pgstore table the migrations left empty is
// truncated (identities restart) and every view table is dropped. Tables the
// migrations filled (the migration ledger) are kept.
func (db *DB) Reset(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.reset.run(ctx, db.Pool); err != nil {
		return err
	}
	db.dirty = false
	return nil
}

// fresh resets the database unless nobody has used it since the last reset, and
// marks it used.
func (db *DB) fresh(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.dirty {
		if err := db.reset.run(ctx, db.Pool); err != nil {
			return err
		}
	}
	db.dirty = true
	return nil
}

// NewStore resets the database and returns a new pgstore on it.
func (db *DB) NewStore(ctx context.Context) (*pgstore.Store, error) {
	if err := db.fresh(ctx); err != nil {
		return nil, err
	}
	return pgstore.New(db.Pool, Config())
}

// Backend returns a fresh, empty event store on this process's database: the
// database is reset, then a new pgstore is returned. It has the signature of
// estest.Backend, so it can be passed as one. Its stores need no release (they
// have no Close method, see estest.Backend): the process database outlives
// them, and the next call resets it.
//
// It must be called from a Ginkgo spec labelled [Label]. On first use it provisions
// the database (see the package documentation); when there is no server it skips
// the spec with a message that says how to get one, or fails it when
// EnvRequire is set.
func Backend(ctx context.Context) (es.EventStore, error) {
	s, err := Store(ctx)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Store is [Backend] returning the concrete type, for pgstore's own specs.
func Store(ctx context.Context) (*pgstore.Store, error) {
	db := specDB(ctx)
	return db.NewStore(ctx)
}

// Pool returns a pool on this process's database, for specs that need SQL, under
// the same rules as [Backend]. It does not reset the database: call [Backend] (or
// [DB.Reset]) first for an empty one.
func Pool(ctx context.Context) (*pgxpool.Pool, error) {
	db := specDB(ctx)
	db.mu.Lock()
	db.dirty = true
	db.mu.Unlock()
	return db.Pool, nil
}

// specDB opens the database for the running Ginkgo spec, or ends the spec: Skip
// when there is no server, Fail when EnvRequire is set or provisioning broke.
func specDB(ctx context.Context) *DB {
	ginkgo.GinkgoHelper()
	checkLabel()
	db, err := Open(ctx)
	switch {
	case err == nil:
		return db
	case errors.Is(err, ErrNoDatabase) && !required():
		ginkgo.Skip(skipMessage)
	case errors.Is(err, ErrNoDatabase):
		ginkgo.Fail(fmt.Sprintf("%v\n(%s is set, so a missing database is a failure)", err, EnvRequire))
	default:
		ginkgo.Fail(err.Error())
	}
	panic("unreachable: Skip and Fail do not return")
}

// checkLabel fails a spec that uses PostgreSQL without the integration label:
// make integration-test selects specs by that label.
func checkLabel() {
	r := ginkgo.CurrentSpecReport()
	if r.FullText() == "" || slices.Contains(r.Labels(), Label) {
		return // not inside a spec (e.g. BeforeSuite), or labelled
	}
	ginkgo.Fail(fmt.Sprintf("pgtest: spec %q uses PostgreSQL but is not labelled %q: add Label(%q) to it or to its container",
		r.FullText(), Label, Label))
}

func required() bool {
	v := os.Getenv(EnvRequire)
	return v == "1" || v == "true"
}

// parallelProcess is the Ginkgo parallel process number (1 under plain go test).
func parallelProcess() int { return ginkgo.GinkgoParallelProcess() }

// skipMessage is what a skipped PostgreSQL spec says; the notice printed once
// per run says how to get a server.
const skipMessage = "pgtest: no PostgreSQL server (see the notice above, or set " + EnvDatabaseURL + ")"

// firstNotice reports whether this process is the first of this run of the
// ginkgo command (or of go test) to announce that there is no server: the
// suites and parallel processes of one run share their parent's process id.
func firstNotice() bool {
	name := filepath.Join(os.TempDir(), fmt.Sprintf("consequent-pgtest-notice-%d", os.Getppid()))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return !errors.Is(err, os.ErrExist)
	}
	_ = f.Close()
	return true
}
