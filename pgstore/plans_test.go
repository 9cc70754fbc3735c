package pgstore_test

import (
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Query plans on a new store", Label("integration"), func() {
	BeforeEach(requireDB)

	// Plans made while the tables are empty are kept per connection: a plan
	// that scans a whole table gets slower with every event (see migration 003).
	It("never scans the streams, events or unique keys sequentially when committing, loading and deleting", func(ctx SpecContext) {
		p, drop := newDatabase(ctx)
		DeferCleanup(drop)
		Expect(pgstore.Migrate(ctx, p, pgstore.Config{})).To(Succeed())
		s := pgstore.New(p, pgstore.Config{})

		const writers, perWriter = 4, 50 // more than the 5 custom plans before a generic one
		var wg sync.WaitGroup
		done := make(chan struct{})
		followed := make(chan int)
		go func() { // follows the log as a projection worker does, from the first commit on
			defer GinkgoRecover()
			var at es.Cursor
			n := 0
			for {
				recs, err := s.ReadLog(ctx, at, 20)
				Expect(err).NotTo(HaveOccurred())
				if len(recs) > 0 {
					at, n = recs[len(recs)-1].Cursor(), n+len(recs)
					continue
				}
				select {
				case <-done:
					followed <- n
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()
		for range writers {
			wg.Go(func() {
				defer GinkgoRecover()
				for range perWriter {
					id := newID()
					c := commitOf(stream(id, 0, 2))
					c.Streams[0].UniqueKeys = []es.UniqueKey{{Scope: "email", Key: id.String()}}
					Expect(s.Commit(ctx, c, nil)).To(Succeed())
					Expect(s.Commit(ctx, commitOf(stream(id, 2, 1)), nil)).To(Succeed())
					Expect(s.LoadStream(ctx, id, es.StreamQuery{FromVersion: 2})).To(HaveLen(2))
					Expect(s.StreamInfo(ctx, id)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 3}))
					Expect(s.LoadSnapshot(ctx, id, 1, 0)).To(BeNil())
					Expect(s.Commands(ctx, c.Command.ID)).To(HaveLen(1))
				}
			})
		}
		wg.Wait()
		Eventually(func() []es.EventRecord {
			recs, _ := s.ReadLog(ctx, es.Cursor{}, 1)
			return recs
		}).ShouldNot(BeEmpty())
		close(done)
		Expect(<-followed).To(BeNumerically(">", 0))
		for range 10 {
			id := newID()
			Expect(s.Commit(ctx, commitOf(stream(id, 0, 1)), nil)).To(Succeed())
			Expect(s.DeleteStream(ctx, id)).To(Succeed())
		}

		// Backends report their statistics shortly after their transactions end.
		scans := func(g Gomega) map[string]int64 {
			rows, err := p.Query(ctx, `SELECT relname, seq_scan, n_tup_ins FROM pg_stat_user_tables
				WHERE schemaname = 'consequent' AND relname IN ('streams', 'events', 'unique_keys', 'snapshots', 'commands')`)
			g.Expect(err).NotTo(HaveOccurred())
			out := map[string]int64{}
			inserted := map[string]int64{}
			for rows.Next() {
				var name string
				var seq, ins int64
				g.Expect(rows.Scan(&name, &seq, &ins)).To(Succeed())
				out[name], inserted[name] = seq, ins
			}
			g.Expect(rows.Err()).NotTo(HaveOccurred())
			g.Expect(inserted).To(HaveKeyWithValue("events", BeNumerically(">=", writers*perWriter*3+10)))
			return out
		}
		// The migration's index builds scan each table once per index: streams,
		// snapshots and commands have one, events and unique_keys two. A plan
		// that scans would add one per call.
		Eventually(scans).Should(Equal(map[string]int64{"streams": 1, "events": 2, "unique_keys": 2, "snapshots": 1, "commands": 1}))
	})
})
