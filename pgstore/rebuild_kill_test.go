package pgstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// envRebuildKillChild makes the test binary the process whose rebuild the kill
// spec kills: its value is the DSN of the database to work on.
const envRebuildKillChild = "PGSTORE_REBUILD_KILL_CHILD_DSN"

// rebuiltCounts is the table of the inline projector the kill spec rebuilds.
var rebuiltCounts = es.NewTable[LineCount]("rebuilt_counts", "note")

// rebuildKillRegistry is the notebook with version 2 of the rebuilt counter;
// slow makes each event take a while, so that the rebuild can be killed mid-way.
func rebuildKillRegistry(slow bool) *es.Registry {
	reg := es.NewRegistry()
	RegisterNotes(reg)
	reg.AddProjector(LineCounter("inline", InlineCounts, nil))
	var hook func(NoteLine) error
	if slow {
		hook = func(NoteLine) error { time.Sleep(3 * time.Millisecond); return nil }
	}
	reg.AddProjector(LineCounter("rebuilt", rebuiltCounts, hook).Versioned(2))
	return reg
}

// TestRebuildKillChild is not a test: it is the process the rebuild kill spec
// starts and kills in the middle of a rebuild. It runs only with
// envRebuildKillChild set.
func TestRebuildKillChild(t *testing.T) {
	ctx, store := childStore(t, envRebuildKillChild, "the rebuild kill spec's process; runs only when started by it")
	svc, err := es.NewCommandService(ctx, rebuildKillRegistry(true), store,
		es.Options{Owner: "child", LeaseTTL: 2 * time.Second, RebuildChunk: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	fmt.Println("child: rebuilding")
	<-ctx.Done()
}

var _ = Describe("a process killed in the middle of a rebuild", Label(pgtest.Label), func() {
	It("leaves it to another process, which resumes from the last chunk and swaps", func(ctx SpecContext) {
		OutOfOrder.Store(0)
		n := newNotebook(ctx, es.WorkerOptions{}, LineCounter("rebuilt", rebuiltCounts, nil))
		notes := make([]uuid.UUID, 10)
		for i := range notes {
			notes[i] = uuid.New()
			n.Write(ctx, notes[i], 30)
		}
		want := n.Counts(ctx, InlineCounts)
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		Eventually(ctx, func(ctx context.Context) (int, error) { // the whole history is readable
			recs, err := n.Store.ReadLog(ctx, es.Cursor{}, 0)
			return len(recs), err
		}).Should(Equal(300))

		child := startChild("TestRebuildKillChild", envRebuildKillChild, db.DSN)

		By("killing the child once it has written a few chunks")
		var done int64
		Eventually(ctx, func(ctx context.Context) (int64, error) {
			st, _, err := n.Store.Rebuild(ctx, "rebuilt")
			done = st.Done
			return done, err
		}).WithTimeout(30 * time.Second).WithPolling(time.Millisecond).Should(BeNumerically(">=", 60))
		Expect(child.Process.Kill()).To(Succeed()) // SIGKILL: no release, no rollback by the child
		killed := time.Now()
		_ = child.Wait()
		st, _, err := n.Store.Rebuild(ctx, "rebuilt")
		Expect(err).NotTo(HaveOccurred())
		done = st.Done
		Expect(done).To(BeNumerically("<", 300), "it died before the end")
		Expect(n.Counts(ctx, rebuiltCounts)).To(Equal(want), "version 1's table still serves")

		By("starting version 2 in this process: it waits for the dead child's lease, then resumes")
		var first es.RebuildProgress
		reg := rebuildKillRegistry(false)
		svc, err := es.NewCommandService(ctx, reg, n.Store, es.Options{Owner: "parent", LeaseTTL: 2 * time.Second,
			RebuildChunk: 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			RebuildProgress: func(p es.RebuildProgress) {
				if first.Phase == "" {
					first = p
				}
			}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(svc.Close)
		Eventually(ctx, func(ctx context.Context) (int, error) {
			status, err := es.ReadModelStatus(ctx, reg, n.Store)
			if err != nil {
				return 0, err
			}
			for _, s := range status {
				if s.Projector == "rebuilt" && s.Phase == es.PhaseServing {
					return s.Serving, nil
				}
			}
			return 0, nil
		}).WithTimeout(30 * time.Second).Should(Equal(2))
		Expect(first.Done).To(Equal(done), "the rebuild resumed from the child's last chunk")
		Expect(n.Counts(ctx, rebuiltCounts)).To(Equal(want), "every note counts each of its 30 lines once, in order")
		Expect(OutOfOrder.Load()).To(BeZero())
		AddReportEntry("rebuild killed mid-way", fmt.Sprintf("killed after %d of 300 events; resumed and swapped %v after the kill (lease 2s)",
			done, time.Since(killed).Round(time.Millisecond)))
	})
})
