package pgstore_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the swap of an inline projector's rebuild", Label(pgtest.Label), func() {
	It("waits for a watermark held back by a transaction in flight, so that it applies no more than its budget", func(ctx SpecContext) {
		n := newNotebook(ctx, es.WorkerOptions{}, LineCounter("rebuilt", rebuiltCounts, nil))
		notes := make([]uuid.UUID, 10)
		for i := range notes {
			notes[i] = uuid.New()
			n.Write(ctx, notes[i], 5)
		}
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		By("holding the watermark back with an open transaction, then committing 600 more events")
		blocker, err := db.Pool.Begin(ctx)
		Expect(err).NotTo(HaveOccurred())
		defer blocker.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
		Expect(blocker.QueryRow(ctx, "SELECT pg_current_xact_id()::text").Scan(new(string))).To(Succeed())
		for i := range 600 {
			Expect(n.Svc.Execute(ctx, WriteLine{Note: notes[i%len(notes)], N: i})).To(estest.Committed())
		}

		var (
			mu      sync.Mutex
			reports []es.RebuildProgress
		)
		reg := rebuildKillRegistry(false)
		svc, err := es.NewCommandService(ctx, reg, n.Store, es.Options{RebuildChunk: 100, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			RebuildProgress: func(p es.RebuildProgress) {
				mu.Lock()
				defer mu.Unlock()
				reports = append(reports, p)
			}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(svc.Close)
		phase := func() string {
			mu.Lock()
			defer mu.Unlock()
			if len(reports) == 0 {
				return ""
			}
			return reports[len(reports)-1].Phase
		}
		Eventually(phase).Should(Equal(es.PhaseCatchUp))
		Consistently(phase).WithTimeout(time.Second).Should(Equal(es.PhaseCatchUp), "it waits for the watermark")

		By("ending the transaction: the catch-up reads the rest, and the swap applies little")
		Expect(blocker.Rollback(ctx)).To(Succeed())
		Eventually(phase).WithTimeout(20 * time.Second).Should(Equal(es.PhaseDone))
		mu.Lock()
		var swap, done es.RebuildProgress
		for _, p := range reports {
			switch p.Phase {
			case es.PhaseSwap:
				swap = p
			case es.PhaseDone:
				done = p
			}
		}
		mu.Unlock()
		Expect(done.Done).To(BeEquivalentTo(650))
		Expect(done.Done-swap.Done).To(BeNumerically("<=", 500), "the swap applied at most its budget")
		Expect(n.Counts(ctx, rebuiltCounts)).To(Equal(n.Counts(ctx, InlineCounts)))
	})
})
