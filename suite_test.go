package consequent_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/api"
	"github.com/consequent/consequent/examples/blog/blog"
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
	})
	Describe("on PostgreSQL", Label(pgtest.Label), func() {
		blogAcceptance(pgtest.Backend)
	})
})

// blogAcceptance drives the blog through its HTTP API, as a client would, on a
// store made by backend; the same steps run on every backend.
func blogAcceptance(backend estest.Backend) {
	Describe("a blogger's first day", Ordered, func() {
		var (
			svc    *es.CommandService
			server *httptest.Server
			postID string
		)

		BeforeAll(func(ctx SpecContext) {
			slog.SetDefault(slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
			store, err := backend(ctx)
			Expect(err).NotTo(HaveOccurred())
			reg := es.NewRegistry()
			blog.Register(reg)
			svc, err = es.NewCommandService(ctx, reg, store, es.Options{})
			Expect(err).NotTo(HaveOccurred())
			server = httptest.NewServer(api.NewServer(svc))
			DeferCleanup(server.Close)
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

		It("publishes it", func() {
			var post map[string]any
			Expect(call("POST", "/posts/"+postID+"/publish", nil, &post)).To(Equal(http.StatusOK))
			Expect(post).To(HaveKey("published_at"))
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
	})
}
