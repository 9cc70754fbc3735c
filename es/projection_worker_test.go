package es_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// A notebook: notes get lines; projectors count them, inline and async.

type (
	NoteLine  struct{ N int }
	WriteLine struct {
		Note uuid.UUID
		N    int
	}
	Note struct{ es.AggregateRoot }
)

func (*Note) On(any) {}

type LineCount struct {
	Note  uuid.UUID `db:"note"`
	Lines int
	Last  int64 // the last version applied: per-stream order shows in it
}

func lineCounter(name string, table *es.Table[LineCount], fail func(NoteLine) error) *es.Projector {
	p := es.NewProjector(name, table)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev NoteLine) error {
		if fail != nil {
			if err := fail(ev); err != nil {
				return err
			}
		}
		rows, err := table.Find(ctx, v, es.Where{"note": e.StreamID})
		if err != nil {
			return err
		}
		row := LineCount{Note: e.StreamID}
		if len(rows) == 1 {
			row = rows[0]
		}
		if e.Version != row.Last+1 {
			return fmt.Errorf("out of order: version %d after %d", e.Version, row.Last)
		}
		row.Lines++
		row.Last = e.Version
		return table.Upsert(ctx, v, row)
	})
	return p
}

var (
	inlineCounts = es.NewTable[LineCount]("inline_counts", "note")
	asyncCounts  = es.NewTable[LineCount]("async_counts", "note")
	otherCounts  = es.NewTable[LineCount]("other_counts", "note")
)

type notebook struct {
	reg    *es.Registry
	store  *memstore.Store
	svc    *es.CommandService
	worker *es.ProjectionWorker
	ctx    context.Context
}

func newNotebook(async *es.Projector, opts es.WorkerOptions, extra ...*es.Projector) *notebook {
	n := &notebook{reg: es.NewRegistry(), store: memstore.New(), ctx: context.Background()}
	note := es.RegisterAggregate(n.reg, "test.Note", func() *Note { return new(Note) })
	es.RegisterEvent[NoteLine](note, "test.NoteLine")
	es.Handle(n.reg, "test.WriteLine", func(ctx context.Context, u *es.UnitOfWork, c WriteLine) error {
		a, err := es.Load[*Note](ctx, u, c.Note)
		if errors.Is(err, es.ErrAggregateNotFound) {
			a, err = es.Create[*Note](ctx, u, c.Note)
		}
		if err != nil {
			return err
		}
		return es.Record(a, NoteLine{N: c.N})
	})
	n.reg.AddProjector(lineCounter("inline", inlineCounts, nil))
	n.reg.AddProjector(async)
	for _, p := range extra {
		n.reg.AddProjector(p)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	n.worker, err = es.NewProjectionWorker(n.reg, n.store, opts)
	Expect(err).NotTo(HaveOccurred())
	n.svc, err = es.NewCommandService(n.ctx, n.reg, n.store, es.Options{ConflictRetries: 20})
	Expect(err).NotTo(HaveOccurred())
	return n
}

func (n *notebook) write(note uuid.UUID, lines int) {
	for i := range lines {
		Expect(n.svc.Execute(n.ctx, WriteLine{Note: note, N: i})).To(estest.Committed())
	}
}

func (n *notebook) counts(t *es.Table[LineCount]) []LineCount {
	rows, err := t.Find(n.ctx, n.store.Views(), nil)
	Expect(err).NotTo(HaveOccurred())
	return rows
}

var _ = Describe("async projectors", func() {
	a, b := uuid.New(), uuid.New()

	It("do not run inline, and catch up from their checkpoint", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async(), es.WorkerOptions{})
		n.write(a, 3)
		Expect(n.counts(inlineCounts)).To(HaveLen(1))
		Expect(n.counts(asyncCounts)).To(BeEmpty())
		Expect(n.worker.CatchUp(n.ctx)).To(Succeed())
		Expect(n.counts(asyncCounts)).To(Equal(n.counts(inlineCounts)))
		n.write(a, 2)
		Expect(n.worker.CatchUp(n.ctx)).To(Succeed())
		Expect(n.counts(asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 5, Last: 5}}))
		st, err := n.store.Projection(n.ctx, "async")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Checkpoint.Position).To(Equal(int64(5)))
		Expect(st.Version).To(Equal(1))
	})

	It("wake up on commits while running, and report their lag", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async(), es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour})
		n.write(a, 2)
		lag, err := n.worker.Lag(n.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lag).To(HaveLen(1))
		Expect(lag[0].Events).To(Equal(int64(2)))
		Expect(lag[0].OldestAge).To(BeNumerically(">", 0))
		ctx, cancel := context.WithCancel(n.ctx)
		done := make(chan error)
		go func() { done <- n.worker.Run(ctx) }()
		Eventually(func() []LineCount { return n.counts(asyncCounts) }).Should(HaveLen(1)) // the first poll
		n.write(b, 1)                                                                      // polls are an hour apart: only the commit's wake-up can bring this in
		Eventually(func() []LineCount { return n.counts(asyncCounts) }).Should(HaveLen(2))
		cancel()
		Expect(<-done).To(MatchError(context.Canceled))
		lag, err = n.worker.Lag(n.ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lag[0].Events).To(BeZero())
		Expect(lag[0].State.Owner).To(BeEmpty(), "Run releases its leases")
	})

	It("look again soon for a commit the watermark still hides, whatever the poll interval", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async(), es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour})
		held := &heldBack{Store: n.store}
		w, err := es.NewProjectionWorker(n.reg, held, es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour, Logger: slog.New(slog.DiscardHandler)})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(n.ctx)
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		Eventually(held.reads.Load).Should(BeNumerically(">", 0)) // the first poll, then an hour's wait
		held.hide.Store(3)                                        // the next three reads see nothing yet
		n.write(a, 1)
		Eventually(func() []LineCount { return n.counts(asyncCounts) }).WithTimeout(2 * time.Second).Should(HaveLen(1))
		cancel()
		<-done
	})

	It("end up equal to the inline projector under concurrent writers", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async().Partitioned(4), es.WorkerOptions{BatchSize: 7})
		ctx, cancel := context.WithCancel(n.ctx)
		done := make(chan error)
		go func() { done <- n.worker.Run(ctx) }()
		notes := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				defer GinkgoRecover()
				for i := range 25 {
					Expect(n.svc.Execute(n.ctx, WriteLine{Note: notes[(w+i)%len(notes)], N: i})).To(estest.Committed())
				}
			})
		}
		wg.Wait()
		Eventually(func() []LineCount { return n.counts(asyncCounts) }).Should(Equal(n.counts(inlineCounts)))
		cancel()
		<-done
	})

	It("are owned by one worker at a time, and taken over when the owner dies", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async(), es.WorkerOptions{Owner: "first", LeaseTTL: 200 * time.Millisecond})
		second, err := es.NewProjectionWorker(n.reg, n.store, es.WorkerOptions{Owner: "second", LeaseTTL: time.Minute})
		Expect(err).NotTo(HaveOccurred())
		n.write(a, 1)
		Expect(n.worker.CatchUp(n.ctx)).To(Succeed()) // "first" holds the lease and then dies silently
		n.write(a, 1)
		started := time.Now()
		Expect(second.CatchUp(n.ctx)).To(Succeed())
		Expect(time.Since(started)).To(BeNumerically(">", 100*time.Millisecond), "waited for the lease to expire")
		Expect(n.counts(asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 2, Last: 2}}))
		st, _ := n.store.Projection(n.ctx, "async")
		Expect(st.Owner).To(Equal("second"))
	})

	It("fence writes by lease: a worker that lost its lease writes nothing", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async(), es.WorkerOptions{})
		Expect(n.store.Lease(n.ctx, "async", "old", time.Millisecond)).To(BeTrue())
		time.Sleep(5 * time.Millisecond)
		Expect(n.store.Lease(n.ctx, "async", "new", time.Minute)).To(BeTrue())
		err := n.store.Advance(n.ctx, "async", "old", es.Cursor{TxID: 9, Position: 9}, 1, func(ctx context.Context, v es.Persistor) error {
			return asyncCounts.Insert(ctx, v, LineCount{Note: a})
		})
		Expect(err).To(MatchError(es.ErrLeaseLost))
		Expect(n.counts(asyncCounts)).To(BeEmpty())
		st, _ := n.store.Projection(n.ctx, "async")
		Expect(st.Checkpoint).To(Equal(es.Cursor{}))
	})

	It("retry a failing event, then stop at it while the others go on, and resume", func() {
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
		n := newNotebook(failing, es.WorkerOptions{Retries: 2, RetryBackoff: time.Millisecond}, lineCounter("other", otherCounts, nil).Async())
		n.write(a, 3)
		err := n.worker.CatchUp(n.ctx)
		var failure *es.ProjectionFailure
		Expect(errors.As(err, &failure)).To(BeTrue(), "got %v", err)
		Expect(failure.Projection).To(Equal("async"))
		Expect(failure.StreamID).To(Equal(a))
		Expect(failure.Version).To(Equal(int64(2)))
		Expect(failure.Type).To(Equal("test.NoteLine"))
		Expect(err.Error()).To(ContainSubstring("disk full"))
		Expect(err.Error()).To(ContainSubstring(`resume it with ProjectionWorker.Resume(ctx, "async")`))
		Expect(tries.Load()).To(Equal(int32(3)), "the first try and two retries")
		Expect(n.counts(asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 1, Last: 1}}), "what came before the failing event is kept")
		Expect(n.counts(otherCounts)).To(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}), "the other projector went on")

		Expect(n.worker.CatchUp(n.ctx)).To(MatchError(ContainSubstring("stopped at")), "it stays stopped")
		broken.Store(false)
		Expect(n.worker.Resume(n.ctx, "async")).To(Succeed())
		Expect(n.worker.CatchUp(n.ctx)).To(Succeed())
		Expect(n.counts(asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}))
	})

	It("catch up past an event that failed once and then succeeded on retry", func() {
		var failed atomic.Bool
		flaky := lineCounter("async", asyncCounts, func(ev NoteLine) error {
			if ev.N == 0 && !failed.Swap(true) {
				return errors.New("connection reset")
			}
			return nil
		}).Async()
		n := newNotebook(flaky, es.WorkerOptions{Retries: 1, RetryBackoff: time.Millisecond})
		n.write(a, 3)
		Expect(n.worker.CatchUp(n.ctx)).To(Succeed())
		Expect(n.counts(asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 3, Last: 3}}), "CatchUp returned before the log's end")
	})

	It("leave a projection whose tables a newer version built alone, rather than write an old version over it", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async(), es.WorkerOptions{})
		n.write(a, 1)
		Expect(n.worker.CatchUp(n.ctx)).To(Succeed())
		Expect(n.store.Release(n.ctx, "async", n.worker.Owner())).To(Succeed())

		// A rolling deploy: version 2 rebuilds the tables ...
		reg := es.NewRegistry()
		note := es.RegisterAggregate(reg, "test.Note", func() *Note { return new(Note) })
		es.RegisterEvent[NoteLine](note, "test.NoteLine")
		reg.AddProjector(lineCounter("async", asyncCounts, nil).Async().Versioned(2))
		w2, err := es.NewProjectionWorker(reg, n.store, es.WorkerOptions{Logger: slog.New(slog.DiscardHandler)})
		Expect(err).NotTo(HaveOccurred())
		Expect(w2.CatchUp(n.ctx)).To(Succeed())
		Expect(n.store.Release(n.ctx, "async", w2.Owner())).To(Succeed())

		// ... while a process of version 1 still runs.
		n.write(a, 1)
		err = n.worker.CatchUp(n.ctx)
		Expect(err).To(MatchError(ContainSubstring("version 2")))
		Expect(err).To(MatchError(ContainSubstring("newer")))
		st, _ := n.store.Projection(n.ctx, "async")
		Expect(st.Version).To(Equal(2), "the old worker must not mark the tables as version 1 (the next version-2 worker would rebuild them again)")
		Expect(st.Owner).To(BeEmpty(), "the old worker leaves the lease to the new version")
	})

	It("log a stopped projection once, not on every wake-up", func() {
		failing := lineCounter("async", asyncCounts, func(NoteLine) error { return errors.New("disk full") }).Async()
		var logged atomic.Int32
		logger := slog.New(countingHandler{n: &logged})
		n := newNotebook(failing, es.WorkerOptions{Retries: -1, PollMin: time.Millisecond, PollMax: time.Millisecond, Logger: logger})
		n.write(a, 1)
		ctx, cancel := context.WithCancel(n.ctx)
		done := make(chan error)
		go func() { done <- n.worker.Run(ctx) }()
		Eventually(logged.Load).Should(BeNumerically(">=", 1))
		time.Sleep(50 * time.Millisecond) // some fifty polls
		cancel()
		<-done
		Expect(logged.Load()).To(Equal(int32(1)))
	})

	It("rebuild when a newer version is deployed", func() {
		n := newNotebook(lineCounter("async", asyncCounts, nil).Async(), es.WorkerOptions{})
		n.write(a, 2)
		Expect(n.worker.CatchUp(n.ctx)).To(Succeed())
		Expect(asyncCounts.Upsert(n.ctx, n.store.Views(), LineCount{Note: b, Lines: 99})).To(Succeed()) // drift a rebuild must undo

		Expect(n.store.Release(n.ctx, "async", n.worker.Owner())).To(Succeed()) // the old version's worker stops

		// Deploy version 2 on the same store.
		reg := es.NewRegistry()
		note := es.RegisterAggregate(reg, "test.Note", func() *Note { return new(Note) })
		es.RegisterEvent[NoteLine](note, "test.NoteLine")
		reg.AddProjector(lineCounter("async", asyncCounts, nil).Async().Versioned(2))
		var phases []string
		w2, err := es.NewProjectionWorker(reg, n.store, es.WorkerOptions{Logger: slog.New(slog.DiscardHandler), Progress: func(p es.RebuildProgress) { phases = append(phases, p.Phase) }})
		Expect(err).NotTo(HaveOccurred())
		Expect(w2.CatchUp(n.ctx)).To(Succeed())
		Expect(n.counts(asyncCounts)).To(Equal([]LineCount{{Note: a, Lines: 2, Last: 2}}))
		Expect(phases).To(ContainElement("done"))
		st, _ := n.store.Projection(n.ctx, "async")
		Expect(st.Version).To(Equal(2))
	})

	It("need a store that can keep checkpoints", func() {
		_, err := es.NewProjectionWorker(es.NewRegistry(), plainStore{memstore.New()}, es.WorkerOptions{})
		Expect(err).To(MatchError(ContainSubstring("need a store that implements es.ProjectionStore")))
	})

	It("refuse partitions on inline projectors", func() {
		reg := es.NewRegistry()
		reg.AddProjector(es.NewProjector("p").Partitioned(3))
		_, err := es.NewCommandService(context.Background(), reg, memstore.New(), es.Options{})
		Expect(err).To(MatchError(ContainSubstring(`projector "p" is partitioned but not async`)))
	})
})

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

// heldBack is a memory store whose log reads come back empty while hide is
// positive, as PostgreSQL's do while a transaction elsewhere holds the watermark.
type heldBack struct {
	*memstore.Store
	hide, reads atomic.Int32
}

func (h *heldBack) ReadPartition(ctx context.Context, after es.Cursor, limit, part, of int) ([]es.EventRecord, error) {
	h.reads.Add(1)
	if h.hide.Load() > 0 {
		h.hide.Add(-1)
		return nil, nil
	}
	return h.Store.ReadPartition(ctx, after, limit, part, of)
}

// plainStore hides the memory store's optional capabilities.
type plainStore struct{ es.EventStore }

var _ = Describe("a projection worker and its registry", func() {
	It("leaves the registry as it is, and wakes on the store's commits whenever the service was built", func(ctx SpecContext) {
		reg := es.NewRegistry()
		registerBank(reg)
		store := memstore.New()
		svc, err := es.NewCommandService(ctx, reg, store, es.Options{}) // built before the worker
		Expect(err).NotTo(HaveOccurred())
		p := es.NewProjector("owners", ownerNames).Async()
		es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev AccountOpened) error {
			return ownerNames.Upsert(ctx, v, ownerName{ID: e.StreamID, Owner: ev.Owner})
		})
		Expect(store.Views().CreateTables(ctx, ownerNames.Def())).To(Succeed())
		woke := make(chan struct{}, 1)
		store.OnCommit(func() {
			select {
			case woke <- struct{}{}:
			default:
			}
		})
		w, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Projectors: []*es.Projector{p}, PollMin: time.Hour, PollMax: time.Hour})
		Expect(err).NotTo(HaveOccurred())
		Expect(reg.Err()).NotTo(HaveOccurred())
		run, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(run) }()
		DeferCleanup(func() { stop(); <-done })
		time.Sleep(50 * time.Millisecond) // the first poll is over: the next is an hour away
		id := uuid.New()
		Expect(svc.Execute(ctx, OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})).To(estest.Committed())
		Eventually(woke).Should(Receive())
		Eventually(func() ([]ownerName, error) { return ownerNames.Find(ctx, store.Views(), nil) }).
			WithTimeout(2*time.Second).Should(ConsistOf(ownerName{ID: id, Owner: "Ann"}), "woken by the commit, not by a poll")
	})
})

type ownerName struct {
	ID    uuid.UUID `db:"id"`
	Owner string    `db:"owner"`
}

var ownerNames = es.NewTable[ownerName]("owner_names", "id")
