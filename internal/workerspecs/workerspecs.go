package workerspecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Describe declares the projection worker's specs in a container named text
// (decorations, such as a Label, go to it). Each spec runs on a fresh store from
// newStore, and waits for the log's watermark where a store may hold it back.
func Describe[S es.ProjectionStore](text string, newStore func(context.Context) (S, error), decorations ...any) bool {
	notebook := func(ctx context.Context, opts es.WorkerOptions, projectors ...*es.Projector) *Notebook[S] {
		ginkgo.GinkgoHelper()
		store, err := newStore(ctx)
		Expect(err).NotTo(HaveOccurred())
		return NewNotebook(ctx, store, opts, projectors...)
	}
	return ginkgo.Describe(text, append(decorations, func() { specs(notebook) })...)
}

func specs[S es.ProjectionStore](notebook func(context.Context, es.WorkerOptions, ...*es.Projector) *Notebook[S]) {
	a, b := uuid.New(), uuid.New()
	quiet := slog.New(slog.DiscardHandler)

	ginkgo.It("do not run inline, catch up from their checkpoint, and report their lag", func(ctx ginkgo.SpecContext) {
		n := notebook(ctx, es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		n.Write(ctx, a, 3)
		Expect(n.Counts(ctx, InlineCounts)).To(HaveLen(1))
		Expect(n.Counts(ctx, AsyncCounts)).To(BeEmpty(), "async projectors do not run inline")
		n.Readable(ctx, 3)
		lag, err := n.Worker.Lag(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lag).To(HaveLen(1))
		Expect(lag[0].Events).To(Equal(int64(3)))
		Expect(lag[0].OldestAge).To(BeNumerically(">", 0))
		Expect(n.Worker.CatchUp(ctx)).To(Succeed())
		Expect(n.Counts(ctx, AsyncCounts)).To(Equal(n.Counts(ctx, InlineCounts)))
		n.Write(ctx, a, 2)
		n.Readable(ctx, 5)
		Expect(n.Worker.CatchUp(ctx)).To(Succeed())
		Expect(n.Counts(ctx, AsyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 5, Last: 5}}))
		lag, err = n.Worker.Lag(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lag[0].Events).To(BeZero())
		Expect(lag[0].State.Version).To(Equal(1))
		Expect(lag[0].State.Checkpoint.Position).To(Equal(int64(5)))
		st, err := n.Store.Projection(ctx, "async")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Checkpoint.Position).To(Equal(int64(5)))
		Expect(st.Version).To(Equal(1))
	})

	ginkgo.It("wake up on the commits of their process while running, and release their leases when stopped", func(ctx ginkgo.SpecContext) {
		n := notebook(ctx, es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour}, LineCounter("async", AsyncCounts, nil).Async())
		n.Write(ctx, a, 2)
		n.Readable(ctx, 2)
		run, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- n.Worker.Run(run) }()
		Eventually(func() []LineCount { return n.Counts(ctx, AsyncCounts) }).Should(HaveLen(1)) // the first poll
		n.Write(ctx, b, 1)                                                                      // polls are an hour apart: only the commit's wake-up can bring this in
		Eventually(func() []LineCount { return n.Counts(ctx, AsyncCounts) }).Should(HaveLen(2))
		cancel()
		Expect(<-done).To(MatchError(context.Canceled))
		lag, err := n.Worker.Lag(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lag[0].Events).To(BeZero())
		Expect(lag[0].State.Owner).To(BeEmpty(), "Run releases its leases")
	})

	ginkgo.It("are owned by one worker at a time, and taken over when the owner dies", func(ctx ginkgo.SpecContext) {
		n := notebook(ctx, es.WorkerOptions{Owner: "first", LeaseTTL: 500 * time.Millisecond}, LineCounter("async", AsyncCounts, nil).Async())
		second, err := es.NewProjectionWorker(n.Reg, n.Store, es.WorkerOptions{Owner: "second", LeaseTTL: time.Minute})
		Expect(err).NotTo(HaveOccurred())
		n.Write(ctx, a, 1)
		n.Readable(ctx, 1)
		Expect(n.Worker.CatchUp(ctx)).To(Succeed()) // "first" holds the lease, then dies silently
		Expect(n.Store.Lease(ctx, "async", "second", time.Minute)).To(BeFalse())
		n.Write(ctx, a, 1)
		started := time.Now()
		n.Readable(ctx, 2)
		Expect(second.CatchUp(ctx)).To(Succeed())
		took := time.Since(started)
		ginkgo.AddReportEntry("takeover after a silent death (lease 500ms)", took.String())
		Expect(took).To(BeNumerically(">", 200*time.Millisecond), "waited for the lease to expire")
		Expect(n.Counts(ctx, AsyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 2, Last: 2}}))
		st, _ := n.Store.Projection(ctx, "async")
		Expect(st.Owner).To(Equal("second"))
		err = n.Store.Advance(ctx, "async", "first", es.Cursor{TxID: 1 << 40}, 1, func(ctx context.Context, v es.Persistor) error {
			return AsyncCounts.Upsert(ctx, v, LineCount{Note: b})
		})
		Expect(err).To(MatchError(es.ErrLeaseLost), "the dead owner's writes are fenced off")
		Expect(n.Counts(ctx, AsyncCounts)).To(HaveLen(1))
	})

	ginkgo.It("fence writes by lease: a worker that lost its lease writes nothing", func(ctx ginkgo.SpecContext) {
		n := notebook(ctx, es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		Expect(n.Store.Views().CreateTables(ctx, AsyncCounts.Def())).To(Succeed())
		Expect(n.Store.Lease(ctx, "async", "old", time.Millisecond)).To(BeTrue())
		time.Sleep(5 * time.Millisecond)
		Expect(n.Store.Lease(ctx, "async", "new", time.Minute)).To(BeTrue())
		err := n.Store.Advance(ctx, "async", "old", es.Cursor{TxID: 9, Position: 9}, 1, func(ctx context.Context, v es.Persistor) error {
			return AsyncCounts.Insert(ctx, v, LineCount{Note: a})
		})
		Expect(err).To(MatchError(es.ErrLeaseLost))
		Expect(n.Counts(ctx, AsyncCounts)).To(BeEmpty())
		st, _ := n.Store.Projection(ctx, "async")
		Expect(st.Checkpoint).To(Equal(es.Cursor{}))
	})

	ginkgo.It("end up equal to the inline projector under concurrent writers", func(ctx ginkgo.SpecContext) {
		n := notebook(ctx, es.WorkerOptions{BatchSize: 7}, LineCounter("async", AsyncCounts, nil).Async().Partitioned(4))
		run, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- n.Worker.Run(run) }()
		notes := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				defer ginkgo.GinkgoRecover()
				for i := range 25 {
					Expect(committed(n.Svc.Execute(ctx, WriteLine{Note: notes[(w+i)%len(notes)], N: i}))).To(Succeed())
				}
			})
		}
		wg.Wait()
		Eventually(func() []LineCount { return n.Counts(ctx, AsyncCounts) }).Should(Equal(n.Counts(ctx, InlineCounts)))
		cancel()
		<-done
	})

	ginkgo.It("share partitions between two running workers", func(ctx ginkgo.SpecContext) {
		p := LineCounter("async", AsyncCounts, nil).Async().Partitioned(4)
		n := notebook(ctx, es.WorkerOptions{Owner: "one", LeaseTTL: time.Second, BatchSize: 7}, p)
		two, err := es.NewProjectionWorker(n.Reg, n.Store, es.WorkerOptions{Owner: "two", LeaseTTL: time.Second, BatchSize: 7, PollMax: 50 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		run, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = n.Worker.Run(run) })
		wg.Go(func() { _ = two.Run(run) })
		notes := make([]uuid.UUID, 12)
		for i := range notes {
			notes[i] = uuid.New()
		}
		var writers sync.WaitGroup
		for w := range 4 {
			writers.Go(func() {
				defer ginkgo.GinkgoRecover()
				for i := range 15 {
					Expect(committed(n.Svc.Execute(ctx, WriteLine{Note: notes[(w+i)%len(notes)], N: i}))).To(Succeed())
				}
			})
		}
		writers.Wait()
		want := n.Counts(ctx, InlineCounts)
		Eventually(func() []LineCount { return n.Counts(ctx, AsyncCounts) }).Should(Equal(want))
		owners := map[string]bool{}
		for part := range 4 {
			st, err := n.Store.Projection(ctx, fmt.Sprintf("%s#%d/4", p.Name(), part))
			Expect(err).NotTo(HaveOccurred())
			owners[st.Owner] = true
		}
		cancel()
		wg.Wait()
		Expect(owners).NotTo(HaveKey(""), "every partition is owned")
	})

	ginkgo.It("retry a failing event, then stop at it while the others go on, and resume", func(ctx ginkgo.SpecContext) {
		var broken atomic.Bool
		broken.Store(true)
		var tries atomic.Int32
		failing := LineCounter("async", AsyncCounts, func(ev NoteLine) error {
			if ev.N == 1 && broken.Load() {
				tries.Add(1)
				return errors.New("disk full")
			}
			return nil
		}).Async()
		n := notebook(ctx, es.WorkerOptions{Retries: 2, RetryBackoff: time.Millisecond}, failing, LineCounter("other", OtherCounts, nil).Async())
		n.Write(ctx, a, 3)
		n.Readable(ctx, 3)
		err := n.Worker.CatchUp(ctx)
		var failure *es.ProjectionFailure
		Expect(errors.As(err, &failure)).To(BeTrue(), "got %v", err)
		Expect(failure.Projection).To(Equal("async"))
		Expect(failure.StreamID).To(Equal(a))
		Expect(failure.Version).To(Equal(int64(2)))
		Expect(failure.Type).To(Equal("test.NoteLine"))
		Expect(err.Error()).To(ContainSubstring("disk full"))
		Expect(err.Error()).To(ContainSubstring(`resume it with ProjectionWorker.Resume(ctx, "async")`))
		Expect(tries.Load()).To(Equal(int32(3)), "the first try and two retries")
		Expect(n.Counts(ctx, AsyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 1, Last: 1}}), "what came before the failing event is kept")
		Expect(n.Counts(ctx, OtherCounts)).To(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}), "the other projector went on")
		st, err := n.Store.Projection(ctx, "async")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Failed).To(BeTrue())
		Expect(st.Error).To(ContainSubstring("disk full"))

		err = n.Worker.CatchUp(ctx)
		Expect(err).To(MatchError(ContainSubstring("stopped at")), "it stays stopped")
		Expect(err).To(MatchError(ContainSubstring(`ProjectionWorker.Resume(ctx, "async")`)))
		Expect(errors.As(err, &failure)).To(BeTrue())
		Expect(failure.Projection).To(Equal("async"))
		broken.Store(false)
		Expect(n.Worker.Resume(ctx, "async")).To(Succeed())
		Expect(n.Worker.CatchUp(ctx)).To(Succeed())
		Expect(n.Counts(ctx, AsyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}))
	})

	ginkgo.It("catch up past an event that failed once and then succeeded on retry", func(ctx ginkgo.SpecContext) {
		var failed atomic.Bool
		flaky := LineCounter("async", AsyncCounts, func(ev NoteLine) error {
			if ev.N == 0 && !failed.Swap(true) {
				return errors.New("connection reset")
			}
			return nil
		}).Async()
		n := notebook(ctx, es.WorkerOptions{Retries: 1, RetryBackoff: time.Millisecond}, flaky)
		n.Write(ctx, a, 3)
		n.Readable(ctx, 3)
		Expect(n.Worker.CatchUp(ctx)).To(Succeed())
		Expect(n.Counts(ctx, AsyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}), "CatchUp returned before the log's end")
	})

	// version2 is the notebook of a newer deploy: version 2 of the async counter.
	version2 := func() *es.Registry {
		reg := es.NewRegistry()
		RegisterNotes(reg)
		reg.AddProjector(LineCounter("async", AsyncCounts, nil).Async().Versioned(2))
		return reg
	}

	ginkgo.It("leave a projection whose tables a newer version built alone, rather than write an old version over it", func(ctx ginkgo.SpecContext) {
		n := notebook(ctx, es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		n.Write(ctx, a, 1)
		n.Readable(ctx, 1)
		Expect(n.Worker.CatchUp(ctx)).To(Succeed())
		Expect(n.Store.Release(ctx, "async", n.Worker.Owner())).To(Succeed())

		// A rolling deploy: version 2 rebuilds the tables ...
		w2, err := es.NewProjectionWorker(version2(), n.Store, es.WorkerOptions{Logger: quiet})
		Expect(err).NotTo(HaveOccurred())
		Expect(w2.CatchUp(ctx)).To(Succeed())
		Expect(n.Store.Release(ctx, "async", w2.Owner())).To(Succeed())

		// ... while a process of version 1 still runs.
		n.Write(ctx, a, 1)
		n.Readable(ctx, 2)
		err = n.Worker.CatchUp(ctx)
		Expect(err).To(MatchError(ContainSubstring("version 2")))
		Expect(err).To(MatchError(ContainSubstring("newer")))
		st, _ := n.Store.Projection(ctx, "async")
		Expect(st.Version).To(Equal(2), "the old worker must not mark the tables as version 1 (the next version-2 worker would rebuild them again)")
		Expect(st.Owner).To(BeEmpty(), "the old worker leaves the lease to the new version")
	})

	ginkgo.It("log a stopped projection once, not on every wake-up", func(ctx ginkgo.SpecContext) {
		failing := LineCounter("async", AsyncCounts, func(NoteLine) error { return errors.New("disk full") }).Async()
		var logged atomic.Int32
		logger := slog.New(countingHandler{n: &logged})
		n := notebook(ctx, es.WorkerOptions{Retries: -1, PollMin: time.Millisecond, PollMax: time.Millisecond, Logger: logger}, failing)
		n.Write(ctx, a, 1)
		run, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- n.Worker.Run(run) }()
		Eventually(logged.Load).Should(BeNumerically(">=", 1))
		time.Sleep(50 * time.Millisecond) // some fifty polls
		cancel()
		<-done
		Expect(logged.Load()).To(Equal(int32(1)))
	})

	ginkgo.It("rebuild when a newer version is deployed", func(ctx ginkgo.SpecContext) {
		n := notebook(ctx, es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		n.Write(ctx, a, 2)
		n.Readable(ctx, 2)
		Expect(n.Worker.CatchUp(ctx)).To(Succeed())
		Expect(AsyncCounts.Upsert(ctx, n.Store.Views(), LineCount{Note: b, Lines: 99})).To(Succeed()) // drift a rebuild must undo

		Expect(n.Store.Release(ctx, "async", n.Worker.Owner())).To(Succeed()) // the old version's worker stops

		// Deploy version 2 on the same store.
		var phases []string
		w2, err := es.NewProjectionWorker(version2(), n.Store, es.WorkerOptions{Logger: quiet, Progress: func(p es.RebuildProgress) { phases = append(phases, p.Phase) }})
		Expect(err).NotTo(HaveOccurred())
		Expect(w2.CatchUp(ctx)).To(Succeed())
		Expect(n.Counts(ctx, AsyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 2, Last: 2}}))
		Expect(phases).To(ContainElement("done"))
		st, _ := n.Store.Projection(ctx, "async")
		Expect(st.Version).To(Equal(2))
	})
}

// countingHandler counts the records logged at level Error.
type countingHandler struct{ n *atomic.Int32 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
