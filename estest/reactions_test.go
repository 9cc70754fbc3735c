package estest_test

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type (
	ScheduleStatement struct {
		ID uuid.UUID
		In time.Duration
	}
	CancelStatement struct{ ID uuid.UUID }
)

// registerStatements is the bank with statements scheduled by a command and
// cancelled by another.
func registerStatements(r *es.Registry) {
	BankOptions{Statements: true}.Register(r)
	es.Handle(r, "bank.ScheduleStatement", func(ctx context.Context, u *es.UnitOfWork, c ScheduleStatement) error {
		return u.Schedule(u.Now().Add(c.In), "statement "+c.ID.String(), SendStatement{ID: c.ID})
	})
	es.Handle(r, "bank.CancelStatement", func(ctx context.Context, u *es.UnitOfWork, c CancelStatement) error {
		u.Cancel("statement " + c.ID.String())
		return nil
	})
}

var _ = Describe("scheduled commands in a scenario", func() {
	acc := estest.ID(1)
	statements := estest.New(registerStatements)
	month := 30 * 24 * time.Hour

	It("are checked with ThenScheduled, at a time or not", func() {
		s := statements.Given(acc, AccountOpened{}).When(ScheduleStatement{ID: acc, In: month})
		s.ThenNoEvents()
		s.ThenScheduled(estest.At(estest.DefaultStart().Add(month), SendStatement{ID: acc}))
		s.ThenScheduled(SendStatement{ID: acc})
		s.ThenScheduled(HaveField("ID", acc))
	})

	It("are gone once cancelled", func() {
		statements.Given(acc, AccountOpened{}).
			GivenCommands(ScheduleStatement{ID: acc, In: month}).
			When(CancelStatement{ID: acc}).
			ThenNothingScheduled()
	})

	It("run when AdvanceClock passes their time, after When: Then sees their events", func() {
		s := statements.Given(acc, AccountOpened{}, Deposited{Amount: 5}).
			When(ScheduleStatement{ID: acc, In: month}).
			AdvanceClock(month - time.Second)
		s.Then()
		s.AdvanceClock(time.Second).Then(StatementSent{Balance: 5})
		s.ThenNothingScheduled()
	})

	It("run when AdvanceClock passes their time, before When: as history", func() {
		statements.Given(acc, AccountOpened{}, Deposited{Amount: 5}).
			GivenCommands(ScheduleStatement{ID: acc, In: month}).
			AdvanceClock(month).
			When(Deposit{ID: acc, Amount: 1}).
			Then(Deposited{Amount: 1})
	})

	It("explain a difference with a table", func() {
		t := &recorder{}
		statements.WithT(t).Given(acc, AccountOpened{}).When(ScheduleStatement{ID: acc, In: month}).
			ThenScheduled(estest.At(estest.DefaultStart().Add(time.Hour), SendStatement{ID: acc}))
		Expect(t.output()).To(ContainSubstring("Then: the scheduled commands differ:"))
		Expect(t.output()).To(ContainSubstring("At: expected 2026-01-01T10:00:00Z, actual 2026-01-31T09:00:00Z"))
	})
})

var _ = Describe("workflows in both modes", func() {
	acc := estest.ID(1)
	for _, mode := range []estest.WorkflowMode{estest.AllSync, estest.AllDurable} {
		withWorkflows := estest.New(BankOptions{Statements: true}.Register, estest.Options{Workflows: true, WorkflowMode: mode})

		It("run after the When command, and Then sees their events", func() {
			withWorkflows.Given(acc, AccountOpened{}, Deposited{Amount: 2000}).
				When(Withdraw{ID: acc, Amount: 1500}).
				Then(Withdrawn{Amount: 1500}, StatementSent{Balance: 500})
		})

		It("do not react to the given history", func() {
			withWorkflows.Given(acc, AccountOpened{}, Deposited{Amount: 2000}, Withdrawn{Amount: 1500}).
				When(Deposit{ID: acc, Amount: 1}).
				Then(Deposited{Amount: 1})
		})

		It("issue the same commands in WhenEvent", func() {
			withWorkflows.Given(acc, AccountOpened{}, Deposited{Amount: 2000}).
				WhenEvent(acc, Withdrawn{Amount: 1500}).
				ThenCommands(SendStatement{ID: acc})
		})
	}
})
