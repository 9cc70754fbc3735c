package es_test

import (
	"context"
	"strings"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("DryRun", func() {
	var (
		w       *world
		trace   []string
		id      = uuid.MustParse("00000000-0000-0000-0000-0000000000a0")
		counter = uuid.MustParse("00000000-0000-0000-0000-0000000000c0")
	)
	BeforeEach(func() {
		trace = nil
		w = newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.Use(traceCommands(&trace))
			r.AddProjector(newAccountProjector())
			r.AddWorkflow(welcome(counter))
		})
	})

	It("reports events, projectors, workflows and the commands they would issue, storing nothing", func() {
		rep, err := w.svc.DryRun(w.ctx,
			OpenAccount{ID: id, Owner: "Ann", Email: "a@x"},
			Deposit{ID: id, Amount: 0},
			Deposit{ID: id, Amount: 5},
		)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Commands).To(HaveLen(3))

		open := rep.Commands[0]
		Expect(open.Name).To(Equal("bank.OpenAccount"))
		Expect(open.Err).NotTo(HaveOccurred())
		Expect(open.Events).To(HaveLen(1))
		e := open.Events[0]
		Expect(e.Event).To(Equal(AccountOpened{Owner: "Ann", Email: "a@x"}))
		Expect(e.StreamID).To(Equal(id))
		Expect(e.Version).To(Equal(int64(1)))
		Expect(e.Projectors).To(Equal([]string{"accounts"}))
		Expect(e.Workflows).To(Equal([]string{"welcome"}))
		Expect(e.Commands).To(Equal([]any{Deposit{ID: id, Amount: 1}, Deposit{ID: id, Amount: 2}}))

		var ve *es.ValidationError
		Expect(rep.Commands[1].Err).To(BeAssignableToTypeOf(ve))
		Expect(rep.Commands[2].Err).To(MatchError(es.ErrAggregateNotFound), "each command sees the store as it is")

		Expect(w.log()).To(BeEmpty())
		rs, err := AccountRecords.Find(w.ctx, w.svc.Views(), es.Where{})
		Expect(err).NotTo(HaveOccurred())
		Expect(rs).To(BeEmpty())
		Expect(trace).To(BeEmpty(), "middleware does not run")
	})

	It("prints the report as an outline", func() {
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		rep, err := w.svc.DryRun(w.ctx, Deposit{ID: id, Amount: 1}, Withdraw{ID: id, Amount: 99}, struct{}{})
		Expect(err).NotTo(HaveOccurred())
		var b strings.Builder
		Expect(rep.Print(&b)).To(Succeed())
		Expect(b.String()).To(Equal(`bank.Deposit {ID:00000000-0000-0000-0000-0000000000a0 Amount:1 Currency:}
  bank.Deposited v4 00000000-0000-0000-0000-0000000000a0 {"Amount":1}
    projectors: accounts
    workflows: welcome
    would execute testdomain.Increment {ID:00000000-0000-0000-0000-0000000000c0 By:1}
bank.Withdraw {ID:00000000-0000-0000-0000-0000000000a0 Amount:99}
  fails: es: command bank.Withdraw: insufficient funds
struct {} {}
  fails: es: no handler registered for command struct {}: register one with es.Handle in the application's registration function: no command handler
`))
	})

	It("reports a handler that records nothing", func() {
		w = newWorld(func(r *es.Registry) {
			RegisterBank(r)
			es.Handle(r, "spec.Noop", func(context.Context, *es.UnitOfWork, strict) error { return nil })
		})
		rep, err := w.svc.DryRun(w.ctx, strict{Name: "x"})
		Expect(err).NotTo(HaveOccurred())
		var b strings.Builder
		Expect(rep.Print(&b)).To(Succeed())
		Expect(b.String()).To(Equal("spec.Noop {Name:x}\n  no events\n"))
	})
})
