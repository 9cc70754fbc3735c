package pgstore_test

import (
	"context"
	"errors"
	"sync"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// claiming returns a commit of one event to stream id that sets its unique keys.
func claiming(id uuid.UUID, expected int64, keys ...es.UniqueKey) *es.Commit {
	c := commitOf(stream(id, expected, 1))
	c.Streams[0].UniqueKeys = keys
	return c
}

var _ = Describe("unique keys", Label("integration"), func() {
	BeforeEach(requireDB)

	var email es.UniqueKey
	BeforeEach(func() { email = es.UniqueKey{Scope: "email", Key: newID().String() + "@example.com"} })

	It("refuses a key another stream holds, naming scope, key, claim and holder", func(ctx SpecContext) {
		holder, claim := newID(), newID()
		Expect(store.Commit(ctx, claiming(holder, 0, email), nil)).To(Succeed())
		c := claiming(claim, 0, email)
		err := store.Commit(ctx, c, nil)
		var ke *es.UniqueKeyError
		Expect(errors.As(err, &ke)).To(BeTrue(), "got %v", err)
		Expect(*ke).To(Equal(es.UniqueKeyError{Scope: "email", Key: email.Key, Holder: holder, Claim: claim}))
		var pe *pgconn.PgError
		Expect(errors.As(err, &pe)).To(BeTrue(), "the PostgreSQL cause stays wrapped")
		_, err = store.StreamInfo(ctx, claim)
		Expect(err).To(MatchError(es.ErrAggregateNotFound), "nothing was written")
		Expect(store.Commands(ctx, c.Command.ID)).To(BeEmpty())
	})

	It("keeps keys on nil, replaces them on a new slice and releases them on an empty one", func(ctx SpecContext) {
		a, b := newID(), newID()
		Expect(store.Commit(ctx, claiming(a, 0, email), nil)).To(Succeed())
		Expect(store.Commit(ctx, claiming(a, 1, email), nil)).To(Succeed(), "a stream may claim its own key again")
		Expect(store.Commit(ctx, commitOf(stream(a, 2, 1)), nil)).To(Succeed(), "nil leaves keys alone")
		var ke *es.UniqueKeyError
		Expect(errors.As(store.Commit(ctx, claiming(b, 0, email), nil), &ke)).To(BeTrue())

		other := es.UniqueKey{Scope: "email", Key: "other-" + email.Key}
		Expect(store.Commit(ctx, claiming(a, 3, other), nil)).To(Succeed(), "replacing frees the old key")
		Expect(store.Commit(ctx, claiming(b, 0, email), nil)).To(Succeed())
		Expect(store.Commit(ctx, claiming(newID(), 0, other), nil)).To(HaveOccurred())
		Expect(store.Commit(ctx, claiming(a, 4, []es.UniqueKey{}...), nil)).To(Succeed(), "an empty slice releases all")
		Expect(store.Commit(ctx, claiming(newID(), 0, other), nil)).To(Succeed())
	})

	It("refuses one key claimed by two streams of one commit", func(ctx SpecContext) {
		a, b := newID(), newID()
		c := commitOf(stream(a, 0, 1), stream(b, 0, 1))
		c.Streams[0].UniqueKeys = []es.UniqueKey{email}
		c.Streams[1].UniqueKeys = []es.UniqueKey{email}
		var ke *es.UniqueKeyError
		Expect(errors.As(store.Commit(ctx, c, nil), &ke)).To(BeTrue())
		Expect(ke.Holder).To(Equal(a))
		Expect(ke.Claim).To(Equal(b))
	})

	It("lets exactly one of two concurrent claims win", func(ctx SpecContext) {
		for range 10 {
			key := es.UniqueKey{Scope: "email", Key: newID().String()}
			ids := []uuid.UUID{newID(), newID()}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = store.Commit(ctx, claiming(ids[i], 0, key), nil)
				}()
			}
			close(start)
			wg.Wait()
			won := 0
			for i, err := range errs {
				if err == nil {
					won++
					continue
				}
				var ke *es.UniqueKeyError
				Expect(errors.As(err, &ke)).To(BeTrue(), "got %v", err)
				Expect(ke.Claim).To(Equal(ids[i]))
				Expect(ke.Holder).To(Equal(ids[1-i]))
			}
			Expect(won).To(Equal(1))
		}
	})
})

var _ = Describe("inTx", Label("integration"), func() {
	BeforeEach(requireDB)

	table := es.TableDef{Name: "intx_rows", Columns: []es.Column{{Name: "id", Type: es.UUID}, {Name: "position", Type: es.Int}}, Key: []string{"id"}}

	BeforeEach(func(ctx SpecContext) {
		Expect(store.Views().CreateTables(ctx, table)).To(Succeed())
	})

	It("commits view rows with the events, positions already filled in", func(ctx SpecContext) {
		id := newID()
		c := commitOf(stream(id, 0, 1))
		Expect(store.Commit(ctx, c, func(ctx context.Context, v es.Persistor) error {
			return v.Insert(ctx, table.Name, es.Row{"id": id, "position": c.Streams[0].Events[0].Position})
		})).To(Succeed())
		rows, err := store.Views().Find(ctx, table.Name, es.Where{"id": id})
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(Equal([]es.Row{{"id": id, "position": c.Streams[0].Events[0].Position}}))
		Expect(c.Streams[0].Events[0].Position).NotTo(BeZero())
	})

	It("rolls everything back when inTx fails: no command, event, key or view row", func(ctx SpecContext) {
		id := newID()
		key := es.UniqueKey{Scope: "email", Key: id.String()}
		c := claiming(id, 0, key)
		c.Streams[0].Snapshot = &es.Snapshot{StreamID: id, Version: 1, Schema: 1, Data: []byte("s")}
		boom := errors.New("projector failed")
		err := store.Commit(ctx, c, func(ctx context.Context, v es.Persistor) error {
			if err := v.Insert(ctx, table.Name, es.Row{"id": id, "position": 1}); err != nil {
				return err
			}
			return boom
		})
		Expect(err).To(MatchError(boom))
		Expect(store.Commands(ctx, c.Command.ID)).To(BeEmpty())
		Expect(store.LoadStream(ctx, id, es.StreamQuery{})).To(BeEmpty())
		_, err = store.StreamInfo(ctx, id)
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
		Expect(store.LoadSnapshot(ctx, id, 1, 0)).To(BeNil())
		Expect(store.Views().Find(ctx, table.Name, es.Where{"id": id})).To(BeEmpty())
		Expect(store.Commit(ctx, claiming(newID(), 0, key), nil)).To(Succeed(), "the key was never taken")
	})

	It("does not commit when inTx drops the error of a failed statement", func(ctx SpecContext) {
		id := newID()
		Expect(store.Views().Insert(ctx, table.Name, es.Row{"id": id, "position": 0})).To(Succeed())
		err := store.Commit(ctx, commitOf(stream(id, 0, 1)), func(ctx context.Context, v es.Persistor) error {
			_ = v.Insert(ctx, table.Name, es.Row{"id": id, "position": 1})
			return nil
		})
		// The insert was queued: its error comes with the commit, as its own.
		Expect(err).To(MatchError(es.ErrDuplicateRecord))
		Expect(err).To(MatchError(ContainSubstring("insert into intx_rows")))
		Expect(store.LoadStream(ctx, id, es.StreamQuery{})).To(BeEmpty())

		other := newID()
		err = store.Commit(ctx, commitOf(stream(other, 0, 1)), func(ctx context.Context, v es.Persistor) error {
			_, _ = v.Update(ctx, table.Name, es.Where{"id": id}, es.Row{"position": "not a number"})
			_, _ = v.Delete(ctx, "no_such_table", es.Where{})
			_, _ = v.Find(ctx, table.Name, es.Where{"id": 1.5})
			_, err := v.Update(ctx, table.Name, es.Where{"id": other}, es.Row{"position": 1})
			_ = v.Insert(ctx, table.Name, es.Row{"id": id, "position": 1}) // sent: fails the transaction
			_, _ = v.Find(ctx, table.Name, es.Where{})
			return err
		})
		Expect(err).To(MatchError(pgx.ErrTxCommitRollback))
		Expect(store.LoadStream(ctx, other, es.StreamQuery{})).To(BeEmpty())
	})

	It("sends queued writes before a read, an update or a delete: each sees the writes before it", func(ctx SpecContext) {
		a, b, d := newID(), newID(), newID()
		Expect(store.Views().Insert(ctx, table.Name, es.Row{"id": d, "position": 9})).To(Succeed())
		Expect(store.Commit(ctx, commitOf(stream(a, 0, 1)), func(ctx context.Context, v es.Persistor) error {
			Expect(v.Insert(ctx, table.Name, es.Row{"id": a, "position": 1})).To(Succeed())
			Expect(v.Upsert(ctx, table.Name, es.Row{"id": b, "position": 2})).To(Succeed())
			Expect(v.Find(ctx, table.Name, es.Where{"id": a})).To(Equal([]es.Row{{"id": a, "position": int64(1)}}))
			Expect(v.(es.Setter).Set(ctx, table.Name, es.Where{"id": a}, es.Row{"position": 10})).To(Succeed())
			Expect(v.Update(ctx, table.Name, es.Where{"id": b}, es.Row{"position": 20})).To(BeEquivalentTo(1))
			Expect(v.Update(ctx, table.Name, es.Where{"id": newID()}, es.Row{"position": 20})).To(BeEquivalentTo(0))
			Expect(v.Delete(ctx, table.Name, es.Where{"id": d})).To(BeEquivalentTo(1))
			return v.(es.Setter).Set(ctx, table.Name, es.Where{"id": b}, es.Row{"position": 21})
		})).To(Succeed())
		Expect(store.Views().Find(ctx, table.Name, es.Where{"id": a})).To(Equal([]es.Row{{"id": a, "position": int64(10)}}))
		Expect(store.Views().Find(ctx, table.Name, es.Where{"id": b})).To(Equal([]es.Row{{"id": b, "position": int64(21)}}))
		Expect(store.Views().Find(ctx, table.Name, es.Where{"id": d})).To(BeEmpty())
	})

	It("rolls back when a view write fails", func(ctx SpecContext) {
		id := newID()
		Expect(store.Views().Insert(ctx, table.Name, es.Row{"id": id, "position": 0})).To(Succeed())
		c := commitOf(stream(id, 0, 1))
		err := store.Commit(ctx, c, func(ctx context.Context, v es.Persistor) error {
			return v.Insert(ctx, table.Name, es.Row{"id": id, "position": 1})
		})
		Expect(err).To(MatchError(es.ErrDuplicateRecord))
		Expect(store.LoadStream(ctx, id, es.StreamQuery{})).To(BeEmpty())
	})
})
