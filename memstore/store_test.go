package memstore_test

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// testStart is a time in canonical precision, as the store keeps times.
var testStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

var _ = Describe("Store", func() {
	var (
		ctx   context.Context
		store *memstore.Store
	)
	BeforeEach(func() {
		ctx = context.Background()
		store = memstore.New()
	})
	// write builds a stream write of n Incremented events after version from.
	write := func(id uuid.UUID, from int64, n int) es.StreamWrite {
		w := es.StreamWrite{StreamID: id, StreamType: "bank.Counter", ExpectedVersion: from}
		for i := range n {
			w.Events = append(w.Events, es.EventRecord{ID: uuid.New(), StreamID: id, StreamType: "bank.Counter",
				Version: from + int64(i) + 1, Type: "bank.Incremented", Schema: 1, Data: []byte(`{"By":1}`)})
		}
		return w
	}
	commit := func(ws ...es.StreamWrite) error {
		return store.Commit(ctx, &es.Commit{Command: es.CommandRecord{ID: uuid.New(), Type: "spec.Raw"}, Streams: ws}, nil)
	}
	versions := func(recs []es.EventRecord) []int64 {
		out := []int64{}
		for _, r := range recs {
			out = append(out, r.Version)
		}
		return out
	}

	It("passes estest's event-store conformance suite", func() {
		fresh := func(context.Context) (es.EventStore, error) { return memstore.New(), nil }
		Expect(estest.TestEventStore(ctx, fresh)).To(Succeed())
	})

	It("reads the global log in commit order, with a limit, resuming after a cursor", func() {
		a, b := uuid.New(), uuid.New()
		Expect(commit(write(a, 0, 2))).To(Succeed())
		Expect(commit(write(b, 0, 1), write(a, 2, 1))).To(Succeed())
		Expect(commit(write(b, 1, 2))).To(Succeed())

		all, err := store.ReadLog(ctx, es.Cursor{}, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(HaveLen(6))
		for i := 1; i < len(all); i++ {
			Expect(all[i-1].Cursor().Before(all[i].Cursor())).To(BeTrue())
		}
		Expect(all[2].TxID).To(Equal(all[3].TxID), "one commit, one transaction")
		Expect(all[2].StreamID).To(Equal(b))
		Expect(all[3].StreamID).To(Equal(a))

		page, err := store.ReadLog(ctx, es.Cursor{}, 4)
		Expect(err).NotTo(HaveOccurred())
		Expect(page).To(Equal(all[:4]))
		rest, err := store.ReadLog(ctx, page[len(page)-1].Cursor(), 4)
		Expect(err).NotTo(HaveOccurred())
		Expect(rest).To(Equal(all[4:]))
		none, err := store.ReadLog(ctx, all[5].Cursor(), 4)
		Expect(err).NotTo(HaveOccurred())
		Expect(none).To(BeEmpty())
	})

	It("loads a stream by version range, and reports its type and version", func() {
		id := uuid.New()
		Expect(commit(write(id, 0, 5))).To(Succeed())
		recs, err := store.LoadStream(ctx, id, es.StreamQuery{FromVersion: 2, ToVersion: 4})
		Expect(err).NotTo(HaveOccurred())
		Expect(versions(recs)).To(Equal([]int64{2, 3, 4}))
		Expect(store.StreamInfo(ctx, id)).To(Equal(es.StreamInfo{Type: "bank.Counter", Version: 5}))

		recs, err = store.LoadStream(ctx, uuid.New(), es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(BeEmpty(), "a missing stream is no error")
		_, err = store.StreamInfo(ctx, uuid.New())
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
	})

	It("refuses a stale expected version, a stream of another type and malformed writes, writing nothing", func() {
		id := uuid.New()
		Expect(commit(write(id, 0, 2))).To(Succeed())
		Expect(commit(write(id, 1, 1))).To(MatchError(es.ErrConcurrencyConflict))
		Expect(commit(write(id, 0, 1))).To(MatchError(es.ErrConcurrencyConflict))
		other := write(id, 2, 1)
		other.StreamType = "bank.Account"
		Expect(commit(other)).To(MatchError(es.ErrConcurrencyConflict))
		gap := write(id, 2, 1)
		gap.Events[0].Version = 4
		Expect(commit(gap)).To(MatchError(ContainSubstring("want version 3")))
		Expect(commit(es.StreamWrite{StreamType: "x"})).To(MatchError(ContainSubstring("nil uuid")))
		// a good write together with a bad one: nothing of either
		Expect(commit(write(uuid.New(), 0, 1), write(id, 0, 1))).To(MatchError(es.ErrConcurrencyConflict))

		all, err := store.ReadLog(ctx, es.Cursor{}, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(HaveLen(2))
	})

	It("keeps what it was given, not the caller's buffers", func() {
		id := uuid.New()
		w := write(id, 0, 1)
		Expect(commit(w)).To(Succeed())
		w.Events[0].Data[0] = 'X'
		recs, _ := store.LoadStream(ctx, id, es.StreamQuery{})
		Expect(string(recs[0].Data)).To(Equal(`{"By":1}`))
		recs[0].Data[0] = 'Y'
		again, _ := store.LoadStream(ctx, id, es.StreamQuery{})
		Expect(string(again[0].Data)).To(Equal(`{"By":1}`))
	})

	It("returns the newest snapshot of a schema up to a version", func() {
		id := uuid.New()
		w := write(id, 0, 3)
		w.Snapshot = &es.Snapshot{StreamID: id, Version: 3, Schema: 1, Data: []byte("s3")}
		Expect(commit(w)).To(Succeed())
		w = write(id, 3, 3)
		w.Snapshot = &es.Snapshot{StreamID: id, Version: 6, Schema: 1, Data: []byte("s6")}
		Expect(commit(w)).To(Succeed())

		s, err := store.LoadSnapshot(ctx, id, 1, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(*s).To(Equal(es.Snapshot{StreamID: id, StreamType: "bank.Counter", Version: 6, Schema: 1, Data: []byte("s6")}))
		s, err = store.LoadSnapshot(ctx, id, 1, 5)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Version).To(Equal(int64(3)))
		s, err = store.LoadSnapshot(ctx, id, 2, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(s).To(BeNil())
	})

	It("keeps command records for the audit trail", func() {
		cmd := es.CommandRecord{ID: uuid.New(), Type: "spec.Raw", Data: []byte(`{}`), UserID: "u", Metadata: map[string]string{"k": "v"}, Time: testStart}
		Expect(store.Commit(ctx, &es.Commit{Command: cmd, Streams: []es.StreamWrite{write(uuid.New(), 0, 1)}}, nil)).To(Succeed())
		got, err := store.Commands(ctx, cmd.ID, uuid.New())
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]es.CommandRecord{cmd}))
	})

	It("deletes a stream with its events, snapshots and unique keys, freeing the keys", func() {
		gone, kept := uuid.New(), uuid.New()
		w := write(gone, 0, 2)
		w.UniqueKeys = []es.UniqueKey{{Scope: "s", Key: "k"}}
		w.Snapshot = &es.Snapshot{StreamID: gone, Version: 2, Schema: 1, Data: []byte("s")}
		Expect(commit(w, write(kept, 0, 1))).To(Succeed())
		taker := write(uuid.New(), 0, 1)
		taker.UniqueKeys = []es.UniqueKey{{Scope: "s", Key: "k"}}
		var uk *es.UniqueKeyError
		Expect(commit(taker)).To(BeAssignableToTypeOf(uk))

		Expect(store.DeleteStream(ctx, gone)).To(Succeed())
		recs, err := store.LoadStream(ctx, gone, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(BeEmpty())
		_, err = store.StreamInfo(ctx, gone)
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
		s, err := store.LoadSnapshot(ctx, gone, 1, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(s).To(BeNil())
		log, err := store.ReadLog(ctx, es.Cursor{}, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(log).To(HaveLen(1))
		Expect(log[0].StreamID).To(Equal(kept))
		Expect(commit(taker)).To(Succeed(), "the key is free")
		Expect(store.DeleteStream(ctx, uuid.New())).To(Succeed(), "deleting nothing is no error")
	})

	It("honours a cancelled context", func() {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		Expect(store.Commit(cancelled, &es.Commit{Streams: []es.StreamWrite{write(uuid.New(), 0, 1)}}, nil)).To(MatchError(context.Canceled))
		_, err := store.LoadStream(cancelled, uuid.New(), es.StreamQuery{})
		Expect(err).To(MatchError(context.Canceled))
		_, err = store.ReadLog(cancelled, es.Cursor{}, 0)
		Expect(err).To(MatchError(context.Canceled))
	})
})
