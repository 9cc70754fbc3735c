package pgstore_test

import (
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// history returns events versions from..to of stream id, without command ids.
func history(id uuid.UUID, from, to int64) []es.EventRecord {
	w := write(es.CommandRecord{}, id, from-1, int(to-from+1))
	for i := range w.Events {
		w.Events[i].CommandID, w.Events[i].CausationID = uuid.Nil, uuid.Nil
	}
	return w.Events
}

var _ = Describe("Import", Label("integration"), func() {
	BeforeEach(requireDB)

	It("appends a long history with COPY, continuing stored streams, in the order given", func(ctx SpecContext) {
		old, fresh := newID(), newID()
		Expect(store.Commit(ctx, commitOf(stream(old, 0, 2)), nil)).To(Succeed())
		start := logEnd(ctx)
		var evs []es.EventRecord
		a, b := history(old, 3, 5), history(fresh, 1, 300)
		evs = append(evs, a[:1]...)
		evs = append(evs, b[:150]...)
		evs = append(evs, a[1:]...)
		evs = append(evs, b[150:]...)

		n, err := store.Import(ctx, evs)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(int64(303)))

		Expect(store.StreamInfo(ctx, old)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 5}))
		Expect(store.StreamInfo(ctx, fresh)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 300}))
		recs, err := store.LoadStream(ctx, fresh, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(300))
		Expect(recs[299].Data).To(MatchJSON(b[299].Data))
		Expect(recs[0].Time).To(Equal(t0.UTC().Truncate(1000)))

		cmds, err := store.Commands(ctx, recs[0].CommandID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(HaveLen(1))
		Expect(cmds[0].Type).To(Equal(pgstore.ImportCommandType))

		imported := map[uuid.UUID]bool{}
		for _, e := range evs {
			imported[e.ID] = true
		}
		var got []uuid.UUID
		Eventually(func() int {
			got = nil
			for _, r := range logOf(ctx, start, 0, old, fresh) {
				if imported[r.ID] { // start may be before the first commit: the watermark
					got = append(got, r.ID)
				}
			}
			return len(got)
		}).Should(Equal(303))
		for i, e := range evs {
			Expect(got[i]).To(Equal(e.ID), "log position %d", i)
		}

		By("letting commits continue after the import")
		Expect(store.Commit(ctx, commitOf(stream(fresh, 300, 1)), nil)).To(Succeed())
	})

	It("rejects bad input naming the stream and version, and writes nothing", func(ctx SpecContext) {
		old := newID()
		Expect(store.Commit(ctx, commitOf(stream(old, 0, 2)), nil)).To(Succeed())
		fresh := newID()
		ok := history(fresh, 1, 3)
		cases := map[string][]es.EventRecord{
			"want version 3":            append(append([]es.EventRecord{}, ok...), history(old, 4, 4)...),
			"want version 2":            append(append([]es.EventRecord{}, ok[0]), ok[2]),
			"want version 1":            history(newID(), 2, 3),
			"no event type":             func() []es.EventRecord { e := history(newID(), 1, 1); e[0].Type = ""; return e }(),
			"no stream type":            func() []es.EventRecord { e := history(newID(), 1, 1); e[0].StreamType = ""; return e }(),
			"not valid JSON":            func() []es.EventRecord { e := history(newID(), 1, 1); e[0].Data = []byte("{"); return e }(),
			"schemas start at 1":        func() []es.EventRecord { e := history(newID(), 1, 1); e[0].Schema = 0; return e }(),
			"the stored stream is a":    func() []es.EventRecord { e := history(old, 3, 3); e[0].StreamType = "test.Other"; return e }(),
			"earlier events of the str": func() []es.EventRecord { e := history(newID(), 1, 2); e[1].StreamType = "x"; return e }(),
		}
		for msg, evs := range cases {
			n, err := store.Import(ctx, append(history(newID(), 1, 2), evs...))
			Expect(err).To(MatchError(ContainSubstring(msg)), msg)
			Expect(err).To(MatchError(ContainSubstring("stream ")), msg)
			Expect(n).To(BeZero())
		}
		_, err := store.StreamInfo(ctx, fresh)
		Expect(err).To(MatchError(es.ErrAggregateNotFound))
		Expect(store.StreamInfo(ctx, old)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 2}))
	})
})
