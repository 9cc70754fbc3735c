package pgstore_test

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the lag of an async projector", Label(pgtest.Label), func() {
	It("counts events committed but held back by the watermark, and names the transaction that holds them", func(ctx SpecContext) {
		n := newNotebook(ctx, es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		blocker, err := db.Pool.Begin(ctx)
		Expect(err).NotTo(HaveOccurred())
		defer blocker.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
		var pid int
		Expect(blocker.QueryRow(ctx, "SELECT pg_current_xact_id()::text").Scan(new(string))).To(Succeed()) // it has an xid
		Expect(blocker.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)).To(Succeed())
		time.Sleep(500 * time.Millisecond)
		note := uuid.New()
		n.Write(ctx, note, 10)

		lags, err := n.Worker.Lag(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(lags).To(HaveLen(1))
		Expect(lags[0].Events).To(BeZero(), "nothing is readable yet")
		Expect(lags[0].Held).To(BeEquivalentTo(10))
		Expect(lags[0].HeldBy).NotTo(BeNil())
		Expect(lags[0].HeldBy.Age).To(BeNumerically(">=", 400*time.Millisecond), "the oldest transaction in flight is at least as old as ours")
		if lags[0].HeldBy.PID == pid {
			Expect(lags[0].HeldBy.State).To(Equal("idle in transaction"))
		}

		Expect(blocker.Rollback(ctx)).To(Succeed())
		Eventually(ctx, func(ctx context.Context) (int64, error) {
			lags, err := n.Worker.Lag(ctx)
			if err != nil {
				return 0, err
			}
			return lags[0].Events + 100*lags[0].Held, nil
		}).Should(BeEquivalentTo(10), "once it ends, the events are readable, and nothing is held")
	})
})
