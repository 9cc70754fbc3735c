package es_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// recorder is an observer of everything that writes down what it is told, and
// marks the contexts it returns so that the calls nested in them show it.
type recorder struct {
	mu       sync.Mutex
	calls    []string
	starts   []es.CommandStart
	ends     []es.CommandEnd
	batches  []es.BatchStart
	progress []es.RebuildProgress
}

type underKey struct{}

func under(ctx context.Context) any { return ctx.Value(underKey{}) }

func (r *recorder) log(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recorder) StartCommand(ctx context.Context, c es.CommandStart) (context.Context, func(es.CommandEnd)) {
	r.log("command %s", c.Type)
	r.mu.Lock()
	r.starts = append(r.starts, c)
	r.mu.Unlock()
	return context.WithValue(ctx, underKey{}, "command "+c.Type), func(e es.CommandEnd) {
		r.log("end command %s: %s, %d events, %d conflicts", c.Type, e.Outcome, len(e.Events), e.Conflicts)
		r.mu.Lock()
		r.ends = append(r.ends, e)
		r.mu.Unlock()
	}
}

func (r *recorder) StartLoad(ctx context.Context, l es.LoadStart) (context.Context, func(es.LoadEnd)) {
	r.log("load %s under %v", l.AggregateType, under(ctx))
	return ctx, func(e es.LoadEnd) {
		r.log("end load: snapshot %d, %d events, version %d, error %v", e.Snapshot, e.Events, e.Version, e.Err)
	}
}

func (r *recorder) StartCommit(ctx context.Context, c *es.Commit) (context.Context, func(es.CommitEnd)) {
	r.log("commit %s under %v", c.Command.Type, under(ctx))
	return ctx, func(e es.CommitEnd) { r.log("end commit: error %v", e.Err) }
}

func (r *recorder) StartBatch(ctx context.Context, b es.BatchStart) (context.Context, func(es.BatchEnd)) {
	r.log("batch %s v%d: %d events", b.Projection, b.Version, len(b.Events))
	r.mu.Lock()
	r.batches = append(r.batches, b)
	r.mu.Unlock()
	return context.WithValue(ctx, underKey{}, "batch "+b.Projection), func(e es.BatchEnd) { r.log("end batch: error %v", e.Err) }
}

func (r *recorder) StartRebuild(ctx context.Context, p es.RebuildProgress) (context.Context, func(es.RebuildEnd)) {
	r.log("rebuild %s v%d", p.Projector, p.Version)
	return context.WithValue(ctx, underKey{}, "rebuild"), func(e es.RebuildEnd) {
		r.log("end rebuild: %s %d/%d, error %v", e.Progress.Phase, e.Progress.Done, e.Progress.Total, e.Err)
	}
}

func (r *recorder) StartRebuildPhase(ctx context.Context, p es.RebuildProgress) func(es.RebuildEnd) {
	r.log("phase %s under %v", p.Phase, under(ctx))
	return func(e es.RebuildEnd) { r.log("end phase %s", p.Phase) }
}

func (r *recorder) RebuildProgressed(p es.RebuildProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, p)
}

// unhandled is a command no handler is registered for.
type unhandled struct{}

var _ = Describe("an Observer", func() {
	It("is told of each command, its loads and its commit, nested in its context, with the outcome", func() {
		rec := &recorder{}
		w := newWorld(nil, es.Options{Observer: rec, Logger: slog.New(slog.DiscardHandler)})
		id := uuid.New()
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"})
		w.exec(Deposit{ID: id, Amount: 5})
		Expect(w.svc.Execute(w.ctx, Deposit{ID: id, Amount: -1})).Error().To(HaveOccurred())
		Expect(w.svc.Execute(w.ctx, unhandled{})).Error().To(HaveOccurred())

		Expect(rec.Calls()).To(Equal([]string{
			"command bank.OpenAccount",
			"commit bank.OpenAccount under command bank.OpenAccount",
			"end commit: error <nil>",
			"end command bank.OpenAccount: committed, 1 events, 0 conflicts",
			"command bank.Deposit",
			"load bank.Account under command bank.Deposit",
			"end load: snapshot 0, 1 events, version 1, error <nil>",
			"commit bank.Deposit under command bank.Deposit",
			"end commit: error <nil>",
			"end command bank.Deposit: committed, 1 events, 0 conflicts",
			"command bank.Deposit",
			"end command bank.Deposit: refused, 0 events, 0 conflicts",
			"command es_test.unhandled",
			"end command es_test.unhandled: failed, 0 events, 0 conflicts",
		}))
		history, err := w.svc.History(w.ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.ends[1].ID).To(Equal(history[1].CommandID), "the stored command record's id")
		Expect(rec.ends[1].Events[0].Position).To(Equal(history[1].Position), "the stored events")
		Expect(rec.ends[2].ID).To(Equal(uuid.Nil))
		Expect(rec.ends[2].Err).To(MatchError(ContainSubstring("must be positive")))
		Expect(rec.starts[1].Command).To(Equal(Deposit{ID: id, Amount: 5}))
	})

	It("sees a command that committed as committed, with what failed after its commit", func() {
		rec := &recorder{}
		w := newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.AfterCommit(func(context.Context, []es.Envelope) { panic("hook bug") })
		}, es.Options{Observer: rec, Logger: slog.New(slog.DiscardHandler)})
		res, err := w.svc.Execute(w.ctx, OpenAccount{ID: uuid.New(), Owner: "Ann", Email: "a@x"})
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.ends).To(HaveLen(1))
		Expect(rec.ends[0].Outcome).To(Equal(es.OutcomeCommitted))
		Expect(rec.ends[0].ID).To(Equal(res.CommandID))
		Expect(rec.ends[0].Events).To(HaveLen(1))
		Expect(rec.ends[0].Err).To(MatchError(ContainSubstring("an after-commit hook failed: panic: hook bug")))
		Expect(res.Failures).To(HaveLen(1))
	})

	It("sees conflicts as failed commits, and counts them on the command", func() {
		rec := &recorder{}
		r := es.NewRegistry()
		RegisterBank(r)
		store := &conflictOnce{EventStore: newWorld(nil).store}
		svc, err := es.NewCommandService(context.Background(), r, store, es.Options{ConflictRetries: 1, Observer: rec, Logger: slog.New(slog.DiscardHandler)})
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.Execute(context.Background(), OpenAccount{ID: uuid.New(), Owner: "Ann", Email: "a@x"})).To(estest.Committed())
		Expect(rec.Calls()).To(Equal([]string{
			"command bank.OpenAccount",
			"commit bank.OpenAccount under command bank.OpenAccount",
			"end commit: error test: concurrency conflict",
			"commit bank.OpenAccount under command bank.OpenAccount",
			"end commit: error <nil>",
			"end command bank.OpenAccount: committed, 1 events, 1 conflicts",
		}))
	})

	It("gives middleware and handlers its context", func() {
		rec := &recorder{}
		var seen []any
		w := newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.Use(func(next es.HandlerFunc) es.HandlerFunc {
				return func(ctx context.Context, cmd any) error {
					seen = append(seen, under(ctx))
					return next(ctx, cmd)
				}
			})
		}, es.Options{Observer: rec})
		w.open("Ann", "ann@example.com")
		Expect(seen).To(Equal([]any{"command bank.OpenAccount"}))
	})

	It("is told which workflow issued a command, and the event it reacted to, with that event's metadata", func() {
		rec := &recorder{}
		counter := uuid.New()
		w := newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.AddWorkflow(welcome(counter))
			r.Use(func(next es.HandlerFunc) es.HandlerFunc {
				return func(ctx context.Context, cmd any) error {
					es.SetMetadata(ctx, "trace", fmt.Sprint(under(ctx)))
					return next(ctx, cmd)
				}
			})
		}, es.Options{Observer: rec})
		w.open("Ann", "ann@example.com")
		Expect(rec.starts).To(HaveLen(4)) // the opening, two deposits, an increment
		Expect(rec.starts[0].Cause).To(BeNil())
		deposit := rec.starts[1]
		Expect(deposit.Type).To(Equal("bank.Deposit"))
		Expect(deposit.Workflow).To(Equal("welcome"))
		Expect(deposit.Cause.Type).To(Equal("bank.AccountOpened"))
		Expect(deposit.Cause.Metadata).To(Equal(map[string]string{"trace": "command bank.OpenAccount"}))
		increment := rec.starts[3]
		Expect(increment.Cause.Type).To(Equal("bank.Deposited"))
		Expect(increment.Cause.Metadata).To(Equal(map[string]string{"trace": "command bank.Deposit"}))
	})

	It("is told of each batch a worker applies, with the events' metadata, and rebuilds phase by phase", func() {
		rec := &recorder{}
		n := newNotebook(es.WorkerOptions{Observer: rec}, LineCounter("async", AsyncCounts, nil).Async())
		note := uuid.New()
		Expect(n.Svc.Execute(n.ctx, WriteLine{Note: note, N: 1}, es.WithMetadata("traceparent", "00-1-2-01"))).To(estest.Committed())
		Expect(n.Svc.Execute(n.ctx, WriteLine{Note: note, N: 2})).To(estest.Committed())
		Expect(n.Worker.CatchUp(n.ctx)).To(Succeed())
		Expect(rec.Calls()).To(Equal([]string{"batch async v1: 2 events", "end batch: error <nil>"}))
		Expect(rec.batches[0].Projector).To(Equal("async"))
		Expect(rec.batches[0].Events[0].Metadata).To(Equal(map[string]string{"traceparent": "00-1-2-01"}))

		rec = &recorder{}
		svc, err := es.NewCommandService(n.ctx, n.Reg, n.Store, es.Options{Observer: rec, ManualRebuilds: true, Logger: slog.New(slog.DiscardHandler)})
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.Rebuild(n.ctx, "inline", nil)).To(Succeed())
		Expect(rec.Calls()).To(Equal([]string{
			"rebuild inline v1",
			"phase replay under rebuild",
			"end phase replay",
			"phase index under rebuild",
			"end phase index",
			"phase catch-up under rebuild",
			"end phase catch-up",
			"phase swap under rebuild",
			"end phase swap",
			"end rebuild: done 2/2, error <nil>",
		}))
		Expect(rec.progress).NotTo(BeEmpty())
		last := rec.progress[len(rec.progress)-1]
		Expect([]any{last.Phase, last.Done, last.Total}).To(Equal([]any{es.PhaseDone, int64(2), int64(2)}))
	})
})
