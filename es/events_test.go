package es_test

import (
	"context"
	"errors"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// pagedStore hides memstore's ReadModelStore, so that Events reads pages.
type pagedStore struct{ es.EventStore }

var _ = Describe("es.Get", func() {
	It("reads an aggregate's current state outside any command, and the result cannot record", func() {
		w := newWorld(nil)
		id := w.open("Ann", "a@x")
		w.exec(Deposit{ID: id, Amount: 10})
		a, err := es.Get[*Account](w.ctx, w.svc, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.Balance).To(Equal(int64(10)))
		Expect(a.Version()).To(Equal(int64(2)))
		Expect(es.Record(a, Deposited{Amount: 1})).NotTo(Succeed())
		_, err = es.Get[*Account](w.ctx, w.svc, w.ids.NewID())
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
	})
})

var _ = Describe("es.Events", func() {
	var w *world
	BeforeEach(func() {
		w = newWorld(nil)
		for _, owner := range []string{"Ann", "Ben", "Cy"} {
			id := w.open(owner, owner+"@x")
			w.exec(Deposit{ID: id, Amount: 10})
			w.exec(Deposit{ID: id, Amount: 5})
		}
	})
	read := func(store es.EventStore, q es.EventsQuery) ([]any, error) {
		var out []any
		for env, err := range es.Events(w.ctx, w.svc.Registry(), store, q) {
			if err != nil {
				return out, err
			}
			out = append(out, env.Event)
		}
		return out, nil
	}
	for _, kind := range []string{"streamed", "paged"} {
		store := func() es.EventStore {
			if kind == "paged" {
				return pagedStore{w.store}
			}
			return w.store
		}
		It("yields the log decoded, in order, filtered by type, after a cursor, up to a limit ("+kind+")", func() {
			all, err := read(store(), es.EventsQuery{})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(9))
			deposits, err := read(store(), es.EventsQuery{Types: []string{"bank.Deposited"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(deposits).To(Equal([]any{Deposited{Amount: 10}, Deposited{Amount: 5}, Deposited{Amount: 10},
				Deposited{Amount: 5}, Deposited{Amount: 10}, Deposited{Amount: 5}}))
			after := w.log()[2].Cursor()
			some, err := read(store(), es.EventsQuery{After: after, Types: []string{"bank.Deposited"}, Limit: 2})
			Expect(err).NotTo(HaveOccurred())
			Expect(some).To(Equal([]any{Deposited{Amount: 10}, Deposited{Amount: 5}}))
		})
	}

	It("stops when the loop breaks", func() {
		n := 0
		for range es.Events(w.ctx, w.svc.Registry(), w.store, es.EventsQuery{}) {
			if n++; n == 2 {
				break
			}
		}
		Expect(n).To(Equal(2))
	})

	It("yields an event it cannot decode as the error, last", func() {
		other := es.NewRegistry() // knows no bank events
		var errs []error
		for _, err := range es.Events(w.ctx, other, w.store, es.EventsQuery{}) {
			errs = append(errs, err)
		}
		Expect(errs).To(HaveLen(1))
		Expect(errs[0]).To(MatchError(es.ErrUnknownEventType))
	})

	It("yields a failed read as the error", func() {
		ctx, cancel := context.WithCancel(w.ctx)
		cancel()
		var got error
		for _, err := range es.Events(ctx, w.svc.Registry(), memstore.New(), es.EventsQuery{}) {
			got = err
		}
		Expect(errors.Is(got, context.Canceled)).To(BeTrue())
	})
})
