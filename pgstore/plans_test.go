package pgstore_test

import (
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Query plans on a new store", Label("integration"), func() {
	BeforeEach(requireDB)

	// Plans made while the tables are empty are kept per connection: a plan
	// that scans a whole table gets slower with every event (migrations 003, 004).
	It("never scans the store's tables sequentially when committing, loading, following and deleting", func(ctx SpecContext) {
		p, drop := newDatabase(ctx)
		DeferCleanup(drop)
		Expect(pgstore.Migrate(ctx, p, pgstore.Config{})).To(Succeed())
		tables := []string{"streams", "events", "unique_keys", "snapshots", "commands"}
		for _, t := range tables { // an ANALYZE of a still tiny table would make scans the right plans
			_, err := p.Exec(ctx, "ALTER TABLE consequent."+t+" SET (autovacuum_enabled = off)")
			Expect(err).NotTo(HaveOccurred())
		}
		s, err := pgstore.New(p, pgstore.Config{})
		Expect(err).NotTo(HaveOccurred())

		done := make(chan struct{})
		followed := make(chan int, 1)
		go func() { // follows the log as projection workers do, whole and by partition
			defer GinkgoRecover()
			n := 0
			defer func() { followed <- n }()
			var whole, part es.Cursor
			for {
				recs, err := s.ReadLog(ctx, whole, 20)
				Expect(err).NotTo(HaveOccurred())
				inPart, err := s.ReadPartition(ctx, part, 20, 1, 4)
				Expect(err).NotTo(HaveOccurred())
				if len(inPart) > 0 {
					part = inPart[len(inPart)-1].Cursor()
				}
				if len(recs) > 0 {
					whole, n = recs[len(recs)-1].Cursor(), n+len(recs)
					continue
				}
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()

		const writers, perWriter = 4, 50 // more than the 5 custom plans before a generic one
		finished := make(chan struct{}, writers)
		for range writers {
			go func() {
				defer GinkgoRecover()
				defer func() { finished <- struct{}{} }()
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
			}()
		}
		for range writers {
			<-finished
		}
		for range 10 {
			id := newID()
			Expect(s.Commit(ctx, commitOf(stream(id, 0, 1)), nil)).To(Succeed())
			Expect(s.DeleteStream(ctx, id)).To(Succeed())
		}
		Eventually(func() []es.EventRecord {
			recs, _ := s.ReadLog(ctx, es.Cursor{}, 1)
			return recs
		}).ShouldNot(BeEmpty())
		close(done)
		Expect(<-followed).To(BeNumerically(">", 0))

		// Backends report their statistics when they exit: close them all, then
		// count on a connection of its own.
		cfg := p.Config().ConnConfig.Copy()
		p.Close()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { _ = conn.Close(ctx) })
		scans := func(g Gomega) map[string]int64 {
			rows, err := conn.Query(ctx, `SELECT relname, seq_scan, n_tup_ins FROM pg_stat_user_tables
				WHERE schemaname = 'consequent' AND relname = ANY($1)`, tables)
			g.Expect(err).NotTo(HaveOccurred())
			defer rows.Close()
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
		// The migrations' index builds scan each table once per index: snapshots
		// have one, streams and unique_keys two, events three and commands five
		// (006 adds the browsing indexes). A plan that scans would add one per call.
		Eventually(scans).Should(Equal(map[string]int64{"streams": 2, "events": 3, "unique_keys": 2, "snapshots": 1, "commands": 5}))
	})
})
