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
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// blogDeployment is the blog on a fresh pgtest database whose post_records were
// built by the inline PostProjector; store rebuilds in chunks of chunk events.
type blogDeployment struct {
	store    *pgstore.Store
	reg      *es.Registry
	chunk    int
	expected []blog.PostRecord // what the inline projector made
	events   int64
}

func deployBlog(ctx context.Context, chunk, posts int) *blogDeployment {
	_, err := pgtest.Store(ctx) // an empty database
	Expect(err).NotTo(HaveOccurred())
	pool, err := pgtest.Pool(ctx)
	Expect(err).NotTo(HaveOccurred())
	store, err := pgstore.New(pool, pgtest.Config())
	Expect(err).NotTo(HaveOccurred())
	d := &blogDeployment{store: store, reg: es.NewRegistry(), chunk: chunk}
	blog.Register(d.reg)
	svc, err := es.NewCommandService(ctx, d.reg, d.store, es.Options{})
	Expect(err).NotTo(HaveOccurred())
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]uuid.UUID, posts)
	for i := range ids {
		ids[i] = uuid.New()
		Expect(svc.Execute(ctx, blog.AddPost{PostID: ids[i], Author: fmt.Sprintf("author %d", i%7),
			Title: fmt.Sprintf("post %d", i), Content: "text"})).To(estest.Committed())
	}
	for i := range posts {
		id := ids[rng.IntN(len(ids))]
		Expect(svc.Execute(ctx, blog.ChangePostTitle{PostID: id, Title: fmt.Sprintf("title %d", i)})).To(estest.Committed())
		if i%3 == 0 {
			_, _ = svc.Execute(ctx, blog.PublishPost{PostID: ids[i]}) // the workflow notifies the author
		}
	}
	d.expected = d.rows(ctx)
	Expect(d.expected).To(HaveLen(posts))
	// Mark the tables as built by version 1 of the projector, then add drift that
	// a rebuild must undo.
	Expect(d.store.Lease(ctx, "post_projector", "v1", time.Minute)).To(BeTrue())
	Expect(d.store.Advance(ctx, "post_projector", "v1", es.Cursor{}, 1, func(context.Context, es.Persistor) error { return nil })).To(Succeed())
	Expect(d.store.Release(ctx, "post_projector", "v1")).To(Succeed())
	Expect(blog.PostRecords.Upsert(ctx, d.store.Views(), blog.PostRecord{AggregateID: uuid.New(), Title: "drift"})).To(Succeed())
	Expect(pool.QueryRow(ctx, "SELECT count(*) FROM consequent.events").Scan(&d.events)).To(Succeed())
	// A transaction elsewhere on the server (another spec process's) can hold the
	// log's watermark back: wait until the whole history can be read, so that a
	// rebuild replays it instead of finding nothing yet.
	Eventually(ctx, func(ctx context.Context) (int, error) {
		recs, err := d.store.ReadLog(ctx, es.Cursor{}, 0)
		return len(recs), err
	}).Should(BeEquivalentTo(d.events), "the watermark passes the blog's history")
	return d
}

func (d *blogDeployment) rows(ctx context.Context) []blog.PostRecord {
	rows, err := blog.PostRecords.Find(ctx, d.store.Views(), nil)
	Expect(err).NotTo(HaveOccurred())
	return rows
}

// worker deploys version 2 of the PostProjector, async.
func (d *blogDeployment) worker(progress func(es.RebuildProgress)) *es.ProjectionWorker {
	w, err := es.NewProjectionWorker(d.reg, d.store, es.WorkerOptions{Owner: "v2", Progress: progress, RebuildChunk: d.chunk,
		Projectors: []*es.Projector{blog.NewPostProjector().Async().Versioned(2)}})
	Expect(err).NotTo(HaveOccurred())
	return w
}

func (d *blogDeployment) names(ctx context.Context, sql string) []string {
	pool, err := pgtest.Pool(ctx)
	Expect(err).NotTo(HaveOccurred())
	rows, err := pool.Query(ctx, sql)
	Expect(err).NotTo(HaveOccurred())
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	Expect(err).NotTo(HaveOccurred())
	return names
}

var _ = Describe("rebuilding an async projector on PostgreSQL", Label(pgtest.Label), func() {
	It("fills shadow tables from the whole log and swaps them in, while the old tables serve", func(ctx SpecContext) {
		d := deployBlog(ctx, 50, 150)
		var (
			mu       sync.Mutex
			reports  []es.RebuildProgress
			reads    atomic.Int64
			readErrs atomic.Int64
			sawDrift atomic.Bool
			swapped  atomic.Bool
		)
		reading, stopReading := context.WithCancel(ctx)
		var reader sync.WaitGroup
		reader.Go(func() { // the service keeps reading post_records throughout
			for reading.Err() == nil {
				rows, err := blog.PostRecords.Find(reading, d.store.Views(), nil)
				if err != nil {
					if reading.Err() == nil {
						readErrs.Add(1)
						GinkgoWriter.Println("read failed:", err)
					}
					continue
				}
				reads.Add(1)
				for _, r := range rows {
					if r.Title == "drift" && !swapped.Load() {
						sawDrift.Store(true)
					}
				}
			}
		})
		Eventually(sawDrift.Load).Should(BeTrue(), "the reader sees the old table before the rebuild starts")
		w := d.worker(func(p es.RebuildProgress) {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, p)
			if p.Phase == "done" {
				swapped.Store(true)
			}
		})
		Eventually(ctx, func(ctx context.Context) ([]blog.PostRecord, error) {
			return d.rows(ctx), w.CatchUp(ctx)
		}).Should(Equal(d.expected), "row for row what the inline projector made, without the drift")
		stopReading()
		reader.Wait()

		Expect(readErrs.Load()).To(BeZero(), "reads never failed")
		Expect(reads.Load()).To(BeNumerically(">", 1))
		Expect(sawDrift.Load()).To(BeTrue(), "the old table served until the swap")
		mu.Lock()
		defer mu.Unlock()
		var phases []string
		for _, p := range reports {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		}
		Expect(phases).To(Equal([]string{es.PhaseReplay, es.PhaseIndex, es.PhaseCatchUp, es.PhaseSwap, es.PhaseDone}))
		last := reports[len(reports)-1]
		// The rows above prove the whole log was applied; the rebuild itself may have
		// left the last events to the worker, when a transaction elsewhere on the
		// server held the watermark back.
		Expect(last.Done).To(BeNumerically(">", 0))
		Expect(last.Done).To(BeNumerically("<=", d.events))
		Expect(last.Total).To(BeNumerically(">=", last.Done))
		Expect(last.Rate).To(BeNumerically(">", 0))
		AddReportEntry("rebuild of the blog's data", fmt.Sprintf("%d events, %.0f events/s", last.Done, last.Rate))

		st, err := d.store.Projection(ctx, "post_projector")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Version).To(Equal(2))
		Expect(d.names(ctx, `SELECT indexname::text FROM pg_indexes WHERE schemaname = 'consequent_views' AND tablename = 'post_records' ORDER BY 1`)).
			To(Equal([]string{"post_records_author_idx", "post_records_pkey"}), "indexes keep their names")
		Expect(d.names(ctx, `SELECT tablename::text FROM pg_tables WHERE schemaname = 'consequent_views' AND tablename LIKE '%rebuild%'`)).
			To(BeEmpty(), "no shadow table is left")
		Expect(d.names(ctx, `SELECT projector FROM consequent.rebuilds`)).To(BeEmpty())
	})

	It("resumes an interrupted rebuild from its recorded cursor", func(ctx SpecContext) {
		d := deployBlog(ctx, 40, 100)
		first, cancel := context.WithCancel(ctx)
		var firstRun []es.RebuildProgress
		w := d.worker(func(p es.RebuildProgress) {
			firstRun = append(firstRun, p)
			if p.Done > 0 { // a transaction elsewhere on the server may hold back the first read
				cancel() // interrupted after the first chunk
			}
		})
		Expect(w.CatchUp(first)).NotTo(Succeed())
		done := firstRun[len(firstRun)-1].Done
		Expect(done).To(BeNumerically(">", 0))
		Expect(done).To(BeNumerically("<=", 40), "one chunk")
		Expect(d.names(ctx, `SELECT projector || ' ' || done FROM consequent.rebuilds`)).To(Equal([]string{fmt.Sprintf("post_projector %d", done)}))
		Expect(d.rows(ctx)).To(ContainElement(HaveField("Title", "drift")), "the old table still serves")

		var secondRun []es.RebuildProgress
		w = d.worker(func(p es.RebuildProgress) { secondRun = append(secondRun, p) })
		Eventually(ctx, func(ctx context.Context) ([]blog.PostRecord, error) {
			return d.rows(ctx), w.CatchUp(ctx)
		}).Should(Equal(d.expected))
		Expect(secondRun[0].Phase).To(Equal("replay"))
		Expect(secondRun[0].Done).To(BeNumerically(">=", done), "the second run goes on from the first run's chunk")
		Expect(secondRun[0].Done).To(BeNumerically("<=", done+40), "…rather than starting again")
	})

	It("stops with a failure, without hanging, when an event that arrives during the swap fails", func(ctx SpecContext) {
		d := deployBlog(ctx, 50, 20)
		bad := newID()
		w := d.worker(func(p es.RebuildProgress) {
			if p.Phase != "swap" {
				return
			}
			// An event the projector cannot decode, committed just before the swap and
			// waited for, so that the swap's last read of the log meets it.
			c := commitOf(stream(bad, 0, 1))
			c.Streams[0].Events[0].Type = "blog.PostTitleChanged" // a type it reads, with a payload it cannot decode
			c.Streams[0].Events[0].Data = []byte(`{"title": 5}`)
			Expect(d.store.Commit(ctx, c, nil)).To(Succeed())
			Eventually(ctx, func(ctx context.Context) (bool, error) {
				recs, err := d.store.ReadLog(ctx, es.Cursor{}, 0)
				for _, r := range recs {
					if r.StreamID == bad {
						return true, err
					}
				}
				return false, err
			}).Should(BeTrue())
		})
		done := make(chan error, 1)
		go func() { done <- w.CatchUp(ctx) }()
		var err error
		Eventually(ctx, done).WithTimeout(20*time.Second).Should(Receive(&err), "the rebuild returns")
		var failure *es.ProjectionFailure
		Expect(errors.As(err, &failure)).To(BeTrue(), "a projection failure: %v", err)
		Expect(failure.StreamID).To(Equal(bad))
		st, err := d.store.Projection(ctx, "post_projector")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Version).To(Equal(1), "the old tables stay in place")
		rb, ok, err := d.store.Rebuild(ctx, "post_projector")
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue(), "the rebuild is recorded, to resume")
		Expect(rb.Error).To(ContainSubstring("blog.PostTitleChanged of stream " + bad.String()))
	})

	It("leaves the shadow tables of the lease's holder alone when another process opens the rebuild", func(ctx SpecContext) {
		d := deployBlog(ctx, 40, 100)
		pool, err := pgtest.Pool(ctx)
		Expect(err).NotTo(HaveOccurred())
		shadowRows := func() (n int64) {
			Expect(pool.QueryRow(ctx, "SELECT count(*) FROM consequent_views.post_records__rebuild").Scan(&n)).To(Succeed())
			return n
		}
		// B rebuilds to version 3 and is interrupted after its first chunk.
		first, cancel := context.WithCancel(ctx)
		wB, err := es.NewProjectionWorker(d.reg, d.store, es.WorkerOptions{Owner: "B", RebuildChunk: 40,
			Projectors: []*es.Projector{blog.NewPostProjector().Async().Versioned(3)},
			Progress: func(p es.RebuildProgress) {
				if p.Done > 0 { // a transaction elsewhere on the server may hold back the first read
					cancel()
				}
			}})
		Expect(err).NotTo(HaveOccurred())
		Expect(wB.CatchUp(first)).NotTo(Succeed())
		progress := d.names(ctx, `SELECT version || ' ' || done FROM consequent.rebuilds`)
		Expect(progress).To(ConsistOf(MatchRegexp(`^3 [1-9][0-9]*$`)), "B recorded its first chunk")
		rows := shadowRows()
		Expect(rows).To(BeNumerically(">", 0))

		// B holds the lease again; A, deployed with version 2, opens the rebuild.
		Expect(d.store.Lease(ctx, "post_projector#rebuild", "B", time.Minute)).To(BeTrue())
		_, err = d.store.OpenRebuild(ctx, es.RebuildSpec{Projector: "post_projector", Version: 2,
			Tables: []es.TableDef{blog.PostRecords.Def()}, Lease: "post_projector#rebuild", Owner: "A"})
		Expect(err).To(MatchError(es.ErrLeaseLost))
		Expect(d.names(ctx, `SELECT version || ' ' || done FROM consequent.rebuilds`)).To(Equal(progress),
			"B's rebuild is still recorded")
		Expect(shadowRows()).To(Equal(rows), "B's shadow table is intact")
	})

	It("rebuilds a larger log at a measured rate", func(ctx SpecContext) {
		d := deployBlog(ctx, 10000, 10)
		// Bulk-load a long history: posts with title changes.
		var events []es.EventRecord
		const posts, changes = 4000, 9
		for range posts {
			id := uuid.New()
			ev := func(v int64, typ, data string) es.EventRecord {
				return es.EventRecord{StreamID: id, StreamType: "blog.Post", Version: v, Type: typ, Schema: 1,
					Data: []byte(data), Meta: es.Meta{Time: time.Now()}}
			}
			events = append(events, ev(1, "blog.PostAdded", `{}`), ev(2, "blog.PostAuthorChanged", `{"author":"ann"}`))
			for c := range changes {
				events = append(events, ev(int64(3+c), "blog.PostTitleChanged", fmt.Sprintf(`{"title":"t%d"}`, c)))
			}
		}
		_, err := d.store.Import(ctx, events)
		Expect(err).NotTo(HaveOccurred())
		var last es.RebuildProgress
		w := d.worker(func(p es.RebuildProgress) { last = p })
		started := time.Now()
		Eventually(ctx, func(ctx context.Context) (int, error) {
			return len(d.rows(ctx)), w.CatchUp(ctx)
		}).Should(Equal(posts + 10))
		AddReportEntry("rebuild rate", fmt.Sprintf("%d events (%d rows) in %v: %.0f events/s", last.Done, posts+10,
			time.Since(started).Round(time.Millisecond), last.Rate))
	})
})
