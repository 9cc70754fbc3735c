package memstore_test

import (
	"context"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// LineCount is a row of inline_counts, a table keyed by one uuid column.
type LineCount struct {
	Note  uuid.UUID `db:"note"`
	Lines int
}

var inlineCounts = es.NewTable[LineCount]("inline_counts", "note")

var _ = Describe("Tx.Changes", func() {
	It("lists the rows written since the last commit, deletions with their keys only", func() {
		ctx := context.Background()
		v := memstore.NewViews()
		Expect(v.CreateTables(ctx, inlineCounts.Def())).To(Succeed())
		a, b, c := uuid.UUID{1}, uuid.UUID{2}, uuid.UUID{3}
		tx := v.Begin()
		Expect(inlineCounts.Insert(ctx, tx, LineCount{Note: b, Lines: 1})).To(Succeed())
		Expect(inlineCounts.Insert(ctx, tx, LineCount{Note: a, Lines: 1})).To(Succeed())
		Expect(tx.Changes()).To(HaveLen(2))
		Expect(tx.Changes()[0].Key).To(Equal(es.Where{"note": a}))
		Expect(tx.Commit()).To(Succeed())
		Expect(tx.Changes()).To(BeEmpty())

		Expect(inlineCounts.Upsert(ctx, tx, LineCount{Note: a, Lines: 2})).To(Succeed())
		Expect(inlineCounts.Delete(ctx, tx, es.Where{"note": b})).To(BeEquivalentTo(1))
		Expect(inlineCounts.Insert(ctx, tx, LineCount{Note: c})).To(Succeed())
		Expect(inlineCounts.Delete(ctx, tx, es.Where{"note": c})).To(BeEquivalentTo(1))
		changes := tx.Changes()
		Expect(changes).To(HaveLen(2), "c came and went: no change")
		Expect(changes[0].Row).To(HaveKeyWithValue("lines", int64(2)))
		Expect(changes[1]).To(Equal(memstore.Change{Table: "inline_counts", Key: es.Where{"note": b}}))
	})
})
