package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPgstore(t *testing.T) {
	RegisterFailHandler(Fail)
	defer pgtest.Close()
	// Reads of the global log wait for the watermark: any transaction in flight
	// in the cluster, also one of another test process, holds it back.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	EnforceDefaultTimeoutsWhenUsingContexts()
	RunSpecs(t, "pgstore")
}

const envDSN = "CONSEQUENT_TEST_DATABASE_URL"

// The test database of this Ginkgo process: created fresh, migrated, dropped at
// the end. pool is nil when no server is configured.
var (
	serverDSN string // the server, as configured
	pool      *pgxpool.Pool
	store     *pgstore.Store
	cleanups  []func()
)

var _ = BeforeSuite(func(ctx SpecContext) {
	serverDSN = os.Getenv(envDSN)
	if serverDSN == "" {
		return
	}
	p, drop := newDatabase(ctx)
	cleanups = append(cleanups, drop)
	Expect(pgstore.Migrate(ctx, p, pgstore.Config{})).To(Succeed())
	s, err := pgstore.New(p, pgstore.Config{})
	Expect(err).NotTo(HaveOccurred())
	pool, store = p, s
}, NodeTimeout(time.Minute))

var _ = AfterSuite(func() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
})

// requireDB skips the spec unless a server is configured.
func requireDB() {
	if pool == nil {
		Skip(fmt.Sprintf("no PostgreSQL: set %s to a DSN whose role may create databases, e.g. "+
			"postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable "+
			"(sudo sh .ci/pg-start.sh starts one)", envDSN))
	}
}

// newDatabase creates an empty database with a random name and returns a pool on
// it and a function that closes the pool and drops the database.
func newDatabase(ctx context.Context) (*pgxpool.Pool, func()) {
	admin, err := pgx.Connect(ctx, serverDSN)
	Expect(err).NotTo(HaveOccurred())
	defer admin.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pgstore_test_" + hex.EncodeToString(b)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	Expect(err).NotTo(HaveOccurred())
	cfg, err := pgxpool.ParseConfig(serverDSN)
	Expect(err).NotTo(HaveOccurred())
	cfg.ConnConfig.Database = name
	cfg.MaxConns = 12
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	return p, func() {
		p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, serverDSN); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	}
}
