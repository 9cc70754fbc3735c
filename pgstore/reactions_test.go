package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Receipts: the echo workflow answers every note line with a receipt line,
// through a command. The kill spec and the delay measurement use them.
type (
	ReceiptLine struct{ N int }
	ReceiveLine struct {
		Receipt uuid.UUID
		N       int
	}
	Receipt struct{ es.AggregateRoot }
)

func (*Receipt) On(any) {}

// receiptOf is the receipt stream of a note.
func receiptOf(note uuid.UUID) uuid.UUID { return uuid.NewSHA1(note, []byte("receipt")) }

// receiptCounts is the inline projector's table of receipts.
var receiptCounts = es.NewTable[LineCount]("receipt_counts", "note")

// registerReceipts adds receipts and the durable echo workflow (in as many
// partitions) to the notebook; hold, when set, runs inside each receipt's
// commit transaction.
func registerReceipts(reg *es.Registry, partitions int, hold func()) {
	RegisterNotes(reg)
	receipt := es.RegisterAggregate(reg, "test.Receipt", func() *Receipt { return new(Receipt) })
	es.RegisterEvent[ReceiptLine](receipt, "test.ReceiptLine")
	es.Handle(reg, "test.Receive", func(ctx context.Context, u *es.UnitOfWork, c ReceiveLine) error {
		a, err := es.Load[*Receipt](ctx, u, c.Receipt)
		if errors.Is(err, es.ErrAggregateNotFound) {
			a, err = es.Create[*Receipt](ctx, u, c.Receipt)
		}
		if err != nil {
			return err
		}
		return es.Record(a, ReceiptLine{N: c.N})
	})
	p := es.NewProjector("receipts", receiptCounts)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev ReceiptLine) error {
		if hold != nil {
			hold()
		}
		rows, err := receiptCounts.Find(ctx, v, es.Where{"note": e.StreamID})
		if err != nil {
			return err
		}
		row := LineCount{Note: e.StreamID}
		if len(rows) == 1 {
			row = rows[0]
		}
		row.Lines++
		row.Last = e.Version
		return receiptCounts.Upsert(ctx, v, row)
	})
	reg.AddProjector(p)
	echo := es.NewWorkflow("echo").Durable().Partitioned(partitions)
	es.React(echo, func(_ context.Context, r *es.Reaction, e es.Envelope, ev NoteLine) error {
		r.Execute(ReceiveLine{Receipt: receiptOf(e.StreamID), N: ev.N})
		return nil
	})
	reg.AddWorkflow(echo)
}

// receiptWorld is the receipts domain on a fresh pgtest store.
type receiptWorld struct {
	reg   *es.Registry
	store *pgstore.Store
	svc   *es.CommandService
}

func newReceiptWorld(ctx context.Context, partitions int) *receiptWorld {
	GinkgoHelper()
	s, err := pgtest.Store(ctx)
	Expect(err).NotTo(HaveOccurred())
	w := &receiptWorld{reg: es.NewRegistry(), store: s}
	registerReceipts(w.reg, partitions, nil)
	w.svc, err = es.NewCommandService(ctx, w.reg, s, es.Options{ConflictRetries: 100})
	Expect(err).NotTo(HaveOccurred())
	return w
}

// exactlyOnce checks that every note line has exactly one receipt line, by the
// command whose id the echo workflow derives from the line's event.
func (w *receiptWorld) exactlyOnce(ctx context.Context, lines int) {
	GinkgoHelper()
	var notes, receipts []es.Envelope
	Eventually(ctx, func(g Gomega) { // the log's watermark may hold the newest back a moment
		notes, receipts = nil, nil
		for env, err := range es.Events(ctx, w.reg, w.store, es.EventsQuery{}) {
			g.Expect(err).NotTo(HaveOccurred())
			switch env.Event.(type) {
			case NoteLine:
				notes = append(notes, env)
			case ReceiptLine:
				receipts = append(receipts, env)
			}
		}
		g.Expect(len(notes) + len(receipts)).To(BeNumerically(">=", 2*lines))
	}).Should(Succeed())
	Expect(notes).To(HaveLen(lines))
	Expect(receipts).To(HaveLen(lines), "one receipt line per note line")
	byCommand := map[uuid.UUID]es.Envelope{}
	for _, r := range receipts {
		byCommand[r.CommandID] = r
	}
	for _, n := range notes {
		r, ok := byCommand[es.ReactionID("echo", n.ID, 0)]
		Expect(ok).To(BeTrue(), "note %s line %d has its receipt", n.StreamID, n.Version)
		Expect(r.StreamID).To(Equal(receiptOf(n.StreamID)))
		Expect(r.Event).To(Equal(ReceiptLine{N: n.Event.(NoteLine).N}))
	}
	var ids []uuid.UUID
	for _, n := range notes {
		ids = append(ids, es.ReactionID("echo", n.ID, 0))
	}
	cmds, err := w.store.Commands(ctx, ids...)
	Expect(err).NotTo(HaveOccurred())
	Expect(cmds).To(HaveLen(lines))
	for _, c := range cmds {
		Expect(c.Type).To(Equal("test.Receive"))
	}
}

var _ = Describe("reactions on PostgreSQL", Label(pgtest.Label), func() {
	It("run a durable workflow's commands once each, whoever runs them", func(ctx SpecContext) {
		w := newReceiptWorld(ctx, 1)
		notes := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
		for _, note := range notes {
			for i := range 5 {
				Expect(w.svc.Execute(ctx, WriteLine{Note: note, N: i})).To(estest.Committed())
			}
		}
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		a, err := es.NewProjectionWorker(w.reg, w.store, es.WorkerOptions{Owner: "a", Service: w.svc, Logger: quiet})
		Expect(err).NotTo(HaveOccurred())
		Eventually(ctx, func(ctx context.Context) ([]es.Lag, error) {
			if err := a.CatchUp(ctx); err != nil {
				return nil, err
			}
			return a.Lag(ctx)
		}).Should(HaveEach(And(HaveField("Events", BeZero()), HaveField("Held", BeZero()))))
		w.exactlyOnce(ctx, 15)

		By("reacting to every event again, as a worker after a crash would")
		Expect(w.store.Release(ctx, "workflow:echo", "a")).To(Succeed())
		_, err = w.store.Lease(ctx, "workflow:echo", "b", time.Minute)
		Expect(err).NotTo(HaveOccurred())
		Expect(w.store.Advance(ctx, "workflow:echo", "b", es.Cursor{}, 1, func(context.Context, es.Persistor) error { return nil })).To(Succeed())
		b, err := es.NewProjectionWorker(w.reg, w.store, es.WorkerOptions{Owner: "b", Service: w.svc, Logger: quiet})
		Expect(err).NotTo(HaveOccurred())
		Expect(b.CatchUp(ctx)).To(Succeed())
		w.exactlyOnce(ctx, 15)
		st, err := w.store.Projection(ctx, "workflow:echo")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Checkpoint.Position).To(BeNumerically(">", 0))
	})

	It("runs scheduled commands once due, once, on the service's clock", func(ctx SpecContext) {
		s, err := pgtest.Store(ctx)
		Expect(err).NotTo(HaveOccurred())
		reg := es.NewRegistry()
		RegisterNotes(reg)
		type Later struct {
			Note uuid.UUID
			In   time.Duration
		}
		es.Handle(reg, "test.Later", func(ctx context.Context, u *es.UnitOfWork, c Later) error {
			return u.Schedule(u.Now().Add(c.In), "later "+c.Note.String(), WriteLine{Note: c.Note, N: 42})
		})
		clock := es.NewManualClock(time.Now())
		svc, err := es.NewCommandService(ctx, reg, s, es.Options{Clock: clock})
		Expect(err).NotTo(HaveOccurred())
		worker, err := es.NewProjectionWorker(reg, s, es.WorkerOptions{Service: svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		Expect(err).NotTo(HaveOccurred())
		note := uuid.New()
		Expect(svc.Execute(ctx, Later{Note: note, In: time.Hour})).To(estest.Committed())
		Expect(worker.CatchUp(ctx)).To(Succeed())
		Expect(svc.History(ctx, note)).To(BeEmpty())
		clock.Advance(time.Hour)
		Expect(worker.CatchUp(ctx)).To(Succeed())
		Expect(worker.CatchUp(ctx)).To(Succeed())
		hist, err := svc.History(ctx, note)
		Expect(err).NotTo(HaveOccurred())
		Expect(hist).To(HaveLen(1))
		Expect(hist[0].Event).To(Equal(NoteLine{N: 42}))
		Expect(svc.ScheduledCommands(ctx)).To(BeEmpty())
	})

	It("measures the delay from an event's commit to its workflow command's commit, 8 writers", Label("measure"), func(ctx SpecContext) {
		w := newReceiptWorld(ctx, 8)
		var mu sync.Mutex
		committed, reacted := map[uuid.UUID]time.Time{}, map[uuid.UUID]time.Time{}
		w.reg.AfterCommit(func(_ context.Context, envs []es.Envelope) {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for _, e := range envs {
				switch e.Event.(type) {
				case NoteLine:
					committed[e.ID] = now
				case ReceiptLine:
					reacted[e.CommandID] = now
				}
			}
		})
		worker, err := es.NewProjectionWorker(w.reg, w.store, es.WorkerOptions{Service: w.svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		Expect(err).NotTo(HaveOccurred())
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = worker.Run(runCtx) }()
		DeferCleanup(func() { stop(); <-done })

		// Each writer commits 25 times a second: 200 commits/s in all, a load
		// the 2-core machine carries twice over (the writers' commits and the
		// workflow's). Flat out, the workflow's commits queue behind the CPU.
		const writers, perWriter = 8, 75
		started := time.Now()
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				defer GinkgoRecover()
				note := uuid.New()
				for i := range perWriter {
					Expect(w.svc.Execute(ctx, WriteLine{Note: note, N: i})).To(estest.Committed())
					time.Sleep(40 * time.Millisecond) // a steady load, not a flood
				}
			})
		}
		wg.Wait()
		rate := float64(writers*perWriter) / time.Since(started).Seconds()
		Eventually(func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(reacted)
		}).WithTimeout(time.Minute).Should(Equal(writers * perWriter))
		mu.Lock()
		var delays []time.Duration
		for id, at := range committed {
			delays = append(delays, reacted[es.ReactionID("echo", id, 0)].Sub(at))
		}
		mu.Unlock()
		slices.Sort(delays)
		p := func(q float64) time.Duration {
			return delays[int(q*float64(len(delays)-1))].Round(100 * time.Microsecond)
		}
		AddReportEntry("durable workflow delay", fmt.Sprintf("event commit → workflow command commit, %d writers (%.0f commits/s), %d events, workflow in 8 partitions: p50 %v, p99 %v, max %v",
			writers, rate, len(delays), p(0.5), p(0.99), p(1)))
		w.exactlyOnce(ctx, writers*perWriter)
	})
})
