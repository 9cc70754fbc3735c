package es_test

import (
	"context"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Record", func() {
	var (
		w  *world
		id uuid.UUID
		fn func(a *Account) error
	)
	type tryRecord struct{ ID uuid.UUID }
	BeforeEach(func() {
		w = newWorld(func(r *es.Registry) {
			RegisterBank(r)
			es.Handle(r, "spec.TryRecord", func(ctx context.Context, u *es.UnitOfWork, cmd tryRecord) error {
				a, err := es.Load[*Account](ctx, u, cmd.ID)
				if err != nil {
					return err
				}
				return fn(a)
			})
		})
		id = w.open("Ann", "ann@example.com")
	})
	try := func(f func(a *Account) error) error {
		fn = f
		_, err := w.svc.Execute(w.ctx, tryRecord{ID: id})
		return err
	}

	It("applies the event at once and queues it", func() {
		Expect(try(func(a *Account) error {
			Expect(es.Record(a, Deposited{Amount: 5})).To(Succeed())
			Expect(a.Balance).To(Equal(int64(5)))
			Expect(a.Version()).To(Equal(int64(2)))
			Expect(a.Pending()).To(Equal([]any{Deposited{Amount: 5}}))
			return nil
		})).To(Succeed())
		Expect(w.events(id)).To(Equal([]any{AccountOpened{Owner: "Ann", Email: "ann@example.com"}, Deposited{Amount: 5}}))
	})

	It("refuses an aggregate that is not attached to a unit of work", func() {
		err := es.Record(new(Account), Deposited{Amount: 1})
		Expect(err).To(MatchError(ContainSubstring("aggregate is not attached to a unit of work: get it from es.Create or es.Load")))
	})

	It("refuses an aggregate loaded for time travel", func() {
		err := es.Record(w.account(id), Deposited{Amount: 1})
		Expect(err).To(MatchError(ContainSubstring("not attached to a unit of work")))
	})

	It("refuses an unregistered event, and nothing is stored", func() {
		err := try(func(a *Account) error { return es.Record(a, plainHappened{}) })
		Expect(err).To(MatchError(ContainSubstring("bank.Account recorded es_test.plainHappened, which is not a registered event: register it with es.RegisterEvent")))
		Expect(err).To(MatchError(ContainSubstring("spec.TryRecord")))
		Expect(w.log()).To(HaveLen(1))
	})

	It("refuses an event registered for another aggregate type", func() {
		err := try(func(a *Account) error { return es.Record(a, Incremented{By: 1}) })
		Expect(err).To(MatchError(ContainSubstring("bank.Account recorded bank.Incremented, which is registered for bank.Counter")))
		Expect(w.log()).To(HaveLen(1))
	})

	It("refuses a pointer to a registered event, saying to record values", func() {
		var state int
		err := try(func(a *Account) error {
			err := es.Record(a, &Deposited{Amount: 1})
			state = a.Applied
			return err
		})
		Expect(err).To(MatchError(ContainSubstring("record events as values, not pointers")))
		Expect(state).To(Equal(1), "the refused event was not applied")
		Expect(w.log()).To(HaveLen(1))
	})
})
