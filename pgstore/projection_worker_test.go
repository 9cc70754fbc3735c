package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// notebook is the notebook domain on a fresh pgtest store, with an inline
// counter and the given async projectors.
type notebook struct {
	reg    *es.Registry
	store  *pgstore.Store
	svc    *es.CommandService
	worker *es.ProjectionWorker
}

func newNotebook(ctx context.Context, opts es.WorkerOptions, inline []*es.Projector, async ...*es.Projector) *notebook {
	s, err := pgtest.Store(ctx)
	Expect(err).NotTo(HaveOccurred())
	n := &notebook{reg: es.NewRegistry(), store: s}
	registerNotes(n.reg)
	n.reg.AddProjector(lineCounter("inline", inlineCounts, nil))
	for _, p := range inline {
		n.reg.AddProjector(p)
	}
	for _, p := range async {
		n.reg.AddProjector(p)
	}
	n.worker, err = es.NewProjectionWorker(n.reg, n.store, opts) // before the service: it wakes on its commits
	Expect(err).NotTo(HaveOccurred())
	n.svc, err = es.NewCommandService(ctx, n.reg, n.store, es.Options{ConflictRetries: 100})
	Expect(err).NotTo(HaveOccurred())
	return n
}

func (n *notebook) write(ctx context.Context, note uuid.UUID, lines int) {
	for i := range lines {
		Expect(n.svc.Execute(ctx, WriteLine{Note: note, N: i})).To(estest.Committed())
	}
}

func (n *notebook) counts(ctx context.Context, t *es.Table[LineCount]) []LineCount {
	rows, err := t.Find(ctx, n.store.Views(), nil)
	Expect(err).NotTo(HaveOccurred())
	return rows
}

// caughtUp lets w catch up until table equals the inline counts: on a shared
// server, the log's watermark may lag behind the last commit for a while.
func (n *notebook) caughtUp(ctx context.Context, w *es.ProjectionWorker, t *es.Table[LineCount]) {
	GinkgoHelper()
	want := n.counts(ctx, inlineCounts)
	Eventually(ctx, func(ctx context.Context) ([]LineCount, error) {
		if err := w.CatchUp(ctx); err != nil {
			return nil, err
		}
		return n.counts(ctx, t), nil
	}).Should(Equal(want))
}

var _ = Describe("async projectors on PostgreSQL", Label(pgtest.Label), func() {
	a, b := uuid.New(), uuid.New()

	It("catch up from their checkpoint, and report their lag", func(ctx SpecContext) {
		n := newNotebook(ctx, es.WorkerOptions{}, nil, lineCounter("async", asyncCounts, nil).Async())
		n.write(ctx, a, 3)
		Expect(n.counts(ctx, asyncCounts)).To(BeEmpty(), "async projectors do not run inline")
		Eventually(ctx, func(ctx context.Context) (int64, error) {
			lag, err := n.worker.Lag(ctx)
			if err != nil {
				return 0, err
			}
			return lag[0].Events, nil
		}).Should(Equal(int64(3)))
		n.caughtUp(ctx, n.worker, asyncCounts)
		n.write(ctx, a, 2)
		n.caughtUp(ctx, n.worker, asyncCounts)
		Expect(n.counts(ctx, asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 5, Last: 5}}))
		lag, err := n.worker.Lag(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lag[0].Events).To(BeZero())
		Expect(lag[0].State.Version).To(Equal(1))
		Expect(lag[0].State.Checkpoint.Position).To(Equal(int64(5)))
	})

	It("wake up on the commits of their process while running", func(ctx SpecContext) {
		n := newNotebook(ctx, es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour}, nil, lineCounter("async", asyncCounts, nil).Async())
		run, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- n.worker.Run(run) }()
		n.write(ctx, a, 1) // polls are an hour apart: the commit's wake-up brings it in
		Eventually(func() []LineCount { return n.counts(ctx, asyncCounts) }).Should(HaveLen(1))
		cancel()
		Expect(<-done).To(MatchError(context.Canceled))
		st, err := n.store.Projection(ctx, "async")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Owner).To(BeEmpty(), "Run releases its leases")
	})

	It("are owned by one worker at a time, and taken over when the owner dies", func(ctx SpecContext) {
		n := newNotebook(ctx, es.WorkerOptions{Owner: "first", LeaseTTL: 500 * time.Millisecond}, nil, lineCounter("async", asyncCounts, nil).Async())
		second, err := es.NewProjectionWorker(n.reg, n.store, es.WorkerOptions{Owner: "second", LeaseTTL: time.Minute})
		Expect(err).NotTo(HaveOccurred())
		n.write(ctx, a, 1)
		n.caughtUp(ctx, n.worker, asyncCounts) // "first" holds the lease, then dies silently
		Expect(n.store.Lease(ctx, "async", "second", time.Minute)).To(BeFalse())
		n.write(ctx, a, 1)
		started := time.Now()
		n.caughtUp(ctx, second, asyncCounts)
		took := time.Since(started)
		AddReportEntry("takeover after a silent death (lease 500ms)", took.String())
		Expect(took).To(BeNumerically(">", 200*time.Millisecond), "waited for the lease to expire")
		Expect(n.counts(ctx, asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 2, Last: 2}}))
		st, _ := n.store.Projection(ctx, "async")
		Expect(st.Owner).To(Equal("second"))
		err = n.store.Advance(ctx, "async", "first", es.Cursor{TxID: 1 << 40}, 1, func(ctx context.Context, v es.Persistor) error {
			return asyncCounts.Upsert(ctx, v, LineCount{Note: b})
		})
		Expect(err).To(MatchError(es.ErrLeaseLost), "the dead owner's writes are fenced off")
		Expect(n.counts(ctx, asyncCounts)).To(HaveLen(1))
	})

	It("share partitions between two running workers", func(ctx SpecContext) {
		p := lineCounter("async", asyncCounts, nil).Async().Partitioned(4)
		n := newNotebook(ctx, es.WorkerOptions{Owner: "one", LeaseTTL: time.Second, BatchSize: 7}, nil, p)
		two, err := es.NewProjectionWorker(n.reg, n.store, es.WorkerOptions{Owner: "two", LeaseTTL: time.Second, BatchSize: 7, PollMax: 50 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		run, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = n.worker.Run(run) })
		wg.Go(func() { _ = two.Run(run) })
		notes := make([]uuid.UUID, 12)
		for i := range notes {
			notes[i] = uuid.New()
		}
		var writers sync.WaitGroup
		for w := range 4 {
			writers.Go(func() {
				defer GinkgoRecover()
				for i := range 15 {
					Expect(n.svc.Execute(ctx, WriteLine{Note: notes[(w+i)%len(notes)], N: i})).To(estest.Committed())
				}
			})
		}
		writers.Wait()
		want := n.counts(ctx, inlineCounts)
		Eventually(func() []LineCount { return n.counts(ctx, asyncCounts) }).Should(Equal(want))
		owners := map[string]bool{}
		for part := range 4 {
			st, err := n.store.Projection(ctx, fmt.Sprintf("%s#%d/4", p.Name(), part))
			Expect(err).NotTo(HaveOccurred())
			owners[st.Owner] = true
		}
		cancel()
		wg.Wait()
		Expect(owners).NotTo(HaveKey(""), "every partition is owned")
	})

	It("retry a failing event, then stop at it while the others go on, and resume", func(ctx SpecContext) {
		var broken atomic.Bool
		broken.Store(true)
		var tries atomic.Int32
		failing := lineCounter("async", asyncCounts, func(ev NoteLine) error {
			if ev.N == 1 && broken.Load() {
				tries.Add(1)
				return errors.New("disk full")
			}
			return nil
		}).Async()
		n := newNotebook(ctx, es.WorkerOptions{Retries: 2, RetryBackoff: time.Millisecond}, nil, failing, lineCounter("other", otherCounts, nil).Async())
		n.write(ctx, a, 3)
		var failure *es.ProjectionFailure
		Eventually(ctx, func(ctx context.Context) error { return n.worker.CatchUp(ctx) }).Should(MatchError(ContainSubstring("stopped at")))
		Expect(errors.As(n.worker.CatchUp(ctx), &failure)).To(BeTrue())
		Expect(failure.Projection).To(Equal("async"))
		st, err := n.store.Projection(ctx, "async")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Failed).To(BeTrue())
		Expect(st.Error).To(ContainSubstring("disk full"))
		Expect(n.worker.CatchUp(ctx)).To(MatchError(ContainSubstring(`ProjectionWorker.Resume(ctx, "async")`)))
		Expect(tries.Load()).To(Equal(int32(3)), "the first try and two retries")
		Expect(n.counts(ctx, asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 1, Last: 1}}), "what came before the failing event is kept")
		Eventually(func() []LineCount { return n.counts(ctx, otherCounts) }).Should(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}), "the other projector went on")

		broken.Store(false)
		Expect(n.worker.Resume(ctx, "async")).To(Succeed())
		n.caughtUp(ctx, n.worker, asyncCounts)
		Expect(n.counts(ctx, asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}))
	})
})
