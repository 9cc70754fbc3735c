package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// envWorkflowKillChild makes the test binary the process whose durable
// workflow the kill spec kills: its value is the DSN of the database.
const envWorkflowKillChild = "PGSTORE_WORKFLOW_KILL_CHILD_DSN"

// TestWorkflowKillChild is not a test: it is the process the workflow kill
// spec starts and kills while the echo workflow's commands commit. Each
// receipt's commit stays open a while (an inline projector sleeps in it), so
// that the kill can land inside one. It runs only with envWorkflowKillChild set.
func TestWorkflowKillChild(t *testing.T) {
	ctx, store := childStore(t, envWorkflowKillChild, "the workflow kill spec's process; runs only when started by it")
	reg := es.NewRegistry()
	registerReceipts(reg, 1, func() { time.Sleep(15 * time.Millisecond) })
	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Owner: "child", LeaseTTL: 2 * time.Second, Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("child: reacting")
	_ = w.Run(ctx)
}

var _ = Describe("a process killed while a durable workflow's commands commit", Label(pgtest.Label), func() {
	It("leaves the work to another process, and each command takes effect once", func(ctx SpecContext) {
		w := newReceiptWorld(ctx, 1)
		const notes, lines = 10, 10
		for range notes {
			note := uuid.New()
			for i := range lines {
				Expect(w.svc.Execute(ctx, WriteLine{Note: note, N: i})).To(estest.Committed())
			}
		}
		Expect(w.svc.ScheduledCommands(ctx)).To(BeEmpty())
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		child := startChild("TestWorkflowKillChild", envWorkflowKillChild, childDSN(db, "pgstore_workflow_kill_child"))

		receipts := func(ctx context.Context) (int, error) {
			var n int
			err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM consequent.commands WHERE type = 'test.Receive'`).Scan(&n)
			return n, err
		}
		By("waiting until the child has committed receipts and is inside the commit of the next one")
		Eventually(ctx, receipts).WithTimeout(30 * time.Second).WithPolling(5 * time.Millisecond).Should(BeNumerically(">=", 20))
		waitOpenTransaction(ctx, db, "pgstore_workflow_kill_child", "a receipt's commit has written and not committed")
		Expect(child.Process.Kill()).To(Succeed()) // SIGKILL: no release, no rollback by the child
		killed := time.Now()
		_ = child.Wait()
		done, err := receipts(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeNumerically("<", notes*lines), "it died before the end")
		st, err := w.store.Projection(ctx, "workflow:echo")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Owner).To(Equal("child"), "the dead child still holds the lease")
		var checkpointed int
		Expect(db.Pool.QueryRow(ctx, `SELECT count(*) FROM consequent.events
			WHERE type = 'test.NoteLine' AND (xact_id, position) <= ($1::xid8, $2::bigint)`, st.Checkpoint.TxID, st.Checkpoint.Position).Scan(&checkpointed)).To(Succeed())
		Expect(checkpointed).To(BeNumerically("<", done), "some events' commands committed after the last checkpoint: they will be reacted to again")

		By("taking over in this process once the child's lease has expired")
		parent, err := es.NewProjectionWorker(w.reg, w.store, es.WorkerOptions{Owner: "parent", LeaseTTL: 2 * time.Second, Service: w.svc})
		Expect(err).NotTo(HaveOccurred())
		Eventually(ctx, func(ctx context.Context) ([]es.Lag, error) {
			if err := parent.CatchUp(ctx); err != nil {
				return nil, err
			}
			return parent.Lag(ctx)
		}).Should(HaveEach(And(HaveField("Events", BeZero()), HaveField("Held", BeZero()))))
		w.exactlyOnce(ctx, notes*lines)
		AddReportEntry("durable workflow killed mid-command", fmt.Sprintf(
			"killed with %d of %d commands committed (%d events checkpointed, one commit open); taken over %v after the kill (lease 2s); each of the %d commands stored once",
			done, notes*lines, checkpointed, time.Since(killed).Round(time.Millisecond), notes*lines))
	})
})
