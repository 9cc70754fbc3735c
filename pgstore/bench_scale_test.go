package pgstore_test

// BenchmarkScale: the cost as the store grows (issue 8, item 7). S1 at 8
// clients and S2 without a snapshot run on stores that already hold 0, 1M and
// 10M events ($CONSEQUENT_BENCH_SCALE; make bench-scale), beside their raw pgx
// twins on raw tables filled alike. It takes minutes and gigabytes of disk, so
// it is skipped unless the variable is set (make bench does not set it).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envScale lists the store sizes of BenchmarkScale in events, comma-separated
// multiples of 100 (e.g. 0,1000000,10000000). Unset, the benchmark is skipped.
const envScale = "CONSEQUENT_BENCH_SCALE"

// scaleClients is the concurrency of S1 in BenchmarkScale.
const scaleClients = 8

// scaleSizes returns the sizes of envScale, ascending, or skips b.
func scaleSizes(b *testing.B) []int {
	v := os.Getenv(envScale)
	if v == "" {
		b.Skipf("set %s to the store sizes to measure, e.g. 0,1000000,10000000 (make bench-scale)", envScale)
	}
	var sizes []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n%importPerStream != 0 {
			b.Fatalf("%s=%q: want sizes that are multiples of %d, comma-separated", envScale, v, importPerStream)
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

// sizeName is a size as the sub-benchmarks name it: 0, 500k, 1M, 10M.
func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// BenchmarkScale measures, for each size of $CONSEQUENT_BENCH_SCALE in
// ascending order, S1 (a unit of work of 4 events, 8 clients) and S2 (loading
// a 1,000-event account from its events) once the store holds that many
// events, named …/S1-8clients/events=1M/impl=consequent and so on, so that
// benchstat -col /events compares the sizes.
//
// Both sides live in the same database: Consequent's tables are filled with
// Store.Import, the raw tables (bench_raw_test.go, as BenchmarkS1 uses them)
// with COPY, each with the same history: accounts of 100 events of about 200
// bytes of JSON, imported 1,000 accounts (100,000 events) at a time. Each size
// tops up the previous one (S1's own writes count towards it), then both
// schemas are vacuumed and analyzed and a checkpoint is taken, before the
// sizes of their tables and indexes are printed (lines "scale …"). The account
// S2 loads is written first, into the empty store, so it is the oldest of the
// larger stores. The raw tables lack the indexes that pgstore adds for the
// browser (events by type, streams by type, commands by time, user,
// correlation and causation): what they cost as the store grows is part of
// what is measured.
func BenchmarkScale(b *testing.B) {
	sizes := scaleSizes(b)
	ctx := context.Background()
	db := benchDB(b)
	store, err := db.NewStore(ctx) // the database reset: an empty store
	if err != nil {
		b.Fatal(err)
	}
	pool := db.Pool
	if err := rawSchema(ctx, pool); err != nil {
		b.Fatal(err)
	}
	r := es.NewRegistry()
	registerBench(r)
	svc, err := es.NewCommandService(ctx, r, store, es.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s2 := uuid.Must(uuid.NewV7())
	s2Events, _ := loadHistory(s2, 0)
	if _, err := store.Import(ctx, s2Events); err != nil {
		b.Fatal(err)
	}
	if err := seedRaw(ctx, pool, s2Events, false, 0, nil); err != nil {
		b.Fatal(err)
	}

	schema := pgtest.Config().Schema
	for _, size := range sizes {
		fillScale(b, pool, schema, size, func(recs []es.EventRecord) error {
			_, err := store.Import(ctx, recs)
			return err
		})
		fillScale(b, pool, "raw", size, func(recs []es.EventRecord) error {
			return rawImport(ctx, pool, toRawEvents(recs), benchStreamType)
		})
		settle(b, pool, schema, "raw")
		printSizes(b, pool, size, schema, "raw")

		at := "/events=" + sizeName(size)
		b.Run(fmt.Sprintf("S1-%dclients%s/impl=consequent", scaleClients, at), func(b *testing.B) {
			analyze(b, pool, schema)
			b.ReportAllocs()
			runClients(b, scaleClients, func(int) error { return lastErr(svc.Execute(ctx, newOpenAccount(unitDeposits))) })
			reportUnits(b)
			reportEvents(b, unitEvents)
		})
		b.Run(fmt.Sprintf("S1-%dclients%s/impl=raw", scaleClients, at), func(b *testing.B) {
			analyze(b, pool, "raw")
			b.ReportAllocs()
			runClients(b, scaleClients, func(int) error { return rawUnit(ctx, pool, newOpenAccount(unitDeposits), nil) })
			reportUnits(b)
			reportEvents(b, unitEvents)
		})
		b.Run(fmt.Sprintf("S2-%devents%s/impl=consequent", loadEvents, at), func(b *testing.B) {
			analyze(b, pool, schema)
			b.ReportAllocs()
			for b.Loop() {
				a, err := es.Get[*Account](ctx, svc, s2)
				if err != nil {
					b.Fatal(err)
				}
				if a.Balance != loadEvents-1 || a.Version() != loadEvents {
					b.Fatalf("balance %d, version %d", a.Balance, a.Version())
				}
			}
			reportUnits(b)
			reportEvents(b, loadEvents)
		})
		b.Run(fmt.Sprintf("S2-%devents%s/impl=raw", loadEvents, at), func(b *testing.B) {
			analyze(b, pool, "raw")
			b.ReportAllocs()
			for b.Loop() {
				a, err := rawLoadAccount(ctx, pool, s2, false)
				if err != nil {
					b.Fatal(err)
				}
				if a.Balance != loadEvents-1 || a.version != loadEvents {
					b.Fatalf("balance %d, version %d", a.Balance, a.version)
				}
			}
			reportUnits(b)
			reportEvents(b, loadEvents)
		})
	}
}

// lastErr returns the last of a call's results when it is an error: it takes
// svc.Execute's results whether Execute returns an error alone or a result
// and an error.
func lastErr(results ...any) error {
	if len(results) == 0 {
		return nil
	}
	err, _ := results[len(results)-1].(error)
	return err
}

// reportUnits reports units/s: operations (units of work, loads) per second.
func reportUnits(b *testing.B) {
	b.Helper()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "units/s")
	}
}

// countEvents counts the events in schema's log.
func countEvents(b *testing.B, pool *pgxpool.Pool, schema string) int {
	b.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{schema, "events"}.Sanitize()).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// errStopFill ends the generation of a fill's history early.
var errStopFill = errors.New("fill stopped")

// fillScale imports accounts of importPerStream events through imp until
// schema's log holds at least size events (less one account), and prints the
// rate of imp. The next chunk of the history is generated while imp writes one.
func fillScale(b *testing.B, pool *pgxpool.Pool, schema string, size int, imp func([]es.EventRecord) error) {
	b.Helper()
	have := countEvents(b, pool, schema)
	streams := (size - have) / importPerStream
	if streams <= 0 {
		return
	}
	chunks := make(chan []es.EventRecord, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(chunks)
		_ = rebuildHistory(streams, func(recs []es.EventRecord) error {
			select {
			case chunks <- recs:
				return nil
			case <-done:
				return errStopFill
			}
		})
	}()
	var (
		start   = time.Now()
		writing time.Duration
		n       int
	)
	for recs := range chunks {
		t := time.Now()
		if err := imp(recs); err != nil {
			b.Fatalf("filling %s: %v", schema, err)
		}
		writing += time.Since(t)
		n += len(recs)
	}
	fmt.Printf("scale fill %s to events=%s: %d events in %.1fs, %.0f events/s (%.0f events/s while writing)\n",
		schema, sizeName(size), n, time.Since(start).Seconds(), float64(n)/time.Since(start).Seconds(), float64(n)/writing.Seconds())
}

// toRawEvents converts a chunk of history to the raw baseline's rows.
func toRawEvents(recs []es.EventRecord) []rawEvent {
	raws := make([]rawEvent, len(recs))
	for i, e := range recs {
		raws[i] = rawEvent{ID: e.ID, StreamID: e.StreamID, Version: e.Version, Type: e.Type, Schema: int32(e.Schema), Data: e.Data, Time: e.Time}
	}
	return raws
}

// analyze updates the planner's statistics of schema's tables before a run,
// untimed. On the small store S1 grows its tables many times over (at
// events=0, from 1 stream to tens of thousands): with the statistics of the
// start S1 slowed from 0.7 to 1.7 ms a unit within a dozen seconds (commit()
// planned for a streams table of one row, most likely scanning it whole) until
// autovacuum analyzed it. A store in production has statistics of about its
// size; so has each run here.
func analyze(b *testing.B, pool *pgxpool.Pool, schema string) {
	b.Helper()
	for _, t := range scaleTables {
		if _, err := pool.Exec(context.Background(), "ANALYZE "+pgx.Identifier{schema, t}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
}

// scaleTables are the tables whose sizes BenchmarkScale prints.
var scaleTables = []string{"events", "streams", "commands"}

// settle vacuums and analyzes the tables of each schema, as autovacuum
// would soon after a fill, and takes a checkpoint, so that neither falls
// into a timed run.
func settle(b *testing.B, pool *pgxpool.Pool, schemas ...string) {
	b.Helper()
	ctx := context.Background()
	for _, s := range schemas {
		for _, t := range scaleTables {
			if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+pgx.Identifier{s, t}.Sanitize()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		fmt.Printf("scale: no checkpoint (%v)\n", err) // needs pg_checkpoint or a superuser
	}
}

// printSizes prints, for each schema, the size of each table of scaleTables
// (its heap, the rest: TOAST and maps, each index, in all) in MB and in MB per
// million events, and the database's size.
func printSizes(b *testing.B, pool *pgxpool.Pool, size int, schemas ...string) {
	b.Helper()
	ctx := context.Background()
	const mb = 1 << 20
	var dbSize int64
	if err := pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&dbSize); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("scale sizes at events=%s, database %.0f MB\n", sizeName(size), float64(dbSize)/mb)
	for _, schema := range schemas {
		events := countEvents(b, pool, schema)
		var streams, commands int
		if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT (SELECT count(*) FROM %s), (SELECT count(*) FROM %s)",
			pgx.Identifier{schema, "streams"}.Sanitize(), pgx.Identifier{schema, "commands"}.Sanitize())).Scan(&streams, &commands); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("scale   schema %s: %d events, %d streams, %d commands\n", schema, events, streams, commands)
		fmt.Printf("scale     %-36s %10s %14s\n", "relation", "MB", "MB per 1M ev")
		line := func(name string, bytes int64) {
			perM := "-"
			if events >= 100_000 { // below, fixed pages blur the figure
				perM = fmt.Sprintf("%.1f", float64(bytes)/mb/(float64(events)/1e6))
			}
			fmt.Printf("scale     %-36s %10.1f %14s\n", name, float64(bytes)/mb, perM)
		}
		rows, err := pool.Query(ctx, `
			SELECT t.relname, NULL::text, pg_relation_size(t.oid), pg_indexes_size(t.oid), pg_total_relation_size(t.oid)
			  FROM pg_class t WHERE t.relnamespace = $1::regnamespace AND t.relname = ANY ($2)
			UNION ALL
			SELECT t.relname, i.relname, pg_relation_size(i.oid), 0, 0
			  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
			 WHERE t.relnamespace = $1::regnamespace AND t.relname = ANY ($2)
			 ORDER BY 1, 2 NULLS FIRST`, schema, scaleTables)
		if err != nil {
			b.Fatal(err)
		}
		type relSize struct {
			table           string
			index           *string // nil: the table's row
			rel, idx, total int64
		}
		sizes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (relSize, error) {
			var s relSize
			return s, row.Scan(&s.table, &s.index, &s.rel, &s.idx, &s.total)
		})
		if err != nil {
			b.Fatal(err)
		}
		var total int64
		for _, t := range scaleTables {
			var all int64
			for _, s := range sizes {
				switch {
				case s.table != t:
				case s.index == nil:
					line(t+" heap", s.rel)
					line(t+" TOAST and maps", s.total-s.rel-s.idx)
					line(t+" indexes", s.idx)
					all = s.total
				default:
					line("  index "+*s.index, s.rel)
				}
			}
			line(t+" in all", all)
			total += all
		}
		line("schema "+schema+" in all", total)
	}
}
