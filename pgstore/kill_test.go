package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// envKillChild makes the test binary a worker process for the kill spec: its
// value is the DSN of the database to work on.
const envKillChild = "PGSTORE_KILL_CHILD_DSN"

// killedCounts is the slow async projector's table in the kill spec.
var killedCounts = es.NewTable[LineCount]("killed_counts", "note")

// slowCounter is the kill spec's async projector: it takes its time per event,
// so that a batch's transaction stays open long enough to be killed in.
func slowCounter() *es.Projector {
	return LineCounter("slow", killedCounts, func(NoteLine) error {
		time.Sleep(10 * time.Millisecond)
		return nil
	}).Async()
}

// TestKillChild is not a test: it is the worker process the kill spec starts
// (and kills). It runs only with envKillChild set.
func TestKillChild(t *testing.T) {
	ctx, store := childStore(t, envKillChild, "the kill spec's worker process; runs only when started by it")
	reg := es.NewRegistry()
	RegisterNotes(reg)
	p := slowCounter()
	if err := store.Views().CreateTables(ctx, p.Tables()...); err != nil {
		t.Fatal(err)
	}
	w, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Owner: "child", LeaseTTL: 2 * time.Second,
		BatchSize: 20, Projectors: []*es.Projector{p}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("child: running")
	_ = w.Run(ctx)
}

var _ = Describe("a worker process killed mid-batch", Label(pgtest.Label), func() {
	It("is taken over by another process: nothing lost, nothing applied twice", func(ctx SpecContext) {
		OutOfOrder.Store(0)
		n := newNotebook(ctx, es.WorkerOptions{})
		Expect(n.Store.Views().CreateTables(ctx, killedCounts.Def())).To(Succeed())
		notes := make([]uuid.UUID, 10)
		for i := range notes {
			notes[i] = uuid.New()
			n.Write(ctx, notes[i], 12)
		}
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		child := startChild("TestKillChild", envKillChild, childDSN(db, "pgstore_kill_child"))

		By("waiting until the child has committed a batch and is inside the next one")
		Eventually(ctx, func(ctx context.Context) (int64, error) {
			st, err := n.Store.Projection(ctx, "slow")
			return st.Checkpoint.Position, err
		}).WithTimeout(30 * time.Second).Should(BeNumerically(">", 0))
		waitOpenTransaction(ctx, db, "pgstore_kill_child", "a batch has written rows and not committed")
		Expect(child.Process.Kill()).To(Succeed()) // SIGKILL: no release, no rollback by the child
		killed := time.Now()
		_ = child.Wait()
		before, err := n.Store.Projection(ctx, "slow")
		Expect(err).NotTo(HaveOccurred())
		Expect(before.Owner).To(Equal("child"), "the dead child still holds the lease")
		Expect(before.Checkpoint.Position).To(BeNumerically("<", 120), "it died before the end")

		By("taking over in this process once the child's lease has expired")
		Eventually(ctx, func(ctx context.Context) (bool, error) {
			return n.Store.Lease(ctx, "slow", "parent", 2*time.Second)
		}).WithPolling(10 * time.Millisecond).Should(BeTrue())
		takeover := time.Since(killed)
		parent, err := es.NewProjectionWorker(n.Reg, n.Store, es.WorkerOptions{Owner: "parent", LeaseTTL: 2 * time.Second,
			Retries: -1, Projectors: []*es.Projector{LineCounter("slow", killedCounts, nil).Async()}})
		Expect(err).NotTo(HaveOccurred())
		want := n.Counts(ctx, InlineCounts)
		Eventually(ctx, func(ctx context.Context) ([]LineCount, error) {
			if err := parent.CatchUp(ctx); err != nil {
				return nil, err
			}
			return n.Counts(ctx, killedCounts), nil
		}).Should(Equal(want), "every note counts each of its 12 lines once, in order")
		Expect(OutOfOrder.Load()).To(BeZero())
		AddReportEntry("kill mid-batch", fmt.Sprintf("killed at checkpoint position %d of 120; taken over %v after the kill (lease 2s)",
			before.Checkpoint.Position, takeover.Round(time.Millisecond)))
	})
})
