package pgstore_test

import (
	"context"
	"slices"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// logEnd returns the cursor after the last event ReadLog returns now.
func logEnd(ctx context.Context) es.Cursor {
	var end es.Cursor
	for {
		recs, err := store.ReadLog(ctx, end, 1000)
		Expect(err).NotTo(HaveOccurred())
		if len(recs) == 0 {
			return end
		}
		end = recs[len(recs)-1].Cursor()
	}
}

// logOf returns the events of the given streams that ReadLog returns after c,
// reading in pages of limit.
func logOf(ctx context.Context, after es.Cursor, limit int, streams ...uuid.UUID) []es.EventRecord {
	var out []es.EventRecord
	for {
		recs, err := store.ReadLog(ctx, after, limit)
		Expect(err).NotTo(HaveOccurred())
		for _, r := range recs {
			Expect(after.Before(r.Cursor())).To(BeTrue(), "the log moves forward")
			after = r.Cursor()
			if slices.Contains(streams, r.StreamID) {
				out = append(out, r)
			}
		}
		if limit <= 0 || len(recs) < limit {
			return out
		}
	}
}

func cursors(recs []es.EventRecord) []es.Cursor {
	out := make([]es.Cursor, len(recs))
	for i, r := range recs {
		out[i] = r.Cursor()
	}
	return out
}

var _ = Describe("ReadLog", Label("integration"), func() {
	BeforeEach(requireDB)

	It("returns committed events in (TxID, Position) order, in pages, after a cursor", func(ctx SpecContext) {
		start := logEnd(ctx)
		a, b := newID(), newID()
		c1 := commitOf(stream(a, 0, 2), stream(b, 0, 1))
		Expect(store.Commit(ctx, c1, nil)).To(Succeed())
		c2 := commitOf(stream(a, 2, 3))
		Expect(store.Commit(ctx, c2, nil)).To(Succeed())
		want := append(append(append([]es.EventRecord{}, c1.Streams[0].Events...), c1.Streams[1].Events...), c2.Streams[0].Events...)

		Eventually(func() []es.EventRecord { return logOf(ctx, start, 0, a, b) }).Should(Equal(want))
		Expect(cursors(logOf(ctx, start, 2, a, b))).To(Equal(cursors(want)), "pages of 2 read the same")
		Expect(logOf(ctx, want[2].Cursor(), 0, a, b)).To(Equal(want[3:]))
	})

	It("hides commits that follow a transaction still in flight until it ends", func(ctx SpecContext) {
		start := logEnd(ctx)
		early, late := newID(), newID()
		inside, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- store.Commit(ctx, commitOf(stream(early, 0, 1)), func(context.Context, es.Persistor) error {
				close(inside) // the event is inserted, the transaction open
				<-release
				return nil
			})
		}()
		Eventually(inside).Should(BeClosed())
		lateCommit := commitOf(stream(late, 0, 1))
		Expect(store.Commit(ctx, lateCommit, nil)).To(Succeed(), "writers do not wait for each other")
		recs, err := store.LoadStream(ctx, late, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(1), "the late commit is visible to loads")

		Consistently(func() []es.EventRecord { return logOf(ctx, start, 0, early, late) }, 300*time.Millisecond, 50*time.Millisecond).
			Should(BeEmpty(), "the log stops below the open transaction")

		close(release)
		Expect(<-done).To(Succeed())
		Eventually(func() []uuid.UUID {
			var ids []uuid.UUID
			for _, r := range logOf(ctx, start, 0, early, late) {
				ids = append(ids, r.StreamID)
			}
			return ids
		}).Should(Equal([]uuid.UUID{early, late}), "the early transaction comes first in the log, though it committed last")
	})
})
