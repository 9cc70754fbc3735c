package pgstore_test

// Benchmarks of pgstore beside raw pgx. Every benchmark comes in pairs named
// …/impl=consequent and …/impl=raw that do the same work in the same database in the same
// run: the framework through es.CommandService (or Store.Import), the baseline by
// hand with pgx on bare tables of the same columns and indexes (schema "raw",
// bench_raw_test.go). make bench prints them side by side (benchstat -col /impl)
// and their ratios (internal/cmd/benchgoals); absolute times drift between
// machines and runs, ratios hold.
//
// They use pgtest's database for this process (pgtest.Open): from
// CONSEQUENT_TEST_DATABASE_URL, else a container; without either they skip.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consequent/consequent/pgstore/pgtest"
)

// TestMain drops the benchmarks' database (if they opened one) when the binary
// ends. The Ginkgo suite (TestPgstore) uses databases of its own.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := pgtest.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "pgstore benchmarks:", err)
	}
	os.Exit(code)
}

// benchDB returns this process's test database, or skips b (fails it when
// CONSEQUENT_REQUIRE_DATABASE is set) when there is none.
func benchDB(b *testing.B) *pgtest.DB {
	b.Helper()
	db, err := pgtest.Open(context.Background())
	switch {
	case err == nil:
		serverOnce.Do(func() { describeServer(db) })
		return db
	case errors.Is(err, pgtest.ErrNoDatabase) && !requireDatabase():
		b.Skip("no PostgreSQL for the pgstore benchmarks: set " + pgtest.EnvDatabaseURL +
			" (make db starts one) or start a container engine")
	}
	b.Fatal(err)
	return nil
}

var serverOnce sync.Once

// describeServer prints the server's version and durability settings once, on
// a line of bench.txt: the ratios hold across settings, the absolute figures
// do not.
func describeServer(db *pgtest.DB) {
	var version, fsync, syncCommit string
	err := db.Pool.QueryRow(context.Background(), `SELECT current_setting('server_version'),
		current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&version, &fsync, &syncCommit)
	if err != nil {
		return
	}
	fmt.Printf("benchserver: PostgreSQL %s (fsync=%s, synchronous_commit=%s, from %s), GOMAXPROCS=%d\n",
		version, fsync, syncCommit, db.Source, runtime.GOMAXPROCS(0))
}

func requireDatabase() bool {
	v := os.Getenv(pgtest.EnvRequire)
	return v == "1" || v == "true"
}

// runClients runs b.N operations on n concurrent clients (goroutines) and
// reports the first error. op gets the client number.
func runClients(b *testing.B, n int, op func(client int) error) {
	b.Helper()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr atomic.Pointer[error]
	)
	pool := benchDB(b).Pool
	cpu := sampleCPU(context.Background(), pool)
	b.ResetTimer()
	for c := range n {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(c); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := firstErr.Load(); err != nil {
		b.Fatal(*err)
	}
	reportCPU(b, pool, cpu)
}

// reportEvents reports events/s: perOp events written or read per operation.
func reportEvents(b *testing.B, perOp int) {
	b.Helper()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(perOp)*float64(b.N)/s, "events/s")
	}
}

// latencies collects durations from concurrent goroutines and reports
// percentiles as benchmark metrics.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// report reports the p50 and p99 of the durations as "<name>-p50-ms" etc.
func (l *latencies) report(b *testing.B, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	at := func(p float64) float64 {
		i := int(p * float64(len(l.d)-1))
		return float64(l.d[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}
