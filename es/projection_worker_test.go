package es_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/internal/workerspecs"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The projection worker's specs on the memory store (package workerspecs runs
// them on each store), and the few that need the memory store.
var _ = workerspecs.Describe("async projectors", func(context.Context) (*memstore.Store, error) { return memstore.New(), nil })

// notebook is the test domain's notebook on a fresh memory store, with the
// context of the specs that use it.
type notebook struct {
	*workerspecs.Notebook[*memstore.Store]
	ctx context.Context
}

func newNotebook(opts es.WorkerOptions, projectors ...*es.Projector) *notebook {
	GinkgoHelper()
	ctx := context.Background()
	return &notebook{Notebook: workerspecs.NewNotebook(ctx, memstore.New(), opts, projectors...), ctx: ctx}
}

var _ = Describe("async projectors", func() {
	It("look again soon for a commit the watermark still hides, whatever the poll interval", func() {
		n := newNotebook(es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour}, LineCounter("async", AsyncCounts, nil).Async())
		held := &heldBack{Store: n.Store}
		w, err := es.NewProjectionWorker(n.Reg, held, es.WorkerOptions{PollMin: time.Hour, PollMax: time.Hour, Logger: slog.New(slog.DiscardHandler)})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(n.ctx)
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		Eventually(held.reads.Load).Should(BeNumerically(">", 0)) // the first poll, then an hour's wait
		held.hide.Store(3)                                        // the next three reads see nothing yet
		n.Write(n.ctx, uuid.New(), 1)
		Eventually(func() []LineCount { return n.Counts(n.ctx, AsyncCounts) }).WithTimeout(2 * time.Second).Should(HaveLen(1))
		cancel()
		<-done
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
		RegisterBank(reg)
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
