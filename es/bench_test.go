package es_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
)

// benchService builds a service for the bank on a fresh memory store.
func benchService(b *testing.B, register func(*es.Registry)) *es.CommandService {
	b.Helper()
	r := es.NewRegistry()
	register(r)
	svc, err := es.NewCommandService(context.Background(), r, memstore.New(), es.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// seedAccount stores an opened account with n-1 deposits directly in the store,
// with a snapshot at version n when snapshot is set.
func seedAccount(b *testing.B, store es.EventStore, n int, snapshot bool) uuid.UUID {
	b.Helper()
	id := uuid.New()
	w := es.StreamWrite{StreamID: id, StreamType: "bank.Account"}
	for v := 1; v <= n; v++ {
		typ, data := "bank.Deposited", `{"Amount":1}`
		if v == 1 {
			typ, data = "bank.AccountOpened", fmt.Sprintf(`{"owner":"Ann","email":"%s@example.com"}`, id)
		}
		w.Events = append(w.Events, es.EventRecord{ID: uuid.New(), StreamID: id, StreamType: "bank.Account",
			Version: int64(v), Type: typ, Schema: 1, Data: []byte(data)})
	}
	if snapshot {
		w.Snapshot = &es.Snapshot{StreamID: id, Version: int64(n), Schema: 1,
			Data: []byte(fmt.Sprintf(`{"owner":"Ann","email":"%s@example.com","balance":%d}`, id, n-1))}
	}
	err := store.Commit(context.Background(), &es.Commit{Command: es.CommandRecord{ID: uuid.New(), Type: "bench.Seed"},
		Streams: []es.StreamWrite{w}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkExecute measures one command through the whole service on the memory
// store: a command that creates an aggregate and appends its first event, and one
// that loads an aggregate of 10 events and appends one.
func BenchmarkExecute(b *testing.B) {
	ctx := context.Background()
	b.Run("create", func(b *testing.B) {
		svc := benchService(b, RegisterBank)
		b.ReportAllocs()
		for b.Loop() {
			id := uuid.New()
			if _, err := svc.Execute(ctx, OpenAccount{ID: id, Owner: "Ann", Email: id.String() + "@example.com"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append-to-10", func(b *testing.B) {
		svc := benchService(b, RegisterBank)
		b.ReportAllocs()
		for range b.N {
			b.StopTimer()
			id := seedAccount(b, svc.Store(), 10, false)
			b.StartTimer()
			if _, err := svc.Execute(ctx, Deposit{ID: id, Amount: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad measures rebuilding an aggregate of 1,000 events from the memory
// store, from its events alone and from a snapshot at its last version.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	for _, snap := range []bool{false, true} {
		name := "1000-events"
		register := RegisterBank
		if snap {
			name = "1000-events-snapshot"
			register = BankOptions{Account: []es.AggregateOption{es.SnapshotEvery(1000, 1)}}.Register
		}
		b.Run(name, func(b *testing.B) {
			svc := benchService(b, register)
			id := seedAccount(b, svc.Store(), 1000, snap)
			b.ReportAllocs()
			for b.Loop() {
				a, err := es.LoadAt[*Account](ctx, svc, id, es.StreamQuery{})
				if err != nil {
					b.Fatal(err)
				}
				if a.Balance != 999 || a.Restored != snap {
					b.Fatalf("balance %d, restored %v", a.Balance, a.Restored)
				}
			}
		})
	}
}
