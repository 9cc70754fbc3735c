package pgstore_test

// The scenarios of issue 8, each beside the form a pgx user writes by hand:
//
//	S1  a command that creates an account with 4 events (about 200 bytes of
//	    JSON each), its own transaction, at 1 and 8 clients: raw, one
//	    INSERT … SELECT FROM unnest(…)
//	S2  loading a 1,000-event account (BenchmarkS2, bench_test.go): raw, one
//	    SELECT … ORDER BY version decoded into the event structs
//	S3  replaying the whole log (20,000 events) into a projection in memory
//	    through es.Events: raw, one streaming SELECT … ORDER BY xact_id, position
//	    (the log's order, read along its index: ORDER BY position alone would
//	    sort the whole log before sending the first row)
//	S4  S1 with an inline projector that upserts one row per event: raw, the
//	    unit's INSERT and the upserts in one pipelined batch (BEGIN … COMMIT)
//
// The sub-benchmarks are named …/impl=consequent and …/impl=raw, so that
// benchstat -col /impl pairs them.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// unitDeposits: a unit of work of S1 and S4 is an opening and 3 deposits.
const (
	unitDeposits = 3
	unitEvents   = 1 + unitDeposits
)

// BenchmarkS1: one command per transaction creating an account with 4 events.
func BenchmarkS1(b *testing.B) {
	ctx := context.Background()
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			b.Run("impl=consequent", func(b *testing.B) {
				svc := benchService(b)
				b.ReportAllocs()
				runClients(b, clients, func(int) error { _, err := svc.Execute(ctx, newOpenAccount(unitDeposits)); return err })
				reportEvents(b, unitEvents)
			})
			b.Run("impl=raw", func(b *testing.B) {
				pool := benchRaw(b)
				b.ReportAllocs()
				runClients(b, clients, func(int) error { return rawUnit(ctx, pool, newOpenAccount(unitDeposits), nil) })
				reportEvents(b, unitEvents)
			})
		})
	}
}

// rawUnitSQL writes one unit of work: the events of one new stream.
const rawUnitSQL = `INSERT INTO raw.events (stream_id, version, id, command_id, type, schema, data, time, correlation_id, causation_id)
	SELECT $1, v, i, $2, t, 1, d, $3, $2, $2 FROM unnest($4::bigint[], $5::uuid[], $6::text[], $7::jsonb[]) AS u(v, i, t, d)`

// rawS4UpsertSQL is the row an inline projector upserts per event.
const rawS4UpsertSQL = `INSERT INTO raw.s4_rows AS r (account_id, version, type, amount) VALUES ($1, $2, $3, $4)
	ON CONFLICT (account_id, version) DO UPDATE SET type = EXCLUDED.type, amount = EXCLUDED.amount`

// rawUnit is openAccount by hand: the events encoded, one INSERT of them all
// (its own transaction). With rows (S4) the statement travels in one batch
// with the rows' upserts, between BEGIN and COMMIT.
func rawUnit(ctx context.Context, pool *pgxpool.Pool, cmd openAccount, rows func(streamID uuid.UUID, version int64, typ string, amount int64, b *pgx.Batch)) error {
	n := 1 + cmd.Deposits
	vers, ids, types, data := make([]int64, n), make([][16]byte, n), make([]string, n), make([][]byte, n)
	cmdID := uuid.Must(uuid.NewV7())
	for i := range n {
		var (
			ev  any = deposit(i - 1)
			typ     = "bank.Deposited"
		)
		if i == 0 {
			ev, typ = AccountOpened{Owner: cmd.Owner, Note: cmd.Note}, "bank.AccountOpened"
		}
		d, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		vers[i], ids[i], types[i], data[i] = int64(i+1), uuid.Must(uuid.NewV7()), typ, d
	}
	args := []any{[16]byte(cmd.ID), [16]byte(cmdID), time.Now().UTC(), vers, ids, types, data}
	if rows == nil {
		_, err := pool.Exec(ctx, rawUnitSQL, args...)
		return err
	}
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue(rawUnitSQL, args...)
	for i := range n {
		amount := int64(0)
		if i > 0 {
			amount = 1
		}
		rows(cmd.ID, vers[i], types[i], amount, batch)
	}
	batch.Queue("COMMIT")
	return pool.SendBatch(ctx, batch).Close()
}

// s4Row is the row S4's inline projector upserts per event.
type s4Row struct {
	AccountID uuid.UUID `db:"account_id"`
	Version   int64     `db:"version"`
	Type      string    `db:"type"`
	Amount    int64     `db:"amount"`
}

var s4Rows = es.NewTable[s4Row]("s4_rows", "account_id", "version")

// s4Projector is the inline projector of S4: one upsert per event.
func s4Projector() *es.Projector {
	p := es.NewProjector("bench_s4", s4Rows)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, _ AccountOpened) error {
		return s4Rows.Upsert(ctx, v, s4Row{AccountID: e.StreamID, Version: e.Version, Type: e.Type})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Deposited) error {
		return s4Rows.Upsert(ctx, v, s4Row{AccountID: e.StreamID, Version: e.Version, Type: e.Type, Amount: ev.Amount})
	})
	return p
}

// BenchmarkS4: S1 at one client with an inline projector.
func BenchmarkS4(b *testing.B) {
	ctx := context.Background()
	b.Run("clients=1", func(b *testing.B) {
		b.Run("impl=consequent", func(b *testing.B) {
			store, err := benchDB(b).NewStore(ctx)
			if err != nil {
				b.Fatal(err)
			}
			r := es.NewRegistry()
			registerBench(r)
			r.AddProjector(s4Projector())
			svc, err := es.NewCommandService(ctx, r, store, es.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			runClients(b, 1, func(int) error { _, err := svc.Execute(ctx, newOpenAccount(unitDeposits)); return err })
			reportEvents(b, unitEvents)
		})
		b.Run("impl=raw", func(b *testing.B) {
			pool := benchRaw(b)
			upsert := func(id uuid.UUID, version int64, typ string, amount int64, batch *pgx.Batch) {
				batch.Queue(rawS4UpsertSQL, [16]byte(id), version, typ, amount)
			}
			b.ReportAllocs()
			runClients(b, 1, func(int) error { return rawUnit(ctx, pool, newOpenAccount(unitDeposits), upsert) })
			reportEvents(b, unitEvents)
		})
	})
}

// s3Streams: S3 replays s3Streams accounts of importPerStream events.
const (
	s3Streams = 200
	s3Events  = s3Streams * importPerStream
)

// s3Projection is what S3 builds in memory: each account's owner and balance.
type s3Projection map[uuid.UUID]*AccountSnapshot

func (p s3Projection) apply(id uuid.UUID, ev any) {
	a := p[id]
	if a == nil {
		a = &AccountSnapshot{}
		p[id] = a
	}
	switch e := ev.(type) {
	case AccountOpened:
		a.Owner = e.Owner
	case Deposited:
		a.Balance += e.Amount
	}
}

func (p s3Projection) check(b *testing.B) {
	if len(p) != s3Streams {
		b.Fatalf("%d accounts, want %d", len(p), s3Streams)
	}
	for id, a := range p {
		if a.Owner != "Ann" || a.Balance != importPerStream-1 {
			b.Fatalf("account %s: %+v", id, *a)
		}
	}
}

// BenchmarkS3: replaying the whole log (20,000 events) in global order into a
// projection in memory.
func BenchmarkS3(b *testing.B) {
	ctx := context.Background()
	b.Run(fmt.Sprintf("events=%d", s3Events), func(b *testing.B) {
		b.Run("impl=consequent", func(b *testing.B) {
			store, err := benchDB(b).NewStore(ctx)
			if err != nil {
				b.Fatal(err)
			}
			recs, _ := accountHistory(s3Streams)
			if _, err := store.Import(ctx, recs); err != nil {
				b.Fatal(err)
			}
			r := es.NewRegistry()
			registerBench(r)
			waitReadable(b, r, store, s3Events)
			vacuum(b, pgtest.Config().Schema)
			cpu := sampleCPU(ctx, benchDB(b).Pool)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p := s3Projection{}
				for env, err := range es.Events(ctx, r, store, es.EventsQuery{}) {
					if err != nil {
						b.Fatal(err)
					}
					p.apply(env.StreamID, env.Event)
				}
				b.StopTimer()
				p.check(b)
				b.StartTimer()
			}
			b.StopTimer()
			reportCPU(b, benchDB(b).Pool, cpu)
			reportEvents(b, s3Events)
		})
		b.Run("impl=raw", func(b *testing.B) {
			pool := benchRaw(b)
			_, raws := accountHistory(s3Streams)
			if err := rawImport(ctx, pool, raws, benchStreamType); err != nil {
				b.Fatal(err)
			}
			vacuum(b, "raw")
			cpu := sampleCPU(ctx, benchDB(b).Pool)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p := s3Projection{}
				if err := rawReplay(ctx, pool, p.apply); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				p.check(b)
				b.StartTimer()
			}
			b.StopTimer()
			reportCPU(b, benchDB(b).Pool, cpu)
			reportEvents(b, s3Events)
		})
	})
}

// rawReplay streams the whole log in order, decoding each payload into its
// struct for apply.
func rawReplay(ctx context.Context, pool *pgxpool.Pool, apply func(id uuid.UUID, ev any)) error {
	rows, err := pool.Query(ctx, rawEventSelect+` ORDER BY xact_id, position`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e rawEvent
		if err := rows.Scan((*[16]byte)(&e.StreamID), (*[16]byte)(&e.ID), (*[16]byte)(&e.CommandID), &e.Version, &e.Position, &e.TxID, &e.Type, &e.Schema,
			&e.Data, &e.Time, &e.Correlation, &e.Causation, &e.UserID, &e.Metadata); err != nil {
			return err
		}
		switch e.Type {
		case "bank.AccountOpened":
			var ev AccountOpened
			if err := json.Unmarshal(e.Data, &ev); err != nil {
				return err
			}
			apply(e.StreamID, ev)
		case "bank.Deposited":
			var ev Deposited
			if err := json.Unmarshal(e.Data, &ev); err != nil {
				return err
			}
			apply(e.StreamID, ev)
		default:
			return fmt.Errorf("unknown event type %s", e.Type)
		}
	}
	return rows.Err()
}

// waitReadable waits until the log yields n events: a transaction open
// anywhere on the server (another database's too) holds the watermark below
// the import until it ends.
func waitReadable(b *testing.B, r *es.Registry, store es.EventStore, n int) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		got := 0
		for _, err := range es.Events(ctx, r, store, es.EventsQuery{}) {
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the log yields %d of %d imported events after a minute: an open transaction holds the watermark", got, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
