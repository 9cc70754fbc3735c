package es_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// reactions is a bank with a worker that runs durable workflows, subscriptions
// and scheduled commands, on the memory store.
type reactions struct {
	*world
	reg    *es.Registry
	worker *es.ProjectionWorker
	trace  []string
}

func newReactions(register func(*es.Registry), opts es.WorkerOptions) *reactions {
	GinkgoHelper()
	r := &reactions{}
	r.world = newWorld(func(reg *es.Registry) {
		RegisterBank(reg)
		if register != nil {
			register(reg)
		}
		reg.Use(traceCommands(&r.trace))
		r.reg = reg
	})
	opts.Service = r.svc
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = time.Millisecond
	}
	var err error
	r.worker, err = es.NewProjectionWorker(r.reg, r.store, opts)
	Expect(err).NotTo(HaveOccurred())
	return r
}

func (r *reactions) catchUp() {
	GinkgoHelper()
	Expect(r.worker.CatchUp(r.ctx)).To(Succeed())
}

var _ = Describe("durable workflows", func() {
	counter := uuid.MustParse("00000000-0000-0000-0000-0000000000c0")
	id := uuid.MustParse("00000000-0000-0000-0000-0000000000a0")

	It("run from the log in a worker, not after the commit", func() {
		r := newReactions(func(reg *es.Registry) { reg.AddWorkflow(welcome(counter).Durable()) }, es.WorkerOptions{})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(r.trace).To(HaveLen(1))
		r.catchUp()
		Expect(r.account(id).Balance).To(Equal(int64(3)))
		Expect(r.events(counter)).To(Equal([]any{Incremented{By: 1}}))
		st, err := r.store.Projection(r.ctx, "workflow:welcome")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Checkpoint.Position).To(Equal(int64(4)), "through the welcome deposits and the increment")
	})

	It("give their commands ids derived from the workflow, the event and the index, linked to the event", func() {
		r := newReactions(func(reg *es.Registry) { reg.AddWorkflow(welcome(counter).Durable()) }, es.WorkerOptions{})
		corr := uuid.New()
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"}, es.WithCorrelationID(corr), es.ByUser("u1"))
		r.catchUp()
		envs, err := r.svc.History(r.ctx, id)
		Expect(err).NotTo(HaveOccurred())
		opened := envs[0]
		Expect(envs[1].CommandID).To(Equal(es.ReactionID("welcome", opened.ID, 0)))
		Expect(envs[2].CommandID).To(Equal(es.ReactionID("welcome", opened.ID, 1)))
		cmds, err := r.store.Commands(r.ctx, envs[1].CommandID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(HaveExactElements(And(HaveField("CausationID", opened.ID), HaveField("CorrelationID", corr), HaveField("UserID", "u1"))))
	})

	It("store each command once when they react to an event again", func() {
		r := newReactions(func(reg *es.Registry) { reg.AddWorkflow(welcome(counter).Durable()) }, es.WorkerOptions{})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		r.catchUp()
		Expect(r.account(id).Balance).To(Equal(int64(3)))
		By("rewinding the workflow's checkpoint, as a crash before it moved would")
		Expect(r.store.Advance(r.ctx, "workflow:welcome", r.worker.Owner(), es.Cursor{}, 1, func(context.Context, es.Persistor) error { return nil })).To(Succeed())
		r.catchUp()
		Expect(r.account(id).Balance).To(Equal(int64(3)), "the deposits were not made twice")
		Expect(r.events(counter)).To(HaveLen(1))
	})

	It("stop at an event whose command keeps failing, with a named failure, until resumed", func() {
		greedy := es.NewWorkflow("greedy").Durable()
		fail := true
		es.React(greedy, func(_ context.Context, r *es.Reaction, e es.Envelope, _ AccountOpened) error {
			if fail {
				r.Execute(Withdraw{ID: e.StreamID, Amount: 100})
			} else {
				r.Execute(Deposit{ID: e.StreamID, Amount: 100})
			}
			return nil
		})
		r := newReactions(func(reg *es.Registry) { reg.AddWorkflow(greedy) }, es.WorkerOptions{Retries: 2})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		err := r.worker.CatchUp(r.ctx)
		var failure *es.ProjectionFailure
		Expect(errors.As(err, &failure)).To(BeTrue(), "got %v", err)
		Expect(failure.Projection).To(Equal("workflow:greedy"))
		Expect(failure.Type).To(Equal("bank.AccountOpened"))
		Expect(err).To(MatchError(ErrInsufficientFunds))
		Expect(err.Error()).To(HavePrefix("es: workflow:greedy stopped at bank.AccountOpened of stream " + id.String()))
		Expect(r.trace).To(HaveLen(4), "the command, then the first try and two retries")
		Expect(r.worker.CatchUp(r.ctx)).To(MatchError(ContainSubstring("is stopped at")))

		fail = false
		Expect(r.worker.Resume(r.ctx, "workflow:greedy")).To(Succeed())
		r.catchUp()
		Expect(r.account(id).Balance).To(Equal(int64(100)))
	})

	It("need the command service that executes their commands", func() {
		reg := es.NewRegistry()
		RegisterBank(reg)
		reg.AddWorkflow(welcome(counter).Durable())
		_, err := es.NewProjectionWorker(reg, memstore.New(), es.WorkerOptions{})
		Expect(err).To(MatchError(ContainSubstring("WorkerOptions.Service")))
	})

	It("run in the worker's Run loop too, woken by commits", func() {
		r := newReactions(func(reg *es.Registry) { reg.AddWorkflow(welcome(counter).Durable()) }, es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour})
		ctx, cancel := context.WithCancel(r.ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = r.worker.Run(ctx) })
		defer func() { cancel(); wg.Wait() }()
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Eventually(func() int64 { return r.account(id).Balance }).Should(Equal(int64(3)))
	})
})

var _ = Describe("commands with an id of their own", func() {
	It("run once: the second execution runs nothing and says so", func() {
		w := newWorld(nil)
		id, cmdID := uuid.New(), uuid.New()
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(w.svc.Execute(w.ctx, Deposit{ID: id, Amount: 5}, es.WithCommandID(cmdID))).To(estest.Committed())
		_, err := w.svc.Execute(w.ctx, Deposit{ID: id, Amount: 5}, es.WithCommandID(cmdID))
		Expect(err).To(MatchError(es.ErrDuplicateCommand))
		Expect(w.account(id).Balance).To(Equal(int64(5)))
		envs, err := w.svc.History(w.ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(envs[1].CommandID).To(Equal(cmdID))
	})

	It("are refused by the store when two executions race", func() {
		store := memstore.New()
		c := &es.Commit{Command: es.CommandRecord{ID: uuid.New(), Type: "x", Time: testStart}}
		Expect(store.Commit(context.Background(), c, nil)).To(Succeed())
		c2 := &es.Commit{Command: c.Command}
		Expect(store.Commit(context.Background(), c2, nil)).To(MatchError(es.ErrDuplicateCommand))
	})
})

// reminder schedules a deposit a day after an account is opened, under the
// account's key, and a withdrawal cancels it.
func registerReminder(reg *es.Registry) {
	type (
		OpenWithBonus struct{ ID uuid.UUID }
		CancelBonus   struct{ ID uuid.UUID }
	)
	es.Handle(reg, "bank.OpenWithBonus", func(ctx context.Context, u *es.UnitOfWork, cmd OpenWithBonus) error {
		a, err := es.Create[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		if err := es.Record(a, AccountOpened{Owner: "bonus", Email: "b@x"}); err != nil {
			return err
		}
		return u.Schedule(u.Now().Add(24*time.Hour), "bonus "+cmd.ID.String(), Deposit{ID: cmd.ID, Amount: 50})
	})
	es.Handle(reg, "bank.CancelBonus", func(ctx context.Context, u *es.UnitOfWork, cmd CancelBonus) error {
		u.Cancel("bonus " + cmd.ID.String())
		return nil
	})
}

var _ = Describe("scheduled commands", func() {
	type (
		OpenWithBonus struct{ ID uuid.UUID }
		CancelBonus   struct{ ID uuid.UUID }
	)
	_ = OpenWithBonus{}
	id := uuid.MustParse("00000000-0000-0000-0000-0000000000a0")

	It("are stored with the events and run once due, once", func() {
		r := newReactions(registerReminder, es.WorkerOptions{})
		Expect(r.svc.Execute(r.ctx, decodeCmd(r.reg, "bank.OpenWithBonus", id))).To(estest.Committed())
		sched, err := r.svc.ScheduledCommands(r.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(sched).To(HaveExactElements(And(
			HaveField("At", testStart.Add(24*time.Hour)),
			HaveField("Key", "bonus "+id.String()),
			HaveField("Command", Deposit{ID: id, Amount: 50}))))
		r.catchUp()
		Expect(r.account(id).Balance).To(BeZero(), "not due yet")
		r.clock.Advance(24 * time.Hour)
		r.catchUp()
		Expect(r.account(id).Balance).To(Equal(int64(50)))
		r.catchUp()
		Expect(r.account(id).Balance).To(Equal(int64(50)), "once")
		Expect(r.svc.ScheduledCommands(r.ctx)).To(BeEmpty())
		envs, err := r.svc.History(r.ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(envs[1].CommandID).To(Equal(sched[0].Record.ID), "executed under its scheduled id")
		cmds, err := r.store.Commands(r.ctx, envs[1].CommandID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds[0].CausationID).To(Equal(envs[0].CommandID), "linked to the command that scheduled it")
	})

	It("are cancelled by key", func() {
		r := newReactions(registerReminder, es.WorkerOptions{})
		Expect(r.svc.Execute(r.ctx, decodeCmd(r.reg, "bank.OpenWithBonus", id))).To(estest.Committed())
		Expect(r.svc.Execute(r.ctx, decodeCmd(r.reg, "bank.CancelBonus", id))).To(estest.Committed())
		Expect(r.svc.ScheduledCommands(r.ctx)).To(BeEmpty())
		r.clock.Advance(48 * time.Hour)
		r.catchUp()
		Expect(r.account(id).Balance).To(BeZero())
	})

	It("are not stored when the command fails", func() {
		r := newReactions(registerReminder, es.WorkerOptions{})
		Expect(r.svc.Execute(r.ctx, decodeCmd(r.reg, "bank.OpenWithBonus", id))).To(estest.Committed())
		Expect(r.svc.Execute(r.ctx, decodeCmd(r.reg, "bank.OpenWithBonus", id))).Error().To(MatchError(es.ErrAggregateExists))
		Expect(r.svc.ScheduledCommands(r.ctx)).To(HaveLen(1))
	})

	It("are parked when they keep failing, and run again when resumed", func() {
		r := newReactions(func(reg *es.Registry) {
			es.Handle(reg, "bank.Later", func(ctx context.Context, u *es.UnitOfWork, cmd struct{ ID uuid.UUID }) error {
				return u.Schedule(u.Now().Add(time.Minute), "", Withdraw{ID: cmd.ID, Amount: 10})
			})
		}, es.WorkerOptions{Retries: 1})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(r.svc.Execute(r.ctx, decodeCmd(r.reg, "bank.Later", id))).To(estest.Committed())
		r.clock.Advance(time.Minute)
		r.catchUp()
		sched, err := r.svc.ScheduledCommands(r.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(sched).To(HaveLen(1))
		Expect(sched[0].Record.Error).To(ContainSubstring("insufficient funds"))
		r.exec(Deposit{ID: id, Amount: 10})
		r.catchUp()
		Expect(r.account(id).Balance).To(Equal(int64(10)), "parked: not run")
		Expect(r.worker.ResumeScheduled(r.ctx, sched[0].Record.ID)).To(Succeed())
		r.catchUp()
		Expect(r.account(id).Balance).To(BeZero())
	})

	It("can be scheduled by workflows, durable or not", func() {
		for _, durable := range []bool{false, true} {
			later := es.NewWorkflow("later")
			if durable {
				later.Durable()
			}
			es.React(later, func(_ context.Context, r *es.Reaction, e es.Envelope, _ AccountOpened) error {
				r.Schedule(r.Now().Add(time.Hour), "welcome "+e.StreamID.String(), Deposit{ID: e.StreamID, Amount: 7})
				return nil
			})
			r := newReactions(func(reg *es.Registry) { reg.AddWorkflow(later) }, es.WorkerOptions{})
			r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
			r.catchUp()
			sched, err := r.svc.ScheduledCommands(r.ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(sched).To(HaveExactElements(HaveField("Command", Deposit{ID: id, Amount: 7})), "durable: %v", durable)
			if durable {
				envs, _ := r.svc.History(r.ctx, id)
				Expect(sched[0].Record.ID).To(Equal(es.ReactionID("later", envs[0].ID, 0)))
			}
			r.clock.Advance(time.Hour)
			r.catchUp()
			Expect(r.account(id).Balance).To(Equal(int64(7)), "durable: %v", durable)
		}
	})
})

// decodeCmd makes a command of a type the spec declared inside a function.
func decodeCmd(reg *es.Registry, name string, id uuid.UUID) any {
	GinkgoHelper()
	cmd, err := reg.DecodeCommand(es.CommandRecord{Type: name, Data: []byte(`{"ID":"` + id.String() + `"}`)})
	Expect(err).NotTo(HaveOccurred())
	return cmd
}

var _ = Describe("subscriptions", func() {
	id := uuid.MustParse("00000000-0000-0000-0000-0000000000a0")

	It("see the events of their types, in log order, from their checkpoint", func() {
		var seen []string
		sub := es.NewSubscription("audit", func(_ context.Context, e es.Envelope) error {
			seen = append(seen, e.Type)
			return nil
		}).Types("bank.Deposited", "bank.Withdrawn")
		r := newReactions(func(reg *es.Registry) { reg.AddSubscription(sub) }, es.WorkerOptions{})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		r.exec(Deposit{ID: id, Amount: 5})
		r.exec(Withdraw{ID: id, Amount: 2})
		r.catchUp()
		Expect(seen).To(Equal([]string{"bank.Deposited", "bank.Withdrawn"}))
		r.exec(Deposit{ID: id, Amount: 1})
		r.catchUp()
		Expect(seen).To(Equal([]string{"bank.Deposited", "bank.Withdrawn", "bank.Deposited"}))
	})

	It("retry a failing event, then stop at it until resumed; the events before it are done", func() {
		var seen []int64
		failing := true
		sub := es.NewSubscription("mailer", func(_ context.Context, e es.Envelope) error {
			if d, ok := e.Event.(Deposited); ok && d.Amount == 2 && failing {
				return errors.New("smtp down")
			}
			seen = append(seen, e.Version)
			return nil
		})
		r := newReactions(func(reg *es.Registry) { reg.AddSubscription(sub) }, es.WorkerOptions{Retries: 2})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		r.exec(Deposit{ID: id, Amount: 1})
		r.exec(Deposit{ID: id, Amount: 2})
		r.exec(Deposit{ID: id, Amount: 3})
		err := r.worker.CatchUp(r.ctx)
		var failure *es.ProjectionFailure
		Expect(errors.As(err, &failure)).To(BeTrue(), "got %v", err)
		Expect(failure.Projection).To(Equal("subscription:mailer"))
		Expect(failure.Version).To(Equal(int64(3)))
		Expect(seen).To(Equal([]int64{1, 2}))
		failing = false
		Expect(r.worker.Resume(r.ctx, "subscription:mailer")).To(Succeed())
		r.catchUp()
		Expect(seen).To(Equal([]int64{1, 2, 3, 4}))
	})

	It("in batches: take the events at once, go on after what the handler is done with, retry the first it is not", func() {
		var batches [][]int64
		fail := true
		sub := es.NewBatchSubscription("batches", func(_ context.Context, events []es.Envelope) (int, error) {
			var versions []int64
			for i, e := range events {
				if e.Version == 3 && fail {
					fail = false
					batches = append(batches, versions)
					return i, errors.New("broker busy")
				}
				versions = append(versions, e.Version)
			}
			batches = append(batches, versions)
			return len(events), nil
		})
		r := newReactions(func(reg *es.Registry) { reg.AddSubscription(sub) }, es.WorkerOptions{})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		for range 4 {
			r.exec(Deposit{ID: id, Amount: 1})
		}
		r.catchUp()
		Expect(batches).To(Equal([][]int64{{1, 2}, {3}, {4, 5}}))
	})

	It("keep their lease and their progress through a batch that outlasts the lease", func() {
		seen := map[int64]int{}
		sub := es.NewSubscription("slow", func(_ context.Context, e es.Envelope) error {
			time.Sleep(25 * time.Millisecond) // 30 events: 750ms, more than two leases
			seen[e.Version]++
			return nil
		})
		// Renewed every third of the lease: 100ms leaves a loaded machine room.
		r := newReactions(func(reg *es.Registry) { reg.AddSubscription(sub) }, es.WorkerOptions{LeaseTTL: 300 * time.Millisecond})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		for range 29 {
			r.exec(Deposit{ID: id, Amount: 1})
		}
		r.catchUp()
		Expect(seen).To(HaveLen(30))
		for v, n := range seen {
			Expect(n).To(Equal(1), "version %d handled once", v)
		}
	})

	It("resume after what the other side holds, when it can tell", func() {
		var seen []int64
		var held es.Cursor
		sub := es.NewSubscription("relay", func(_ context.Context, e es.Envelope) error {
			seen = append(seen, e.Version)
			return nil
		}).Raw().ResumeFrom(func(context.Context) (es.Cursor, error) { return held, nil })
		r := newReactions(func(reg *es.Registry) { reg.AddSubscription(sub) }, es.WorkerOptions{})
		r.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		r.exec(Deposit{ID: id, Amount: 1})
		r.exec(Deposit{ID: id, Amount: 2})
		held = r.log()[1].Cursor()
		r.catchUp()
		Expect(seen).To(Equal([]int64{3}))
	})
})
