package es_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// welcome is the specs' workflow: a new account gets two welcome deposits, and a
// deposit of 1 increments the account's counter (a second generation of commands).
func welcome(counter uuid.UUID) *es.Workflow {
	w := es.NewWorkflow("welcome")
	es.React(w, func(_ context.Context, r *es.Reaction, e es.Envelope, _ AccountOpened) error {
		r.Execute(Deposit{ID: e.StreamID, Amount: 1})
		r.Execute(Deposit{ID: e.StreamID, Amount: 2})
		return nil
	})
	es.React(w, func(_ context.Context, r *es.Reaction, e es.Envelope, ev Deposited) error {
		if ev.Amount == 1 {
			r.Execute(Increment{ID: counter, By: 1})
		}
		return nil
	})
	return w
}

// traceCommands is middleware that records the commands executed.
func traceCommands(trace *[]string) es.Middleware {
	return func(next es.HandlerFunc) es.HandlerFunc {
		return func(ctx context.Context, cmd any) error {
			*trace = append(*trace, fmt.Sprintf("%T%+v", cmd, cmd))
			return next(ctx, cmd)
		}
	}
}

var _ = Describe("workflows", func() {
	var (
		trace   []string
		counter uuid.UUID
		id      uuid.UUID
	)
	BeforeEach(func() {
		trace = nil
		counter = uuid.MustParse("00000000-0000-0000-0000-0000000000c0")
		id = uuid.MustParse("00000000-0000-0000-0000-0000000000a0")
	})
	withWorkflows := func(opts es.Options, wfs ...*es.Workflow) *world {
		return newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.Use(traceCommands(&trace))
			for _, wf := range wfs {
				r.AddWorkflow(wf)
			}
		}, opts)
	}

	It("run the commands they issue after the commit, first in first out", func() {
		w := withWorkflows(es.Options{}, welcome(counter))
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(trace).To(Equal([]string{
			"testdomain.OpenAccount{ID:" + id.String() + " Owner:Ann Email:a@x}",
			"testdomain.Deposit{ID:" + id.String() + " Amount:1 Currency:}",
			"testdomain.Deposit{ID:" + id.String() + " Amount:2 Currency:}",
			"testdomain.Increment{ID:" + counter.String() + " By:1}",
		}))
		Expect(w.account(id).Balance).To(Equal(int64(3)))
	})

	It("link the commands they issue to the causing event, sharing its correlation id", func() {
		w := withWorkflows(es.Options{}, welcome(counter))
		corr := uuid.New()
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"}, es.WithCorrelationID(corr), es.ByUser("u1"))
		envs, err := w.svc.History(w.ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(envs).To(HaveLen(3))
		opened, deposit := envs[0], envs[1]
		for _, e := range envs {
			Expect(e.CorrelationID).To(Equal(corr))
			Expect(e.UserID).To(Equal("u1"))
		}
		cmds, err := w.store.Commands(w.ctx, deposit.CommandID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(HaveLen(1))
		Expect(cmds[0].Type).To(Equal("bank.Deposit"))
		Expect(cmds[0].CausationID).To(Equal(opened.ID), "caused by the AccountOpened event")
		Expect(cmds[0].CorrelationID).To(Equal(corr))

		counted, err := w.svc.History(w.ctx, counter)
		Expect(err).NotTo(HaveOccurred())
		cmds, err = w.store.Commands(w.ctx, counted[0].CommandID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds[0].CausationID).To(Equal(deposit.ID), "caused by the Deposited event")
		Expect(cmds[0].CorrelationID).To(Equal(corr))
	})

	It("report a failing issued command in the result, as a follow-up and a *WorkflowError; Execute's error is nil, the original events stay stored", func() {
		greedy := es.NewWorkflow("greedy")
		es.React(greedy, func(_ context.Context, r *es.Reaction, e es.Envelope, _ AccountOpened) error {
			r.Execute(Withdraw{ID: e.StreamID, Amount: 100})
			return nil
		})
		w := withWorkflows(es.Options{}, greedy)
		res, err := w.svc.Execute(w.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(err).NotTo(HaveOccurred(), "the command committed")
		Expect(res.Events).To(HaveLen(1))
		Expect(res.FollowUps).To(HaveLen(1))
		f := res.FollowUps[0]
		Expect(f.Workflow).To(Equal("greedy"))
		Expect(f.Cause.ID).To(Equal(res.Events[0].ID))
		Expect(f.Command).To(Equal(Withdraw{ID: id, Amount: 100}))
		Expect(f.CommandID).To(BeZero())
		Expect(f.Events).To(BeEmpty())
		Expect(f.Err).To(MatchError(ErrInsufficientFunds))
		Expect(res.Failures).To(HaveLen(1))
		err = res.Err()
		var we *es.WorkflowError
		Expect(errors.As(err, &we)).To(BeTrue(), "got %v", err)
		Expect(we.Workflow).To(Equal("greedy"))
		Expect(we.Event.Type).To(Equal("bank.AccountOpened"))
		Expect(we.Event.StreamID).To(Equal(id))
		Expect(we.Command).To(Equal(Withdraw{ID: id, Amount: 100}))
		Expect(err).To(MatchError(ErrInsufficientFunds))
		Expect(err).To(MatchError(ContainSubstring("es: workflow greedy, reacting to bank.AccountOpened of stream " + id.String() + ": command testdomain.Withdraw")))
		Expect(w.events(id)).To(Equal([]any{AccountOpened{Owner: "Ann", Email: "a@x"}}))
	})

	It("report a failing workflow handler in the result as a *WorkflowError, and the other workflows still run", func() {
		errNope := errors.New("nope")
		broken := es.NewWorkflow("broken")
		es.React(broken, func(context.Context, *es.Reaction, es.Envelope, AccountOpened) error { return errNope })
		w := withWorkflows(es.Options{}, broken, welcome(counter))
		res, err := w.svc.Execute(w.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(err).NotTo(HaveOccurred(), "the command committed")
		Expect(res.FollowUps).To(HaveLen(3), "the welcome workflow's")
		err = res.Err()
		var we *es.WorkflowError
		Expect(errors.As(err, &we)).To(BeTrue(), "got %v", err)
		Expect(we.Workflow).To(Equal("broken"))
		Expect(we.Command).To(BeNil())
		Expect(err).To(MatchError(errNope))
		Expect(err).To(MatchError(ContainSubstring("workflow broken: bank.AccountOpened of stream " + id.String() + " version 1: nope")))
		Expect(w.account(id).Balance).To(Equal(int64(3)))
	})

	It("are stopped by MaxCascade when they trigger each other forever", func() {
		forever := es.NewWorkflow("forever")
		es.React(forever, func(_ context.Context, r *es.Reaction, e es.Envelope, _ Incremented) error {
			r.Execute(Increment{ID: e.StreamID, By: 1})
			return nil
		})
		w := withWorkflows(es.Options{MaxCascade: 5}, forever)
		res, err := w.svc.Execute(w.ctx, Increment{ID: counter, By: 1})
		Expect(err).NotTo(HaveOccurred(), "the command committed")
		Expect(res.FollowUps).To(HaveLen(4))
		Expect(res.Err()).To(MatchError(es.ErrCascadeLimit))
		Expect(res.Err()).To(MatchError(ContainSubstring("5 commands ran and workflows issued 1 more, not run")))
		Expect(trace).To(HaveLen(5))
		Expect(w.events(counter)).To(HaveLen(5))
	})

	It("do not run with DisableWorkflows", func() {
		w := withWorkflows(es.Options{DisableWorkflows: true}, welcome(counter))
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(trace).To(HaveLen(1))
		Expect(w.events(id)).To(HaveLen(1))
	})

	It("tell what they handle, and run one event on demand with the given clock and ids", func() {
		wf := es.NewWorkflow("stamp")
		es.React(wf, func(_ context.Context, r *es.Reaction, e es.Envelope, _ AccountOpened) error {
			r.Execute(Deposit{ID: r.NewID(), Amount: r.Now().Unix()})
			return nil
		})
		Expect(wf.Name()).To(Equal("stamp"))
		Expect(wf.Handles(AccountOpened{})).To(BeTrue())
		Expect(wf.Handles(Deposited{})).To(BeFalse())
		ids := &es.SequentialIDs{}
		cmds, err := wf.Run(context.Background(), es.NewManualClock(testStart), ids, es.Envelope{Event: AccountOpened{}})
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(Equal([]any{Deposit{ID: uuid.MustParse("00000000-0000-0000-0000-000000000001"), Amount: testStart.Unix()}}))
		cmds, err = wf.Run(context.Background(), es.NewManualClock(testStart), ids, es.Envelope{Event: Deposited{}})
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(BeEmpty())
	})
})
