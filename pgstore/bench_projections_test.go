package pgstore_test

// Benchmarks of async projections: a rebuild beside the same rebuild by hand,
// and the catch-up lag of an async projector under concurrent writers. They are
// written against es.ProjectionStore and es.Rebuilder and skip while pgstore
// does not implement them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The ledger projection: a row per account and a row per deposit, so a rebuild
// of the import history writes as many rows as it reads events.

type ledgerAccount struct {
	AccountID uuid.UUID `db:"account_id"`
	Owner     string    `db:"owner"`
	Email     string    `db:"email"`
}

type ledgerDeposit struct {
	AccountID uuid.UUID `db:"account_id"`
	Version   int64     `db:"version"`
	Amount    int64     `db:"amount"`
	Currency  string    `db:"currency"`
	Reference string    `db:"reference"`
}

var (
	ledgerAccounts = es.NewTable[ledgerAccount]("bench_accounts", "account_id")
	ledgerDeposits = es.NewTable[ledgerDeposit]("bench_deposits", "account_id", "version")
)

const ledgerName = "bench_ledger"

// ledgerProjector returns the async ledger projector. applied, when not nil, is
// called with the id of every event it applies.
func ledgerProjector(applied func(ctx context.Context, id uuid.UUID)) *es.Projector {
	p := es.NewProjector(ledgerName, ledgerAccounts, ledgerDeposits).Async()
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev AccountOpened) error {
		if applied != nil {
			applied(ctx, e.ID)
		}
		return ledgerAccounts.Insert(ctx, v, ledgerAccount{AccountID: e.StreamID, Owner: ev.Owner, Email: ev.Email})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Deposited) error {
		if applied != nil {
			applied(ctx, e.ID)
		}
		return ledgerDeposits.Insert(ctx, v, ledgerDeposit{AccountID: e.StreamID, Version: e.Version,
			Amount: ev.Amount, Currency: ev.Currency, Reference: ev.Reference})
	})
	return p
}

// projectionStore returns a fresh pgstore as an es.ProjectionStore, or skips b
// while pgstore does not implement it (or es.Rebuilder, when rebuilder is set).
func projectionStore(b *testing.B, rebuilder bool) es.ProjectionStore {
	b.Helper()
	store, err := benchDB(b).NewStore(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	ps, ok := any(store).(es.ProjectionStore)
	if !ok {
		b.Skip("pgstore does not implement es.ProjectionStore yet")
	}
	if _, ok := any(store).(es.ReadModelStore); rebuilder && !ok {
		b.Skip("pgstore does not implement es.ReadModelStore yet")
	}
	return ps
}

var quietLog = slog.New(slog.DiscardHandler)

// envRebuildEvents sizes BenchmarkRebuild: a multiple of 100 events (that
// many streams of 100 events), e.g. 1000000 for make bench-rebuild. The
// default, importEvents (10,000), keeps make bench short.
const envRebuildEvents = "CONSEQUENT_BENCH_REBUILD_EVENTS"

// rebuildStreams returns BenchmarkRebuild's history: streams of importPerStream
// events each.
func rebuildStreams(b *testing.B) int {
	v := os.Getenv(envRebuildEvents)
	if v == "" {
		return importStreams
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n%importPerStream != 0 {
		b.Fatalf("%s=%q: want a positive multiple of %d", envRebuildEvents, v, importPerStream)
	}
	return n / importPerStream
}

// rebuildChunkStreams is how many streams one import of the rebuild history
// covers (Import locks each stream it touches: keep calls to a few thousand).
const rebuildChunkStreams = 1000

// rebuildHistory generates the history of streams new accounts of
// importPerStream events (an opening, then deposits), like importHistory: in
// chunks of rebuildChunkStreams streams, each chunk's streams interleaved,
// handed to fn one chunk at a time so that a large history never sits in
// memory whole.
func rebuildHistory(streams int, fn func([]es.EventRecord) error) error {
	now := time.Now().UTC()
	for first := 0; first < streams; first += rebuildChunkStreams {
		ids := make([]uuid.UUID, min(rebuildChunkStreams, streams-first))
		for i := range ids {
			ids[i] = uuid.Must(uuid.NewV7())
		}
		recs := make([]es.EventRecord, 0, len(ids)*importPerStream)
		for v := 1; v <= importPerStream; v++ {
			for _, id := range ids {
				typ, data := "bank.Deposited", mustJSON(deposit(v))
				if v == 1 {
					typ, data = "bank.AccountOpened", mustJSON(AccountOpened{Owner: "Ann", Email: id.String() + "@example.com"})
				}
				recs = append(recs, es.EventRecord{ID: uuid.Must(uuid.NewV7()), StreamID: id, StreamType: benchStreamType,
					Version: int64(v), Type: typ, Schema: 1, Data: data, Meta: es.Meta{Time: now}})
			}
		}
		if err := fn(recs); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkRebuild: rebuilding the ledger projection from a log of 10,000
// events (100 accounts of 100 events: 10,000 rows; $CONSEQUENT_BENCH_REBUILD_EVENTS
// sets another size, make bench-rebuild 1,000,000), by es.ProjectionWorker
// through pgstore's ReadModelStore after a version bump, beside a rebuild by
// hand: one SELECT of the log, decoded and applied in memory, COPY into new
// tables, primary keys built, swapped in by rename in one transaction. Each
// side rebuilds once before the timer, so that the tables it replaces are full.
func BenchmarkRebuild(b *testing.B) {
	ctx := context.Background()
	streams := rebuildStreams(b)
	events := streams * importPerStream
	b.Run(fmt.Sprintf("%devents", events), func(b *testing.B) {
		b.Run("impl=consequent", func(b *testing.B) {
			store := projectionStore(b, true)
			r := es.NewRegistry()
			registerBench(r)
			p := ledgerProjector(nil)
			r.AddProjector(p)
			if err := store.Views().CreateTables(ctx, p.Tables()...); err != nil {
				b.Fatal(err)
			}
			w, err := es.NewProjectionWorker(r, store, es.WorkerOptions{Owner: "bench", Logger: quietLog, BatchSize: 1000})
			if err != nil {
				b.Fatal(err)
			}
			if err := w.CatchUp(ctx); err != nil { // version 1 serves, on an empty log
				b.Fatal(err)
			}
			importer := store.(interface {
				Import(context.Context, []es.EventRecord) (int64, error)
			})
			if err := rebuildHistory(streams, func(recs []es.EventRecord) error {
				_, err := importer.Import(ctx, recs)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			vacuum(b, pgtest.Config().Schema)
			p.Versioned(2) // the history is rebuilt into the live tables, untimed
			if err := w.CatchUp(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				p.Versioned(i + 3) // a new version is deployed: the worker rebuilds
				if err := w.CatchUp(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportEvents(b, events)
			st, err := store.Projection(ctx, ledgerName)
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			if err := benchDB(b).Pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{pgtest.Config().ViewSchema, "bench_deposits"}.Sanitize()).Scan(&n); err != nil {
				b.Fatal(err)
			}
			if st.Version != b.N+2 || n != int64(events-streams) {
				b.Fatalf("after rebuilding: version %d, %d deposits; want %d, %d", st.Version, n, b.N+2, events-streams)
			}
		})
		b.Run("impl=raw", func(b *testing.B) {
			pool := benchRaw(b)
			if err := rebuildHistory(streams, func(recs []es.EventRecord) error {
				raws := make([]rawEvent, len(recs))
				for i, e := range recs {
					raws[i] = rawEvent{ID: e.ID, StreamID: e.StreamID, Version: e.Version, Type: e.Type, Schema: int32(e.Schema),
						Data: e.Data, Time: e.Time}
				}
				return rawImport(ctx, pool, raws, benchStreamType)
			}); err != nil {
				b.Fatal(err)
			}
			vacuum(b, "raw")
			if err := rawRebuild(ctx, pool); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := rawRebuild(ctx, pool); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportEvents(b, events)
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM raw.deposits`).Scan(&n); err != nil {
				b.Fatal(err)
			}
			if n != events-streams {
				b.Fatalf("after rebuilding: %d deposits, want %d", n, events-streams)
			}
		})
	})
}

// vacuum vacuums and analyzes the log of schema after an import, as
// autovacuum would soon: else it may do so during the timed rebuild.
func vacuum(b *testing.B, schema string) {
	b.Helper()
	for _, t := range []string{"events", "streams"} {
		if _, err := benchDB(b).Pool.Exec(context.Background(), "VACUUM ANALYZE "+pgx.Identifier{schema, t}.Sanitize()); err != nil {
			b.Fatal(err)
		}
	}
}

// rawRebuild rebuilds the ledger tables by hand: the log read in one query in
// (xact_id, position) order below the watermark, applied in memory, COPY into
// new tables, primary keys built, and the new tables swapped in.
func rawRebuild(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, rawEventSelect+` WHERE xact_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY xact_id, position`)
	if err != nil {
		return err
	}
	var (
		accounts []ledgerAccount
		deposits []ledgerDeposit
	)
	for rows.Next() {
		var e rawEvent
		if err := rows.Scan((*[16]byte)(&e.StreamID), (*[16]byte)(&e.ID), (*[16]byte)(&e.CommandID), &e.Version, &e.Position,
			&e.TxID, &e.Type, &e.Schema, &e.Data, &e.Time, &e.Correlation, &e.Causation, &e.UserID, &e.Metadata); err != nil {
			rows.Close()
			return err
		}
		switch e.Type {
		case "bank.AccountOpened":
			var ev AccountOpened
			if err := json.Unmarshal(e.Data, &ev); err != nil {
				rows.Close()
				return err
			}
			accounts = append(accounts, ledgerAccount{AccountID: e.StreamID, Owner: ev.Owner, Email: ev.Email})
		case "bank.Deposited":
			var ev Deposited
			if err := json.Unmarshal(e.Data, &ev); err != nil {
				rows.Close()
				return err
			}
			deposits = append(deposits, ledgerDeposit{AccountID: e.StreamID, Version: e.Version, Amount: ev.Amount,
				Currency: ev.Currency, Reference: ev.Reference})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `
		DROP TABLE IF EXISTS raw.accounts_new, raw.deposits_new;
		CREATE TABLE raw.accounts_new (account_id uuid NOT NULL, owner text NOT NULL, email text NOT NULL);
		CREATE TABLE raw.deposits_new (account_id uuid NOT NULL, version bigint NOT NULL, amount bigint NOT NULL,
			currency text NOT NULL, reference text NOT NULL)`); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"raw", "accounts_new"}, []string{"account_id", "owner", "email"},
		pgx.CopyFromSlice(len(accounts), func(i int) ([]any, error) {
			a := &accounts[i]
			return []any{[16]byte(a.AccountID), a.Owner, a.Email}, nil
		})); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"raw", "deposits_new"}, []string{"account_id", "version", "amount", "currency", "reference"},
		pgx.CopyFromSlice(len(deposits), func(i int) ([]any, error) {
			d := &deposits[i]
			return []any{[16]byte(d.AccountID), d.Version, d.Amount, d.Currency, d.Reference}, nil
		})); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		ALTER TABLE raw.accounts_new ADD PRIMARY KEY (account_id);
		ALTER TABLE raw.deposits_new ADD PRIMARY KEY (account_id, version);
		DROP TABLE IF EXISTS raw.accounts, raw.deposits;
		ALTER TABLE raw.accounts_new RENAME TO accounts;
		ALTER TABLE raw.deposits_new RENAME TO deposits`); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// BenchmarkCatchUp: 8 concurrent writers execute one-event commands while an
// es.ProjectionWorker follows the log with the ledger projector. It reports the
// lag of each event from its commit (the service's after-commit hook) to the
// commit of the projector's batch that applied it, as lag-p50-ms and
// lag-p99-ms; ns/op and events/s are the writers'. It has no raw twin.
//
// At full speed ("8writers") the writers take most of the 2 cores and the
// projector falls behind: the lag measures the backlog, which grows with the
// run's length. Paced at 50 commands/s each ("8writers-400cmds"), the lag is the
// path itself: watermark, wake-up or poll, batch, commit. The log's watermark
// is cluster-wide: transactions of other databases on the server hold it back.
func BenchmarkCatchUp(b *testing.B) {
	const writers = 8
	b.Run(fmt.Sprintf("%dwriters", writers), func(b *testing.B) { benchCatchUp(b, writers, 0) })
	const perWriter = 50 // commands per second
	b.Run(fmt.Sprintf("%dwriters-%dcmds", writers, writers*perWriter), func(b *testing.B) {
		benchCatchUp(b, writers, time.Second/perWriter)
	})
}

// benchCatchUp runs b.N commands on writers clients, each waiting for the next
// multiple of every (0: no pacing) before each command.
func benchCatchUp(b *testing.B, writers int, every time.Duration) {
	ctx := context.Background()
	lag := newLagMeter()
	store := &appliedStore{ProjectionStore: projectionStore(b, false), lag: lag}
	r := es.NewRegistry()
	registerBench(r)
	p := ledgerProjector(store.applied)
	r.AddProjector(p)
	r.AfterCommit(func(_ context.Context, envs []es.Envelope) { lag.committed(envs) })
	w, err := es.NewProjectionWorker(r, store, es.WorkerOptions{Logger: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := es.NewCommandService(ctx, r, store, es.Options{})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(runCtx)
	}()
	start := time.Now()
	next := make([]time.Time, writers) // each writer's next slot, staggered
	for i := range next {
		next[i] = start.Add(every * time.Duration(i) / time.Duration(writers))
	}
	runClients(b, writers, func(c int) error {
		if every > 0 {
			time.Sleep(time.Until(next[c]))
			next[c] = next[c].Add(every)
		}
		_, err := svc.Execute(ctx, newOpenAccount(0))
		return err
	})
	reportEvents(b, 1)
	waitErr := lag.wait(ctx, b.N, time.Minute)
	stop()
	<-done
	if waitErr != nil {
		b.Fatal(waitErr)
	}
	lag.report(b)
}

// appliedStore is a ProjectionStore that notes when each event's batch
// committed: the projector's handlers report event ids through the context of
// Advance, and they count as applied once Advance has returned without error.
type appliedStore struct {
	es.ProjectionStore
	lag *lagMeter
}

type batchKey struct{}

type batchIDs struct{ ids []uuid.UUID }

func (s *appliedStore) Advance(ctx context.Context, name, owner string, to es.Cursor, version int, fn func(ctx context.Context, views es.Persistor) error) error {
	batch := &batchIDs{}
	err := s.ProjectionStore.Advance(context.WithValue(ctx, batchKey{}, batch), name, owner, to, version, fn)
	if err == nil {
		s.lag.applied(batch.ids)
	}
	return err
}

// applied is the projector's hook: it collects ids for Advance, or counts them
// as applied at once when called outside it.
func (s *appliedStore) applied(ctx context.Context, id uuid.UUID) {
	if batch, ok := ctx.Value(batchKey{}).(*batchIDs); ok {
		batch.ids = append(batch.ids, id)
		return
	}
	s.lag.applied([]uuid.UUID{id})
}

// lagMeter pairs commit and apply times by event id.
type lagMeter struct {
	mu        sync.Mutex
	commitAt  map[uuid.UUID]time.Time
	appliedAt map[uuid.UUID]time.Time
	changed   chan struct{}
}

func newLagMeter() *lagMeter {
	return &lagMeter{commitAt: map[uuid.UUID]time.Time{}, appliedAt: map[uuid.UUID]time.Time{}, changed: make(chan struct{}, 1)}
}

func (l *lagMeter) committed(envs []es.Envelope) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range envs {
		l.commitAt[e.ID] = now
	}
}

func (l *lagMeter) applied(ids []uuid.UUID) {
	now := time.Now()
	l.mu.Lock()
	for _, id := range ids {
		if _, ok := l.appliedAt[id]; !ok {
			l.appliedAt[id] = now
		}
	}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// wait returns once n events were applied, or an error after timeout.
func (l *lagMeter) wait(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		got := len(l.appliedAt)
		l.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-l.changed:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			return fmt.Errorf("catch-up: %d of %d events applied after %v", got, n, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *lagMeter) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lat latencies
	for id, c := range l.commitAt {
		a, ok := l.appliedAt[id]
		if !ok {
			b.Fatal(errors.New("catch-up: an event committed was never applied"))
		}
		lat.add(max(a.Sub(c), 0)) // applied before the hook ran: no lag
	}
	lat.report(b, "lag")
}
