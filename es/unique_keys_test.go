package es_test

import (
	"context"
	"errors"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("unique keys", func() {
	var w *world
	BeforeEach(func() { w = newWorld(nil) })

	uniqueKeyError := func(err error) *es.UniqueKeyError {
		GinkgoHelper()
		var uk *es.UniqueKeyError
		Expect(errors.As(err, &uk)).To(BeTrue(), "want a *es.UniqueKeyError, got %v", err)
		return uk
	}

	It("are claimed on creation: a second aggregate with the key fails with *UniqueKeyError and stores nothing", func() {
		ann := w.open("Ann", "ann@example.com")
		other := uuid.New()
		_, err := w.svc.Execute(w.ctx, OpenAccount{ID: other, Owner: "Impostor", Email: "ann@example.com"})
		uk := uniqueKeyError(err)
		Expect(*uk).To(Equal(es.UniqueKeyError{Scope: "account_email", Key: "ann@example.com", Holder: ann, Claim: other}))
		Expect(err).To(MatchError(ContainSubstring("bank.OpenAccount")))
		Expect(err).To(MatchError(ContainSubstring(`unique key account_email="ann@example.com"`)))
		_, err = w.store.StreamInfo(w.ctx, other)
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
	})

	It("are not claimed while empty: an empty key is no value, like NULL in a unique column", func() {
		// Accounts recorded without an email yet (history, an import, a Given).
		first, second := uuid.New(), uuid.New()
		_, err := w.svc.Append(w.ctx, first, AccountOpened{Owner: "Ann"})
		Expect(err).NotTo(HaveOccurred())
		_, err = w.svc.Append(w.ctx, second, AccountOpened{Owner: "Bob"})
		Expect(err).NotTo(HaveOccurred(), "two aggregates without a value must not collide on the empty key")
		w.exec(ChangeEmail{ID: first, Email: "ann@example.com"})
		_, err = w.svc.Execute(w.ctx, ChangeEmail{ID: second, Email: "ann@example.com"})
		Expect(uniqueKeyError(err).Holder).To(Equal(first))
	})

	It("are not sent for a new aggregate that has none: a new stream holds none to replace", func(ctx SpecContext) {
		store := &keyWrites{Store: memstore.New()}
		reg := es.NewRegistry()
		RegisterBank(reg)
		svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
		Expect(err).NotTo(HaveOccurred())
		_, err = svc.Append(ctx, uuid.New(), AccountOpened{Owner: "Ann"})
		Expect(err).NotTo(HaveOccurred())
		_, err = svc.Append(ctx, uuid.New(), AccountOpened{Owner: "Bob", Email: "bob@example.com"})
		Expect(err).NotTo(HaveOccurred())
		Expect(store.keys).To(Equal([][]es.UniqueKey{nil, {{Scope: "account_email", Key: "bob@example.com"}}}),
			"nil leaves a stream's keys as they are; an empty set would replace them, work for the store")
	})

	It("are released when the aggregate changes them", func() {
		ann := w.open("Ann", "ann@example.com")
		w.exec(ChangeEmail{ID: ann, Email: "ann@new.example"})
		w.open("Second Ann", "ann@example.com")
		_, err := w.svc.Execute(w.ctx, OpenAccount{ID: uuid.New(), Owner: "X", Email: "ann@new.example"})
		Expect(uniqueKeyError(err).Holder).To(Equal(ann))
	})

	It("are all released when the aggregate returns none", func() {
		ann := w.open("Ann", "ann@example.com")
		w.exec(CloseAccount{ID: ann})
		w.open("Second Ann", "ann@example.com")
	})

	It("stay held across changes that do not touch them", func() {
		ann := w.open("Ann", "ann@example.com")
		w.exec(Deposit{ID: ann, Amount: 1})
		_, err := w.svc.Execute(w.ctx, OpenAccount{ID: uuid.New(), Owner: "X", Email: "ann@example.com"})
		Expect(uniqueKeyError(err).Holder).To(Equal(ann))
	})

	It("refuse a change to a key another aggregate holds, and nothing is stored", func() {
		w.open("Ann", "ann@example.com")
		bob := w.open("Bob", "bob@example.com")
		_, err := w.svc.Execute(w.ctx, ChangeEmail{ID: bob, Email: "ann@example.com"})
		uniqueKeyError(err)
		Expect(w.account(bob).Email).To(Equal("bob@example.com"))
	})

	It("are compared exactly: folding case is the application's choice", func() {
		w.open("Ann", "ann@example.com")
		// Account lowercases its key, so another case of the address conflicts.
		_, err := w.svc.Execute(w.ctx, OpenAccount{ID: uuid.New(), Owner: "X", Email: "ANN@Example.com"})
		Expect(uniqueKeyError(err).Key).To(Equal("ann@example.com"))

		// The store itself does not fold case.
		commit := func(key string) error {
			id := uuid.New()
			return w.store.Commit(w.ctx, &es.Commit{
				Command: es.CommandRecord{ID: uuid.New(), Type: "spec.Raw"},
				Streams: []es.StreamWrite{{StreamID: id, StreamType: "bank.Counter",
					Events:     []es.EventRecord{{ID: uuid.New(), StreamID: id, StreamType: "bank.Counter", Version: 1, Type: "bank.Incremented", Schema: 1, Data: []byte(`{"By":1}`)}},
					UniqueKeys: []es.UniqueKey{{Scope: "raw", Key: key}}}},
			}, nil)
		}
		Expect(commit("Key")).To(Succeed())
		Expect(commit("key")).To(Succeed())
		uniqueKeyError(commit("Key"))
	})

	It("are scoped: the same key in another scope is no conflict", func() {
		commit := func(scope string) error {
			id := uuid.New()
			return w.store.Commit(w.ctx, &es.Commit{
				Command: es.CommandRecord{ID: uuid.New(), Type: "spec.Raw"},
				Streams: []es.StreamWrite{{StreamID: id, StreamType: "bank.Counter",
					Events:     []es.EventRecord{{ID: uuid.New(), StreamID: id, StreamType: "bank.Counter", Version: 1, Type: "bank.Incremented", Schema: 1, Data: []byte(`{"By":1}`)}},
					UniqueKeys: []es.UniqueKey{{Scope: scope, Key: "k"}}}},
			}, nil)
		}
		Expect(commit("a")).To(Succeed())
		Expect(commit("b")).To(Succeed())
		uniqueKeyError(commit("a"))
	})

	It("conflict within one commit when two new aggregates claim the same key", func() {
		a, b := uuid.New(), uuid.New()
		rec := func(id uuid.UUID) es.StreamWrite {
			return es.StreamWrite{StreamID: id, StreamType: "bank.Counter",
				Events:     []es.EventRecord{{ID: uuid.New(), StreamID: id, StreamType: "bank.Counter", Version: 1, Type: "bank.Incremented", Schema: 1, Data: []byte(`{"By":1}`)}},
				UniqueKeys: []es.UniqueKey{{Scope: "s", Key: "k"}}}
		}
		err := w.store.Commit(w.ctx, &es.Commit{Command: es.CommandRecord{ID: uuid.New()}, Streams: []es.StreamWrite{rec(a), rec(b)}}, nil)
		uniqueKeyError(err)
		Expect(w.log()).To(BeEmpty())
	})

	It("must each have a scope, one key per scope", func() {
		for keys, msg := range map[string]string{
			"noscope": `unique key "k" has no scope`,
			"twice":   "two unique keys in scope s: an aggregate holds one key per scope",
		} {
			w := newWorld(func(r *es.Registry) {
				t := es.RegisterAggregate(r, "spec.Keyed", func() *keyed { return &keyed{which: keys} })
				es.RegisterEvent[plainHappened](t, "spec.Happened")
				es.Handle(r, "spec.MakeKeyed", func(ctx context.Context, u *es.UnitOfWork, cmd halfDone) error {
					k, err := es.Create[*keyed](ctx, u, cmd.ID)
					if err != nil {
						return err
					}
					return es.Record(k, plainHappened{})
				})
			})
			Expect(w.svc.Execute(w.ctx, halfDone{ID: uuid.New()})).Error().To(MatchError(ContainSubstring(msg)))
			Expect(w.log()).To(BeEmpty())
		}
	})
})

// keyed holds faulty unique keys.
type keyed struct {
	es.AggregateRoot
	which string
}

func (*keyed) On(any) {}

func (k *keyed) UniqueKeys() []es.UniqueKey {
	if k.which == "noscope" {
		return []es.UniqueKey{{Key: "k"}}
	}
	return []es.UniqueKey{{Scope: "s", Key: "a"}, {Scope: "s", Key: "b"}}
}

// keyWrites is a memory store that records the unique keys of each stream
// write it commits.
type keyWrites struct {
	*memstore.Store
	keys [][]es.UniqueKey
}

func (s *keyWrites) Commit(ctx context.Context, c *es.Commit, inTx func(context.Context, es.Persistor) error) error {
	for _, w := range c.Streams {
		s.keys = append(s.keys, w.UniqueKeys)
	}
	return s.Store.Commit(ctx, c, inTx)
}
