package consequent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/api"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
)

func TestAcceptance(t *testing.T) {
	RegisterFailHandler(Fail)
	defer pgtest.Close()
	RunSpecs(t, "Consequent acceptance")
}

var _ = Describe("the blog, end to end", func() {
	Describe("on the in-memory store", func() {
		blogAcceptance(estest.Memory)
		readModelDeploy(estest.Memory, sameStore)
	})
	Describe("on PostgreSQL", Label(pgtest.Label), func() {
		blogAcceptance(pgtest.Backend)
		readModelDeploy(pgtest.Backend, pgProcess)
	})
})

// blogAcceptance drives the blog through its HTTP API, as a client would, on a
// store made by backend; the same steps run on every backend.
func blogAcceptance(backend estest.Backend) {
	Describe("a blogger's first day", Ordered, func() {
		var (
			svc    *es.CommandService
			worker *es.ProjectionWorker
			clock  *es.ManualClock
			server *httptest.Server
			postID string
		)

		BeforeAll(func(ctx SpecContext) {
			slog.SetDefault(slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
			store, err := backend(ctx)
			Expect(err).NotTo(HaveOccurred())
			reg := es.NewRegistry()
			blog.Register(reg)
			clock = es.NewManualClock(time.Now().UTC())
			svc, err = es.NewCommandService(ctx, reg, store, es.Options{Clock: clock})
			Expect(err).NotTo(HaveOccurred())
			server = httptest.NewServer(api.NewServer(svc))
			DeferCleanup(server.Close)
			// The worker runs the durable publication workflow and the reminders.
			worker, err = es.NewProjectionWorker(reg, store, es.WorkerOptions{Service: svc, PollMax: 100 * time.Millisecond})
			Expect(err).NotTo(HaveOccurred())
			workerCtx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = worker.Run(workerCtx) }()
			DeferCleanup(func() { stop(); <-done })
		})

		// call sends a request as user ben and decodes the JSON answer into out
		// (when non-nil); it returns the status.
		call := func(method, path string, body any, out any) int {
			GinkgoHelper()
			var in io.Reader
			if body != nil {
				b, err := json.Marshal(body)
				Expect(err).NotTo(HaveOccurred())
				in = bytes.NewReader(b)
			}
			req, err := http.NewRequest(method, server.URL+path, in)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-User-ID", "ben")
			resp, err := server.Client().Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
			if out != nil {
				Expect(json.NewDecoder(resp.Body).Decode(out)).To(Succeed())
			}
			return resp.StatusCode
		}
		type problem struct {
			Error  string
			Fields map[string][]string
		}

		It("registers an author", func() {
			var created struct{ ID string }
			Expect(call("POST", "/authors", map[string]string{"name": "Ben", "email": "ben@example.com"}, &created)).
				To(Equal(http.StatusCreated))
			Expect(created.ID).NotTo(BeEmpty())
		})

		It("refuses a second author with the same email address, in any case", func() {
			var p problem
			Expect(call("POST", "/authors", map[string]string{"name": "Benjamin", "email": "Ben@Example.com"}, &p)).
				To(Equal(http.StatusConflict))
			Expect(p.Fields).To(Equal(map[string][]string{"email": {"is already taken"}}))
		})

		It("refuses a post with blank fields, naming each", func() {
			var p problem
			Expect(call("POST", "/posts", map[string]string{"author": "ben", "title": " "}, &p)).
				To(Equal(http.StatusUnprocessableEntity))
			Expect(p.Fields).To(Equal(map[string][]string{"title": {"can't be blank"}, "content": {"can't be blank"}}))
		})

		It("adds a post", func() {
			var created struct{ ID string }
			Expect(call("POST", "/posts", map[string]string{"author": "ben", "title": "My first blogpost", "content": "Hello World!"}, &created)).
				To(Equal(http.StatusCreated))
			postID = created.ID
		})

		It("has scheduled a reminder to its author for a week later", func(ctx SpecContext) {
			sched, err := svc.ScheduledCommands(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(sched).To(HaveExactElements(And(
				HaveField("At", BeTemporally("~", clock.Now().Add(blog.ReminderDelay), time.Second)),
				HaveField("Command", HaveField("PostID", uuid.MustParse(postID))))))
		})

		It("publishes it", func() {
			var done struct {
				Events []struct{ Type string }
				Post   map[string]any
			}
			Expect(call("POST", "/posts/"+postID+"/publish", nil, &done)).To(Equal(http.StatusOK))
			Expect(done.Events).To(HaveExactElements(HaveField("Type", "blog.PostPublished")))
			Expect(done.Post).To(HaveKey("published_at"))
		})

		It("has cancelled the reminder by publishing", func(ctx SpecContext) {
			Expect(svc.ScheduledCommands(ctx)).To(BeEmpty())
		})

		It("refuses to publish it twice", func() {
			var p problem
			Expect(call("POST", "/posts/"+postID+"/publish", nil, &p)).To(Equal(http.StatusConflict))
			Expect(p.Error).To(Equal("post is already published"))
		})

		It("lists it and shows it", func() {
			var posts []map[string]any
			Expect(call("GET", "/posts", nil, &posts)).To(Equal(http.StatusOK))
			Expect(posts).To(HaveExactElements(And(
				HaveKeyWithValue("id", postID),
				HaveKeyWithValue("title", "My first blogpost"),
				HaveKey("published_at"))))

			var post map[string]any
			Expect(call("GET", "/posts/"+postID, nil, &post)).To(Equal(http.StatusOK))
			Expect(post).To(Equal(posts[0]))

			Expect(call("GET", "/posts/00000000-0000-0000-0000-000000000000", nil, nil)).To(Equal(http.StatusNotFound))
		})

		It("tells its history: every event, with the command and user behind it", func() {
			var history []struct {
				Type    string
				Version int
				Payload map[string]any
				Command struct {
					Type string
					User string
				}
			}
			Expect(call("GET", "/posts/"+postID+"/events", nil, &history)).To(Equal(http.StatusOK))
			type step struct{ Event, Command, User string }
			var steps []step
			for i, e := range history {
				Expect(e.Version).To(Equal(i + 1))
				steps = append(steps, step{e.Type, e.Command.Type, e.Command.User})
			}
			Expect(steps).To(Equal([]step{
				{"blog.PostAdded", "blog.AddPost", "ben"},
				{"blog.PostAuthorChanged", "blog.AddPost", "ben"},
				{"blog.PostTitleChanged", "blog.AddPost", "ben"},
				{"blog.PostContentChanged", "blog.AddPost", "ben"},
				{"blog.PostPublished", "blog.PublishPost", "ben"},
			}))
			Expect(history[2].Payload).To(Equal(map[string]any{"title": "My first blogpost"}))
		})

		It("has notified the author, through the publication workflow", func(ctx SpecContext) {
			// The global log shows a commit once no older transaction is in flight
			// on the server (see es.EventStore.ReadLog), so on PostgreSQL it may lag.
			var notified []es.Envelope
			var published es.Envelope
			Eventually(func(g Gomega) {
				log, err := svc.Store().ReadLog(ctx, es.Cursor{}, 1000)
				g.Expect(err).NotTo(HaveOccurred())
				notified = nil
				for _, rec := range log {
					env, err := svc.Registry().Decode(rec)
					g.Expect(err).NotTo(HaveOccurred())
					switch env.Event.(type) {
					case blog.NotificationQueued:
						notified = append(notified, env)
					case blog.PostPublished:
						published = env
					}
				}
				g.Expect(notified).To(HaveLen(1))
			}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
			Expect(notified[0].Event).To(Equal(blog.NotificationQueued{
				PostID: postID, To: "ben", Message: `Your post "My first blogpost" is published.`}))

			By("linking the workflow's command to the event that caused it")
			cmds, err := svc.Store().Commands(ctx, notified[0].CommandID)
			Expect(err).NotTo(HaveOccurred())
			Expect(cmds).To(HaveExactElements(And(
				HaveField("Type", "blog.NotifyAuthor"),
				HaveField("CausationID", published.ID),
				HaveField("CorrelationID", published.CorrelationID),
				HaveField("UserID", "ben"))))
		})

		It("reminds the author of a post left unpublished for a week", func(ctx SpecContext) {
			var created struct{ ID string }
			Expect(call("POST", "/posts", map[string]string{"author": "ben", "title": "A draft", "content": "Later."}, &created)).
				To(Equal(http.StatusCreated))
			clock.Advance(blog.ReminderDelay + time.Second)
			worker.Notify()
			Eventually(func(g Gomega) {
				log, err := svc.Store().ReadLog(ctx, es.Cursor{}, 1000)
				g.Expect(err).NotTo(HaveOccurred())
				var reminders []any
				for _, rec := range log {
					env, err := svc.Registry().Decode(rec)
					g.Expect(err).NotTo(HaveOccurred())
					if n, ok := env.Event.(blog.NotificationQueued); ok && n.PostID == created.ID {
						reminders = append(reminders, n)
					}
				}
				g.Expect(reminders).To(HaveExactElements(blog.NotificationQueued{PostID: created.ID, To: "ben", Message: `Your post "A draft" is still unpublished.`}))
			}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
			Expect(svc.ScheduledCommands(ctx)).To(BeEmpty())
		})
	})
}

// anotherProcess returns the store another process of the same deployment opens
// on the data of store.
type anotherProcess func(ctx context.Context, store es.EventStore) (es.EventStore, error)

// sameStore: in memory, the processes of a deployment share the one store.
func sameStore(_ context.Context, store es.EventStore) (es.EventStore, error) { return store, nil }

// pgProcess: on PostgreSQL, another process has a pool and a pgstore of its own
// on the same database.
func pgProcess(ctx context.Context, _ es.EventStore) (es.EventStore, error) {
	db, err := pgtest.Open(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, db.DSN)
	if err != nil {
		return nil, err
	}
	DeferCleanup(pool.Close)
	return pgstore.New(pool, pgtest.Config())
}

// apiClient sends requests to one blog server, from any goroutine.
type apiClient struct {
	name string
	srv  *httptest.Server
}

// do sends method path with body as JSON and decodes a 2xx answer into out
// (when non-nil); it returns the status.
func (c apiClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.srv.URL+path, in)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s on %s: %w: %s", method, path, c.name, err, b)
		}
	}
	return resp.StatusCode, nil
}

// postJSON is a post as GET /posts answers it.
type postJSON struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Archived *bool  `json:"archived"` // absent from version 1's answers
}

// syncBuffer is a log that goroutines write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// readModelDeploy deploys version 2 of the post projector (blog.RegisterV2,
// which adds post_records.archived) over a database that version 1 built, as a
// rolling deploy does: a second API server runs version 2 on the same data while
// the first still runs version 1, and clients keep sending commands to both.
func readModelDeploy(backend estest.Backend, another anotherProcess) {
	It("deploys version 2 of the post projector over version 1's tables while commands run through the API", NodeTimeout(3*time.Minute), func(ctx SpecContext) {
		slog.SetDefault(slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
		store, err := backend(ctx)
		Expect(err).NotTo(HaveOccurred())
		regV1 := es.NewRegistry()
		blog.Register(regV1)
		svcV1, err := es.NewCommandService(ctx, regV1, store, es.Options{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(svcV1.Close)
		srvV1 := httptest.NewServer(api.NewServer(svcV1))
		DeferCleanup(srvV1.Close)
		v1 := apiClient{name: "v1", srv: srvV1}

		call := func(c apiClient, method, path string, body, out any) int {
			GinkgoHelper()
			status, err := c.do(ctx, method, path, body, out)
			Expect(err).NotTo(HaveOccurred())
			return status
		}
		addPost := func(c apiClient, author, title string) string {
			GinkgoHelper()
			var created struct{ ID string }
			Expect(call(c, "POST", "/posts", map[string]string{"author": author, "title": title, "content": "Hello"}, &created)).
				To(Equal(http.StatusCreated))
			return created.ID
		}
		getPost := func(c apiClient, id string) (postJSON, int) {
			GinkgoHelper()
			var p postJSON
			status := call(c, "GET", "/posts/"+id, nil, &p)
			return p, status
		}
		statusOf := func(reg *es.Registry) es.ProjectorStatus {
			GinkgoHelper()
			all, err := es.ReadModelStatus(ctx, reg, store)
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(1))
			return all[0]
		}

		// want is every post as post_records must show it once version 2 serves.
		type wanted struct {
			title    string
			archived bool
		}
		var (
			mu   sync.Mutex
			want = map[string]wanted{}
		)
		expect := func(id, title string, archived bool) {
			mu.Lock()
			defer mu.Unlock()
			want[id] = wanted{title, archived}
		}

		By("running version 1 with authors and posts")
		for _, a := range []map[string]string{{"name": "Ben", "email": "ben@example.com"}, {"name": "Kim", "email": "kim@example.com"}} {
			Expect(call(v1, "POST", "/authors", a, nil)).To(Equal(http.StatusCreated))
		}
		for i := range 12 {
			author := []string{"ben", "kim"}[i%2]
			title := fmt.Sprintf("%s's post %d", author, i)
			id := addPost(v1, author, title)
			if i%3 == 0 {
				Expect(call(v1, "POST", "/posts/"+id+"/publish", nil, nil)).To(Equal(http.StatusOK))
			}
			archived := i%4 == 1
			if archived { // recorded, but version 1's post_records has no column for it
				var done struct{ Post postJSON }
				Expect(call(v1, "POST", "/posts/"+id+"/archive", nil, &done)).To(Equal(http.StatusOK))
				Expect(done.Post.Archived).To(BeNil())
			}
			expect(id, title, archived)
		}
		Expect(statusOf(regV1)).To(And(HaveField("Serving", 1), HaveField("Phase", es.PhaseServing)))

		By("starting version 2 on the same data: it starts, and rebuilds in the background")
		storeV2, err := another(ctx, store)
		Expect(err).NotTo(HaveOccurred())
		regV2 := es.NewRegistry()
		blog.RegisterV2(regV2)
		var (
			logs     syncBuffer
			v1Writes sync.RWMutex // held shared by each write through version 1
			v1Closed atomic.Bool  // set as the swap begins: writes go to version 2 only
			swapped  atomic.Bool  // set once the new tables serve
			phasesMu sync.Mutex
			phases   []string
			last     es.RebuildProgress
		)
		replaying, resume := make(chan struct{}), make(chan struct{})
		release := sync.OnceFunc(func() { close(resume) })
		var atReplay, atSwap sync.Once
		svcV2, err := es.NewCommandService(ctx, regV2, storeV2, es.Options{
			Logger:       slog.New(slog.NewTextHandler(io.MultiWriter(&logs, GinkgoWriter), nil)),
			RebuildChunk: 10,                     // several writes to the shadow tables, as a big log would take
			RepairAfter:  200 * time.Millisecond, // (default 10s)
			RebuildProgress: func(p es.RebuildProgress) {
				phasesMu.Lock()
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
				last = p
				phasesMu.Unlock()
				switch p.Phase {
				case es.PhaseReplay: // hold the rebuild until commands ran on both versions
					atReplay.Do(func() { close(replaying); <-resume })
				case es.PhaseSwap: // from now on clients go to version 2; wait for the writes in flight on version 1
					atSwap.Do(func() { v1Closed.Store(true); v1Writes.Lock(); v1Writes.Unlock() })
				case es.PhaseDone:
					swapped.Store(true)
				}
			},
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(svcV2.Close)
		DeferCleanup(release) // before Close, should the spec fail while the rebuild waits
		srvV2 := httptest.NewServer(api.NewServer(svcV2))
		DeferCleanup(srvV2.Close)
		v2 := apiClient{name: "v2", srv: srvV2}
		Eventually(replaying).WithContext(ctx).Should(BeClosed())

		By("serving reads from version 1's tables while version 2 is rebuilt")
		st := statusOf(regV2)
		// Total counts the log below its watermark: on PostgreSQL, transactions
		// in flight anywhere on the server may hold it back for a moment.
		Expect(st).To(And(HaveField("Serving", 1), HaveField("Building", 2), HaveField("Phase", es.PhaseReplay),
			HaveField("Stale", true)))
		var listed []postJSON
		Expect(call(v2, "GET", "/posts", nil, &listed)).To(Equal(http.StatusOK))
		Expect(listed).To(HaveLen(12))
		Expect(listed).To(HaveEach(HaveField("Archived", HaveValue(BeFalse()))), "the live table has no archived column yet: it reads as false")

		By("showing version 1's commands at once, and version 2's only after the swap")
		fromV1 := addPost(v1, "ben", "written by version 1 during the rebuild")
		_, status := getPost(v1, fromV1)
		Expect(status).To(Equal(http.StatusOK), "version 1 keeps its tables current")
		expect(fromV1, "written by version 1 during the rebuild", false)
		fromV2 := addPost(v2, "kim", "written by version 2 during the rebuild")
		_, status = getPost(v2, fromV2)
		Expect(status).To(Equal(http.StatusNotFound), "version 2 does not write version 1's tables: its commands show after the swap")
		expect(fromV2, "written by version 2 during the rebuild", false)

		By("sending commands to both versions from several clients while the rebuild runs and swaps")
		type outcome struct {
			server, op string
			status     int
			err        error
			beforeSwap bool
		}
		var (
			outcomesMu sync.Mutex
			outcomes   []outcome
			iterations atomic.Int64
			stop       atomic.Bool
			wg         sync.WaitGroup
		)
		record := func(c apiClient, op string, status int, err error, beforeSwap bool) {
			outcomesMu.Lock()
			defer outcomesMu.Unlock()
			outcomes = append(outcomes, outcome{c.name, op, status, err, beforeSwap})
		}
		write := func(c apiClient, n, i int) {
			title := fmt.Sprintf("client %d post %d via %s", n, i, c.name)
			before := !swapped.Load()
			var created struct{ ID string }
			status, err := c.do(ctx, "POST", "/posts", map[string]string{"author": "ben", "title": title, "content": "x"}, &created)
			record(c, "add", status, err, before)
			if status != http.StatusCreated {
				return
			}
			expect(created.ID, title, false)
			edited := title + " (edited)"
			before = !swapped.Load()
			status, err = c.do(ctx, "PUT", "/posts/"+created.ID+"/title", map[string]string{"title": edited}, nil)
			record(c, "change title", status, err, before)
			if err == nil && (status == http.StatusOK || status == http.StatusNotFound) { // stored; see the checks below
				expect(created.ID, edited, false)
			}
			if i%3 == 0 {
				before = !swapped.Load()
				status, err = c.do(ctx, "POST", "/posts/"+created.ID+"/archive", nil, nil)
				record(c, "archive", status, err, before)
				if err == nil && (status == http.StatusOK || status == http.StatusNotFound) {
					expect(created.ID, edited, true)
				}
			}
		}
		for n := range 4 {
			wg.Go(func() {
				defer GinkgoRecover()
				for i := 0; !stop.Load() && ctx.Err() == nil; i++ {
					v1Writes.RLock()
					if !v1Closed.Load() && (n+i)%2 == 0 {
						write(v1, n, i)
						v1Writes.RUnlock()
					} else {
						v1Writes.RUnlock()
						write(v2, n, i)
					}
					iterations.Add(1)
				}
			})
		}
		var reads atomic.Int64
		wg.Go(func() { // a reader on each version
			defer GinkgoRecover()
			for i := 0; !stop.Load() && ctx.Err() == nil; i++ {
				c := []apiClient{v1, v2}[i%2]
				var posts []postJSON
				before := !swapped.Load()
				status, err := c.do(ctx, "GET", "/posts", nil, &posts)
				record(c, "list", status, err, before)
				reads.Add(1)
			}
		})
		DeferCleanup(func() { stop.Store(true); wg.Wait() })

		Eventually(iterations.Load).WithContext(ctx).Should(BeNumerically(">=", 12))
		release()
		Eventually(func(g Gomega) {
			all, err := es.ReadModelStatus(ctx, regV2, store)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(all).To(HaveExactElements(HaveField("Serving", 2)))
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		after := iterations.Load()
		Eventually(iterations.Load).WithContext(ctx).Should(BeNumerically(">=", after+8), "commands after the swap, written inline")
		stop.Store(true)
		wg.Wait()

		By("having answered every read, and every command but the reads of version 2's own rows before the swap")
		outcomesMu.Lock()
		var unexpected []outcome
		counts := map[string]int{}
		for _, o := range outcomes {
			counts[fmt.Sprintf("%s %s %d", o.server, o.op, o.status)]++
			gap := o.server == "v2" && o.beforeSwap && o.status == http.StatusNotFound && o.op != "add" && o.op != "list"
			if o.err != nil || (o.status/100 != 2 && !gap) {
				unexpected = append(unexpected, o)
			}
		}
		outcomesMu.Unlock()
		AddReportEntry("answers during the deploy", counts)
		Expect(unexpected).To(BeEmpty())
		Expect(counts).To(HaveKey("v1 list 200"))
		Expect(counts).To(HaveKey("v2 add 201"))
		Expect(reads.Load()).To(BeNumerically(">", 2))

		By("serving version 2: every post, those written during the rebuild included, with archived")
		Expect(statusOf(regV2)).To(And(HaveField("Serving", 2), HaveField("Building", 0),
			HaveField("Phase", es.PhaseServing), HaveField("Skipped", BeZero()), HaveField("Stale", false)))
		Expect(statusOf(regV1)).To(HaveField("Phase", es.PhaseSuperseded))
		listed = nil
		Expect(call(v2, "GET", "/posts", nil, &listed)).To(Equal(http.StatusOK))
		got := map[string]wanted{}
		for _, p := range listed {
			Expect(p.Archived).NotTo(BeNil(), "post %s", p.ID)
			got[p.ID] = wanted{p.Title, *p.Archived}
		}
		mu.Lock()
		Expect(got).To(Equal(want))
		mu.Unlock()
		Expect(got).To(HaveKey(fromV2))
		var old []postJSON
		Expect(call(v1, "GET", "/posts", nil, &old)).To(Equal(http.StatusOK), "version 1 reads the new table, without the column it does not know")
		Expect(old).To(HaveLen(len(listed)))
		Expect(old).To(HaveEach(HaveField("Archived", BeNil())))

		By("saying so in the log: one line per phase")
		phasesMu.Lock()
		Expect(phases).To(Equal([]string{es.PhaseReplay, es.PhaseIndex, es.PhaseCatchUp, es.PhaseSwap, es.PhaseDone}))
		Expect(last.Done).To(BeNumerically(">=", 4*12), "the events up to the swap: those of version 1's first posts at least")
		Expect(last.Total).To(Equal(last.Done))
		phasesMu.Unlock()
		rebuilding := regexp.MustCompile(`msg="rebuilding projector" projector=post_projector version=2 phase=(\S+)`)
		var logged []string
		for _, m := range rebuilding.FindAllStringSubmatch(logs.String(), -1) {
			logged = append(logged, m[1])
		}
		Expect(logged).To(Equal([]string{es.PhaseReplay, es.PhaseIndex, es.PhaseCatchUp, es.PhaseSwap, es.PhaseDone}))

		By("leaving version 2's tables alone in version 1, which still takes commands")
		late := addPost(v1, "ben", "written by version 1 after the swap")
		_, status = getPost(v2, late)
		Expect(status).To(Equal(http.StatusNotFound), "stored, but version 1 no longer writes the tables")
		var answered struct{ Post postJSON }
		Expect(call(v1, "PUT", "/posts/"+fromV1+"/title", map[string]string{"title": "retitled by version 1"}, &answered)).
			To(Equal(http.StatusOK))
		Expect(answered.Post.Title).To(Equal("written by version 1 during the rebuild"), "the row as version 2 left it")
		var history []struct{ Type string }
		Expect(call(v2, "GET", "/posts/"+late+"/events", nil, &history)).To(Equal(http.StatusOK))
		Expect(history).NotTo(BeEmpty())
		Expect(statusOf(regV2)).To(And(HaveField("Serving", 2), HaveField("Skipped", BeNumerically(">=", 2)), HaveField("Stale", true)),
			"version 1's commits since the swap are counted")

		By("rebuilding once version 1's commits have stopped, so that the tables hold them too")
		Eventually(func(g Gomega) {
			var p postJSON
			status, err := v2.do(ctx, "GET", "/posts/"+late, nil, &p)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(status).To(Equal(http.StatusOK))
			g.Expect(p.Title).To(Equal("written by version 1 after the swap"))
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		p, _ := getPost(v2, fromV1)
		Expect(p.Title).To(Equal("retitled by version 1"))
		Expect(logs.String()).To(ContainSubstring("processes of an older version committed without writing its tables"))
		Eventually(func() es.ProjectorStatus { return statusOf(regV2) }).WithContext(ctx).
			Should(And(HaveField("Serving", 2), HaveField("Skipped", BeZero()), HaveField("Stale", false), HaveField("Phase", es.PhaseServing)))

		Expect(svcV2.Close()).To(Succeed())
		Expect(svcV1.Close()).To(Succeed())
	})
}
