package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The gap soak: writers whose transactions stay open for random times, some of
// which roll back, and one that stays open for seconds, while an async projector
// follows the log. Positions are taken early and commit late, so a follower that
// trusted them would skip events; the watermark must not.
var _ = Describe("the gap soak", Label(pgtest.Label), func() {
	It("skips no event and keeps per-stream order under 8 writers, rollbacks and a long transaction", func(ctx SpecContext) {
		OutOfOrder.Store(0)
		async := LineCounter("async", AsyncCounts, nil).Async().Partitioned(2)
		n := newNotebook(ctx, es.WorkerOptions{BatchSize: 20, PollMax: 100 * time.Millisecond}, Sleeper(), async)
		run, stop := context.WithCancel(ctx)
		worker := make(chan error, 1)
		go func() { worker <- n.Worker.Run(run) }()

		notes := make([]uuid.UUID, 16)
		for i := range notes {
			notes[i] = uuid.New()
		}
		var ok, failed, maxLag atomic.Int64
		started := time.Now()
		lagDone := make(chan struct{})
		go func() { // the largest lag seen, for the report
			defer close(lagDone)
			for run.Err() == nil {
				if lag, err := n.Worker.Lag(run); err == nil {
					var total int64
					for _, l := range lag {
						total += l.Events
					}
					if total > maxLag.Load() {
						maxLag.Store(total)
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		var wg sync.WaitGroup
		wg.Go(func() { // the long transaction: open for 3 s while the others commit
			defer GinkgoRecover()
			time.Sleep(300 * time.Millisecond)
			Expect(n.Svc.Execute(ctx, WriteLine{Note: uuid.New(), N: -1, Sleep: 3 * time.Second})).To(estest.Committed())
			ok.Add(1)
		})
		for w := range 8 {
			wg.Go(func() {
				defer GinkgoRecover()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for i := range 60 {
					cmd := WriteLine{Note: notes[rng.IntN(len(notes))], N: i,
						Sleep: time.Duration(rng.IntN(12)) * time.Millisecond, Fail: rng.IntN(8) == 0}
					_, err := n.Svc.Execute(ctx, cmd)
					switch {
					case cmd.Fail:
						Expect(errors.Is(err, ErrBoom)).To(BeTrue(), "a failing inline projector fails the command: %v", err)
						failed.Add(1)
					default:
						Expect(err).NotTo(HaveOccurred())
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		wrote := time.Since(started)
		want := n.Counts(ctx, InlineCounts)
		var lines int64
		for _, r := range want {
			lines += int64(r.Lines)
		}
		Expect(lines).To(Equal(ok.Load()), "the inline counts hold every committed command, and only those")
		Eventually(func() []LineCount { return n.Counts(ctx, AsyncCounts) }).Should(Equal(want))
		caughtUp := time.Since(started)
		stop()
		<-worker
		<-lagDone
		Expect(OutOfOrder.Load()).To(BeZero(), "no event came out of per-stream order")
		AddReportEntry("gap soak", fmt.Sprintf("%d commits, %d rolled back, written in %v, async caught up after %v, largest lag %d events",
			ok.Load(), failed.Load(), wrote.Round(time.Millisecond), caughtUp.Round(time.Millisecond), maxLag.Load()))
	})
})
