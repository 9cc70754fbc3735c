package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The benchmarks' domain: the test domain's bank account, opened, then
// deposited to, with payloads of about 200 bytes of JSON.

// openAccount creates an account with its opening event and deposits more
// deposits: one unit of work of 1+deposits events.
type openAccount struct {
	ID       uuid.UUID `json:"id"`
	Owner    string    `json:"owner"`
	Note     string    `json:"note,omitempty"`
	Deposits int       `json:"deposits,omitempty"`
}

// deposit is the n-th deposit of the benchmarks: about 200 bytes of JSON.
func deposit(n int) Deposited {
	return Deposited{Amount: 1, Currency: "EUR", Reference: fmt.Sprintf("bench deposit %06d %s", n, benchPadding[:135])}
}

// benchPadding pads the benchmarks' payloads to about 200 bytes of JSON.
const benchPadding = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud"

// opened is the opening event of an account: about 200 bytes of JSON. It has
// no email address, so the account claims no unique key: the raw baseline
// keeps none.
func opened() AccountOpened {
	return AccountOpened{Owner: "Ann", Note: benchPadding[:148]}
}

const (
	benchStreamType = "bank.Account"
	benchSnapSchema = 1
)

// registerBench registers the bank, its account with opts, and openAccount.
func registerBench(r *es.Registry, opts ...es.AggregateOption) {
	BankOptions{Account: opts}.Register(r)
	es.Handle(r, "bench.OpenAccount", func(ctx context.Context, u *es.UnitOfWork, cmd openAccount) error {
		a, err := es.Create[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		if err := es.Record(a, AccountOpened{Owner: cmd.Owner, Note: cmd.Note}); err != nil {
			return err
		}
		for i := range cmd.Deposits {
			if err := es.Record(a, deposit(i)); err != nil {
				return err
			}
		}
		return nil
	})
}

func newOpenAccount(deposits int) openAccount {
	o := opened()
	return openAccount{ID: uuid.Must(uuid.NewV7()), Owner: o.Owner, Note: o.Note, Deposits: deposits}
}

// benchService returns a command service for the bench domain on a freshly
// reset pgstore.
func benchService(b *testing.B, opts ...es.AggregateOption) *es.CommandService {
	b.Helper()
	ctx := context.Background()
	store, err := benchDB(b).NewStore(ctx)
	if err != nil {
		b.Fatal(err)
	}
	r := es.NewRegistry()
	registerBench(r, opts...)
	svc, err := es.NewCommandService(ctx, r, store, es.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// benchRaw returns the pool with the raw tables freshly created.
func benchRaw(b *testing.B) *pgxpool.Pool {
	b.Helper()
	pool := benchDB(b).Pool
	if err := rawSchema(context.Background(), pool); err != nil {
		b.Fatal(err)
	}
	return pool
}

// Import size: importStreams streams of importPerStream events each, interleaved.
const (
	importStreams   = 100
	importPerStream = 100
	importEvents    = importStreams * importPerStream
)

// importHistory returns importEvents events of new accounts, as es.EventRecords
// and as the raw baseline's rows (the same ids and payloads).
func importHistory() ([]es.EventRecord, []rawEvent) { return accountHistory(importStreams) }

// accountHistory returns streams new accounts of importPerStream events each,
// interleaved, as es.EventRecords and as the raw baseline's rows.
func accountHistory(streams int) ([]es.EventRecord, []rawEvent) {
	now := time.Now().UTC()
	ids := make([]uuid.UUID, streams)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	recs := make([]es.EventRecord, 0, streams*importPerStream)
	raws := make([]rawEvent, 0, streams*importPerStream)
	for v := 1; v <= importPerStream; v++ {
		for _, id := range ids {
			typ, data := "bank.Deposited", mustJSON(deposit(v))
			if v == 1 {
				typ, data = "bank.AccountOpened", mustJSON(opened())
			}
			evID := uuid.Must(uuid.NewV7())
			recs = append(recs, es.EventRecord{ID: evID, StreamID: id, StreamType: benchStreamType, Version: int64(v),
				Type: typ, Schema: 1, Data: data, Meta: es.Meta{Time: now}})
			raws = append(raws, rawEvent{ID: evID, StreamID: id, Version: int64(v), Type: typ, Schema: 1, Data: data, Time: now})
		}
	}
	return recs, raws
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkImport: a bulk import of 10,000 events (100 new streams of 100
// events) in one call: Store.Import against COPY by hand.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	name := fmt.Sprintf("%devents", importEvents)
	b.Run(name, func(b *testing.B) {
		b.Run("impl=consequent", func(b *testing.B) {
			store, err := benchDB(b).NewStore(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				recs, _ := importHistory()
				b.StartTimer()
				n, err := store.Import(ctx, recs)
				if err != nil {
					b.Fatal(err)
				}
				if n != importEvents {
					b.Fatalf("imported %d events, want %d", n, importEvents)
				}
			}
			b.StopTimer()
			reportEvents(b, importEvents)
		})
		b.Run("impl=raw", func(b *testing.B) {
			pool := benchRaw(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				_, raws := importHistory()
				b.StartTimer()
				if err := rawImport(ctx, pool, raws, benchStreamType); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportEvents(b, importEvents)
		})
	})
}

// Load sizes: an account of loadEvents events; with a snapshot, the snapshot is
// at version loadEvents-loadTail, and the tail of loadTail events follows it.
const (
	loadEvents = 1000
	loadTail   = 10
)

// loadHistory returns the events of an account of loadEvents events and its
// state after version upTo.
func loadHistory(id uuid.UUID, upTo int64) ([]es.EventRecord, AccountSnapshot) {
	now := time.Now().UTC()
	cmdID := uuid.Must(uuid.NewV7())
	state := AccountSnapshot{Owner: "Ann"}
	recs := make([]es.EventRecord, 0, loadEvents)
	for v := 1; v <= loadEvents; v++ {
		typ, data := "bank.Deposited", mustJSON(deposit(v))
		if v == 1 {
			typ, data = "bank.AccountOpened", mustJSON(opened())
		} else if int64(v) <= upTo {
			state.Balance++
		}
		recs = append(recs, es.EventRecord{ID: uuid.Must(uuid.NewV7()), StreamID: id, StreamType: benchStreamType,
			Version: int64(v), Type: typ, Schema: 1, Data: data,
			Meta: es.Meta{Time: now, CommandID: cmdID, CorrelationID: cmdID, CausationID: cmdID}})
	}
	return recs, state
}

// BenchmarkS2: rebuilding an account of 1,000 events, from its events alone
// and from a snapshot at version 990 plus the 10 events after it: es.Get on
// pgstore against SELECTs decoded into structs by hand. events/s counts the
// events read (the tail only, with a snapshot).
func BenchmarkS2(b *testing.B) {
	ctx := context.Background()
	for _, snap := range []bool{false, true} {
		name := fmt.Sprintf("%devents", loadEvents)
		read := loadEvents
		var snapAt int64
		if snap {
			name += "-snapshot"
			read, snapAt = loadTail, loadEvents-loadTail
		}
		b.Run(name, func(b *testing.B) {
			b.Run("impl=consequent", func(b *testing.B) {
				var opts []es.AggregateOption
				if snap {
					opts = append(opts, es.SnapshotEvery(100, benchSnapSchema))
				}
				svc := benchService(b, opts...)
				id := uuid.Must(uuid.NewV7())
				recs, state := loadHistory(id, snapAt)
				w := es.StreamWrite{StreamID: id, StreamType: benchStreamType, Events: recs}
				if snap {
					w.Snapshot = &es.Snapshot{StreamID: id, StreamType: benchStreamType, Version: snapAt,
						Schema: benchSnapSchema, Data: mustJSON(state)}
				}
				err := svc.Store().Commit(ctx, &es.Commit{Command: es.CommandRecord{ID: recs[0].CommandID,
					Type: "bench.Seed", Time: time.Now()}, Streams: []es.StreamWrite{w}}, nil)
				if err != nil {
					b.Fatal(err)
				}
				cpu := sampleCPU(ctx, benchDB(b).Pool)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					a, err := es.Get[*Account](ctx, svc, id)
					if err != nil {
						b.Fatal(err)
					}
					if a.Balance != loadEvents-1 || a.Restored != snap || a.Version() != loadEvents {
						b.Fatalf("balance %d, version %d, restored %v", a.Balance, a.Version(), a.Restored)
					}
				}
				b.StopTimer()
				reportCPU(b, benchDB(b).Pool, cpu)
				reportEvents(b, read)
			})
			b.Run("impl=raw", func(b *testing.B) {
				pool := benchRaw(b)
				id := uuid.Must(uuid.NewV7())
				recs, state := loadHistory(id, snapAt)
				if err := seedRaw(ctx, pool, recs, snap, snapAt, mustJSON(state)); err != nil {
					b.Fatal(err)
				}
				cpu := sampleCPU(ctx, benchDB(b).Pool)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					a, err := rawLoadAccount(ctx, pool, id, snap)
					if err != nil {
						b.Fatal(err)
					}
					if a.Balance != loadEvents-1 || a.Restored != snap || a.version != loadEvents {
						b.Fatalf("balance %d, version %d, restored %v", a.Balance, a.version, a.Restored)
					}
				}
				b.StopTimer()
				reportCPU(b, benchDB(b).Pool, cpu)
				reportEvents(b, read)
			})
		})
	}
}

// rawAccount is the raw baseline's account: the same state, rebuilt by hand.
type rawAccount struct {
	AccountSnapshot
	version  int64
	Restored bool
}

// rawLoadAccount reads the newest snapshot (when snap) and the events after it,
// decoding each payload into its struct and applying it.
func rawLoadAccount(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, snap bool) (*rawAccount, error) {
	a := &rawAccount{}
	if snap {
		v, data, err := rawSnapshot(ctx, pool, id, benchSnapSchema)
		if err != nil {
			return nil, err
		}
		if data != nil {
			if err := json.Unmarshal(data, &a.AccountSnapshot); err != nil {
				return nil, err
			}
			a.version, a.Restored = v, true
		}
	}
	_, err := rawLoad(ctx, pool, id, a.version, func(e *rawEvent) error {
		switch e.Type {
		case "bank.AccountOpened":
			var ev AccountOpened
			if err := json.Unmarshal(e.Data, &ev); err != nil {
				return err
			}
			a.Owner = ev.Owner
		case "bank.Deposited":
			var ev Deposited
			if err := json.Unmarshal(e.Data, &ev); err != nil {
				return err
			}
			a.Balance += ev.Amount
		default:
			return fmt.Errorf("unknown event type %s", e.Type)
		}
		a.version = e.Version
		return nil
	})
	return a, err
}

// seedRaw writes one stream's events (and a snapshot at snapAt) to the raw tables.
func seedRaw(ctx context.Context, pool *pgxpool.Pool, recs []es.EventRecord, snap bool, snapAt int64, state []byte) error {
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"raw", "events"}, rawEventColumns, pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) {
		e := recs[i]
		cmd := pgtype.UUID{Bytes: e.CommandID, Valid: true}
		return []any{[16]byte(e.StreamID), e.Version, [16]byte(e.ID), [16]byte(e.CommandID), e.Type, int32(e.Schema), e.Data, e.Time, cmd, cmd, nil, nil}, nil
	}))
	if err != nil {
		return err
	}
	if snap {
		_, err = pool.Exec(ctx, `INSERT INTO raw.snapshots (stream_id, schema, version, data) VALUES ($1, $2, $3, $4)`,
			[16]byte(recs[0].StreamID), int32(benchSnapSchema), snapAt, state)
	}
	return err
}
