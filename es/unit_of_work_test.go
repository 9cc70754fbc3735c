package es_test

import (
	"context"
	"errors"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("UnitOfWork", func() {
	var (
		w       *world
		handler func(ctx context.Context, u *es.UnitOfWork) error
	)
	type run struct{}
	BeforeEach(func() {
		w = newWorld(func(r *es.Registry) {
			RegisterBank(r)
			es.Handle(r, "spec.Run", func(ctx context.Context, u *es.UnitOfWork, _ run) error { return handler(ctx, u) })
		})
	})
	// inHandler runs fn as a command handler and returns Execute's error.
	inHandler := func(fn func(ctx context.Context, u *es.UnitOfWork) error) error {
		handler = fn
		_, err := w.svc.Execute(w.ctx, run{})
		return err
	}

	It("keeps one instance per id (the identity map)", func() {
		id := w.open("Ann", "a@x")
		Expect(inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			a, err := es.Load[*Account](ctx, u, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.Deposit(5)).To(Succeed())
			b, err := es.Load[*Account](ctx, u, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(BeIdenticalTo(a))
			Expect(b.Balance).To(Equal(int64(5)), "the second load sees the first one's changes")
			return b.Deposit(1)
		})).To(Succeed())
		Expect(w.events(id)).To(Equal([]any{AccountOpened{Owner: "Ann", Email: "a@x"}, Deposited{Amount: 5}, Deposited{Amount: 1}}))
	})

	It("returns the aggregate it created to a later Load", func() {
		id := uuid.New()
		Expect(inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			a, err := es.Create[*Account](ctx, u, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(a.ID()).To(Equal(id))
			Expect(a.Version()).To(BeZero())
			b, err := es.Load[*Account](ctx, u, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(BeIdenticalTo(a))
			return es.Record(a, AccountOpened{Owner: "New", Email: "n@x"})
		})).To(Succeed())
		Expect(w.account(id).Owner).To(Equal("New"))
	})

	It("refuses to create an id that exists in the store, whatever its type, at commit", func() {
		id := w.open("Ann", "a@x")
		err := inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			c, err := es.Create[*Counter](ctx, u, id)
			if err != nil {
				return err
			}
			return es.Record(c, Incremented{By: 1})
		})
		Expect(err).To(MatchError(es.ErrAggregateExists))
		Expect(err).To(MatchError(ContainSubstring("a bank.Account with this id exists")))
	})

	It("refuses to create an id twice in one unit of work", func() {
		id := uuid.New()
		err := inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			if _, err := es.Create[*Account](ctx, u, id); err != nil {
				return err
			}
			_, err := es.Create[*Account](ctx, u, id)
			return err
		})
		Expect(err).To(MatchError(es.ErrAggregateExists))
		Expect(w.log()).To(BeEmpty())
	})

	It("refuses the nil id", func() {
		err := inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			_, err := es.Create[*Account](ctx, u, uuid.Nil)
			return err
		})
		Expect(err).To(MatchError(ContainSubstring("the nil uuid is not an aggregate id")))
	})

	It("fails to load a missing aggregate with ErrAggregateNotFound", func() {
		missing := uuid.New()
		err := inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			_, err := es.Load[*Account](ctx, u, missing)
			return err
		})
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
		Expect(err).To(MatchError(ContainSubstring(missing.String())))
	})

	It("fails to load a stream as another type with ErrAggregateType, from the store and from the identity map", func() {
		id := w.open("Ann", "a@x")
		err := inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			_, err := es.Load[*Counter](ctx, u, id)
			return err
		})
		Expect(err).To(MatchError(es.ErrAggregateType))
		Expect(err).To(MatchError(ContainSubstring("the stream belongs to a bank.Account")))

		err = inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			if _, err := es.Load[*Account](ctx, u, id); err != nil {
				return err
			}
			_, err := es.Load[*Counter](ctx, u, id)
			return err
		})
		Expect(err).To(MatchError(es.ErrAggregateType))
		Expect(err).To(MatchError(ContainSubstring("the unit of work holds it as bank.Account")))
	})

	It("refuses an aggregate type that is not registered", func() {
		err := inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			_, err := es.Load[*plain](ctx, u, uuid.New())
			return err
		})
		Expect(err).To(MatchError(ContainSubstring("aggregate type *es_test.plain is not registered: register it with es.RegisterAggregate")))
	})

	It("gives handlers the service's clock and ids", func() {
		Expect(inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			Expect(u.Now()).To(Equal(testStart))
			a, b := u.NewID(), u.NewID()
			Expect(a).NotTo(Equal(b))
			Expect(b[15]).To(Equal(a[15]+1), "SequentialIDs")
			return nil
		})).To(Succeed())
	})

	It("does not keep a loaded aggregate that failed to load", func() {
		id := uuid.New()
		Expect(inHandler(func(ctx context.Context, u *es.UnitOfWork) error {
			_, err := es.Load[*Account](ctx, u, id)
			Expect(errors.Is(err, es.ErrAggregateNotFound)).To(BeTrue())
			_, err = es.Create[*Account](ctx, u, id)
			return err
		})).To(Succeed(), "a failed load leaves the id free to create")
	})
})
