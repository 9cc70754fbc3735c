package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/api"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/memstore"
)

// store wraps the in-memory store to make commits fail on demand.
type store struct {
	*memstore.Store
	failCommit func(c *es.Commit) error
}

func (s *store) Commit(ctx context.Context, c *es.Commit, inTx func(context.Context, es.Persistor) error) error {
	if s.failCommit != nil {
		if err := s.failCommit(c); err != nil {
			return err
		}
	}
	return s.Store.Commit(ctx, c, inTx)
}

// response is a reply as the specs look at it.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into a fresh value of type T.
func decodeAs[T any](r response) T {
	GinkgoHelper()
	var v T
	Expect(json.Unmarshal([]byte(r.Body), &v)).To(Succeed(), "body: %s", r.Body)
	return v
}

type problem struct {
	Error  string              `json:"error"`
	Fields map[string][]string `json:"fields"`
}

// executed is the answer to a command that was stored.
type executed struct {
	ID        string `json:"id"`
	CommandID string `json:"command_id"`
	Events    []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		StreamID string `json:"stream_id"`
		Version  int64  `json:"version"`
		Position int64  `json:"position"`
	} `json:"events"`
	FollowUpErrors []map[string]string `json:"follow_up_errors"`
	Post           map[string]any      `json:"post"`
}

var _ = Describe("the blog HTTP API", func() {
	var (
		st      *store
		handler http.Handler
	)

	// serve builds the service and its handler with the blog wired by register.
	serve := func(register func(*es.Registry)) {
		GinkgoHelper()
		reg := es.NewRegistry()
		register(reg)
		st = &store{Store: memstore.New()}
		svc, err := es.NewCommandService(context.Background(), reg, st, es.Options{
			Clock: es.NewManualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)),
			IDs:   new(es.SequentialIDs),
		})
		Expect(err).NotTo(HaveOccurred())
		handler = api.NewServer(svc)
	}

	BeforeEach(func() {
		slog.SetDefault(slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
		serve(blog.Register)
	})

	do := func(method, path, body string, header ...string) response {
		GinkgoHelper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		b, err := io.ReadAll(rec.Result().Body)
		Expect(err).NotTo(HaveOccurred())
		return response{Status: rec.Code, Header: rec.Header(), Body: string(b)}
	}
	addPost := func(title string) string {
		GinkgoHelper()
		r := do("POST", "/posts", `{"author":"ben","title":"`+title+`","content":"Hello World!"}`, "X-User-ID", "ben")
		Expect(r.Status).To(Equal(http.StatusCreated), r.Body)
		return decodeAs[executed](r).ID
	}

	Describe("POST /posts", func() {
		It("adds a post and answers 201 with its id, the event stored and the post", func() {
			r := do("POST", "/posts", `{"author":"ben","title":"My first blogpost","content":"Hello World!"}`)
			Expect(r.Status).To(Equal(http.StatusCreated))
			Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))
			done := decodeAs[executed](r)
			Expect(done.ID).To(MatchRegexp(`^[0-9a-f-]{36}$`))
			Expect(r.Header.Get("Location")).To(Equal("/posts/" + done.ID))
			Expect(done.CommandID).To(MatchRegexp(`^[0-9a-f-]{36}$`))
			Expect(done.Events).To(HaveLen(4))
			for i, e := range done.Events {
				Expect(e.Type).To(Equal([]string{"blog.PostAdded", "blog.PostAuthorChanged", "blog.PostTitleChanged", "blog.PostContentChanged"}[i]))
				Expect(e.StreamID).To(Equal(done.ID))
				Expect(e.Version).To(BeEquivalentTo(i + 1))
				Expect(e.Position).To(BeNumerically(">", 0))
				if i > 0 {
					Expect(e.Position).To(BeNumerically(">", done.Events[i-1].Position))
				}
			}
			Expect(done.FollowUpErrors).To(BeEmpty())
			Expect(r.Body).NotTo(ContainSubstring("follow_up_errors"))
			Expect(done.Post).To(HaveKeyWithValue("title", "My first blogpost"))
		})

		It("answers 422 naming every invalid field", func() {
			r := do("POST", "/posts", `{"author":" ","title":""}`)
			Expect(r.Status).To(Equal(http.StatusUnprocessableEntity))
			Expect(decodeAs[problem](r)).To(Equal(problem{Error: "invalid input", Fields: map[string][]string{
				"author":  {"can't be blank"},
				"title":   {"can't be blank"},
				"content": {"can't be blank"},
			}}))
		})

		DescribeTable("answers 400 saying what is wrong with the body",
			func(body string, want problem) {
				r := do("POST", "/posts", body)
				Expect(r.Status).To(Equal(http.StatusBadRequest))
				Expect(decodeAs[problem](r)).To(Equal(want))
			},
			Entry("empty", ``, problem{Error: "empty body: send a JSON object"}),
			Entry("cut short", `{"title":"x"`, problem{Error: "malformed JSON: the body ends too early"}),
			Entry("not JSON", `title=x`, problem{Error: "malformed JSON at byte 2: invalid character 'i' in literal true (expecting 'r')"}),
			Entry("not an object", `["x"]`, problem{Error: "malformed JSON: the body must be a JSON object, not an array"}),
			Entry("a wrong type", `{"title":42}`, problem{Error: "wrong type", Fields: map[string][]string{"title": {"must be a string, not a number"}}}),
			Entry("an unknown field", `{"titel":"x"}`, problem{Error: "unknown field", Fields: map[string][]string{"titel": {"is not a field of this request"}}}),
			Entry("trailing data", `{"title":"x"} {}`, problem{Error: "malformed JSON: the body must hold one JSON object and nothing after it"}),
		)

		It("answers 400 to a huge body", func() {
			r := do("POST", "/posts", `{"title":"`+strings.Repeat("x", 2<<20)+`"}`)
			Expect(r.Status).To(Equal(http.StatusBadRequest))
			Expect(decodeAs[problem](r).Error).To(Equal("body too large: at most 1048576 bytes"))
		})
	})

	Describe("GET /posts and /posts/{id}", func() {
		It("lists the posts from the post_records view", func() {
			first, second := addPost("One"), addPost("Two")
			Expect(do("POST", "/posts", `{"author":"kim","title":"Three","content":"x"}`).Status).To(Equal(http.StatusCreated))

			r := do("GET", "/posts", "")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(decodeAs[[]map[string]any](r)).To(HaveExactElements(
				HaveKeyWithValue("id", first), HaveKeyWithValue("id", second), HaveKeyWithValue("title", "Three")))

			r = do("GET", "/posts?author=ben", "")
			Expect(decodeAs[[]map[string]any](r)).To(HaveLen(2))
		})

		It("lists no posts as an empty array", func() {
			Expect(do("GET", "/posts", "").Body).To(Equal("[]\n"))
		})

		It("shows one post", func() {
			id := addPost("My first blogpost")
			r := do("GET", "/posts/"+id, "")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(decodeAs[map[string]any](r)).To(Equal(map[string]any{
				"id": id, "author": "ben", "title": "My first blogpost", "content": "Hello World!"}))
		})

		It("answers 404 for an unknown post", func() {
			r := do("GET", "/posts/00000000-0000-0000-0000-00000000ffff", "")
			Expect(r.Status).To(Equal(http.StatusNotFound))
			Expect(decodeAs[problem](r).Error).To(Equal("post not found"))
		})

		It("answers 400 for an id that is not a UUID", func() {
			r := do("GET", "/posts/42", "")
			Expect(r.Status).To(Equal(http.StatusBadRequest))
			Expect(decodeAs[problem](r).Fields).To(Equal(map[string][]string{"id": {"is not a UUID"}}))
		})
	})

	Describe("POST /posts/{id}/publish", func() {
		It("publishes the post and answers with the event stored and the post", func() {
			id := addPost("My first blogpost")
			r := do("POST", "/posts/"+id+"/publish", "")
			Expect(r.Status).To(Equal(http.StatusOK))
			done := decodeAs[executed](r)
			Expect(done.ID).To(Equal(id))
			Expect(done.Events).To(HaveLen(1))
			Expect(done.Events[0].Type).To(Equal("blog.PostPublished"))
			Expect(done.Events[0].Version).To(BeEquivalentTo(5))
			Expect(done.Post).To(HaveKeyWithValue("published_at", "2026-01-01T09:00:00Z"))
		})

		It("answers 409 when the post is published already", func() {
			id := addPost("My first blogpost")
			do("POST", "/posts/"+id+"/publish", "")
			r := do("POST", "/posts/"+id+"/publish", "")
			Expect(r.Status).To(Equal(http.StatusConflict))
			Expect(decodeAs[problem](r).Error).To(Equal("post is already published"))
		})

		It("answers 404 for an unknown post", func() {
			Expect(do("POST", "/posts/00000000-0000-0000-0000-00000000ffff/publish", "").Status).To(Equal(http.StatusNotFound))
		})

		It("answers 404 for the id of something that is not a post", func() {
			r := do("POST", "/authors", `{"name":"Ben","email":"ben@example.com"}`)
			author := decodeAs[executed](r).ID
			Expect(do("POST", "/posts/"+author+"/publish", "").Status).To(Equal(http.StatusNotFound))
			Expect(do("GET", "/posts/"+author+"/events", "").Status).To(Equal(http.StatusNotFound))
		})

		It("answers 200 once the post is published: the durable notification workflow runs later, in a worker, and its failures never reach the client", func() {
			id := addPost("My first blogpost")
			st.failCommit = func(c *es.Commit) error {
				if c.Command.Type == "blog.NotifyAuthor" {
					return errors.New("mail queue down")
				}
				return nil
			}
			Expect(do("POST", "/posts/"+id+"/publish", "").Status).To(Equal(http.StatusOK))
		})

		Context("with the publication workflow synchronous", func() {
			BeforeEach(func() {
				serve(func(r *es.Registry) {
					blog.Register(r)
					for _, w := range r.Workflows() {
						w.Sync()
					}
				})
			})

			It("answers 200 when the notification fails after the post was published, with the failure as data and no details", func() {
				id := addPost("My first blogpost")
				st.failCommit = func(c *es.Commit) error {
					if c.Command.Type == "blog.NotifyAuthor" {
						return errors.New("mail queue down")
					}
					return nil
				}
				r := do("POST", "/posts/"+id+"/publish", "")
				Expect(r.Status).To(Equal(http.StatusOK), r.Body)
				done := decodeAs[executed](r)
				Expect(done.Events).To(HaveExactElements(HaveField("Type", "blog.PostPublished")))
				Expect(done.Post).To(HaveKey("published_at"))
				Expect(done.FollowUpErrors).To(Equal([]map[string]string{
					{"workflow": "publication", "command": "blog.NotifyAuthor", "error": "internal error"}}))
				Expect(r.Body).NotTo(ContainSubstring("mail queue"))
				Expect(do("POST", "/posts/"+id+"/publish", "").Status).To(Equal(http.StatusConflict), "it is published")
			})
		})
	})

	Describe("POST /posts/{id}/archive", func() {
		It("archives the post and answers with it, as version 1 of post_records has it: no archived field", func() {
			id := addPost("Old news")
			r := do("POST", "/posts/"+id+"/archive", "")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(decodeAs[executed](r).Post).To(Equal(map[string]any{
				"id": id, "author": "ben", "title": "Old news", "content": "Hello World!"}))
			events := decodeAs[[]map[string]any](do("GET", "/posts/"+id+"/events", ""))
			Expect(events[len(events)-1]).To(HaveKeyWithValue("type", "blog.PostArchived"))
		})

		It("answers 404 for an unknown post", func() {
			Expect(do("POST", "/posts/00000000-0000-0000-0000-00000000ffff/archive", "").Status).To(Equal(http.StatusNotFound))
		})

		Context("with version 2 of the post projector", func() {
			BeforeEach(func() { serve(blog.RegisterV2) })

			It("shows the post archived, and every other post not", func() {
				archived, kept := addPost("Old news"), addPost("News")
				r := do("POST", "/posts/"+archived+"/archive", "")
				Expect(r.Status).To(Equal(http.StatusOK))
				Expect(decodeAs[executed](r).Post).To(HaveKeyWithValue("archived", true))
				r = do("POST", "/posts/"+archived+"/archive", "")
				Expect(r.Status).To(Equal(http.StatusOK), "archiving twice changes nothing")
				Expect(decodeAs[executed](r).Events).To(BeEmpty())

				Expect(decodeAs[[]map[string]any](do("GET", "/posts", ""))).To(HaveExactElements(
					And(HaveKeyWithValue("id", archived), HaveKeyWithValue("archived", true)),
					And(HaveKeyWithValue("id", kept), HaveKeyWithValue("archived", false))))
			})
		})
	})

	Describe("PUT /posts/{id}/title", func() {
		It("changes the title", func() {
			id := addPost("Draft")
			r := do("PUT", "/posts/"+id+"/title", `{"title":"Final"}`)
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(decodeAs[executed](r).Post).To(HaveKeyWithValue("title", "Final"))
		})

		It("answers 422 for a blank title", func() {
			id := addPost("Draft")
			r := do("PUT", "/posts/"+id+"/title", `{"title":""}`)
			Expect(r.Status).To(Equal(http.StatusUnprocessableEntity))
			Expect(decodeAs[problem](r).Fields).To(Equal(map[string][]string{"title": {"can't be blank"}}))
		})

		It("answers 404 for an unknown post", func() {
			Expect(do("PUT", "/posts/00000000-0000-0000-0000-00000000ffff/title", `{"title":"x"}`).Status).To(Equal(http.StatusNotFound))
		})

		It("answers 409 when someone else changed the post meanwhile", func() {
			id := addPost("Draft")
			st.failCommit = func(*es.Commit) error { return es.ErrConcurrencyConflict }
			r := do("PUT", "/posts/"+id+"/title", `{"title":"Final"}`)
			Expect(r.Status).To(Equal(http.StatusConflict))
			Expect(decodeAs[problem](r).Error).To(Equal("changed by someone else meanwhile; try again"))
		})

		It("answers 500 without details when the store fails", func() {
			id := addPost("Draft")
			st.failCommit = func(*es.Commit) error { return errors.New("disk on fire") }
			r := do("PUT", "/posts/"+id+"/title", `{"title":"Final"}`)
			Expect(r.Status).To(Equal(http.StatusInternalServerError))
			Expect(r.Body).NotTo(ContainSubstring("disk"))
		})
	})

	Describe("POST /authors", func() {
		It("adds an author and answers 201 with its id", func() {
			r := do("POST", "/authors", `{"name":"Ben","email":"ben@example.com"}`)
			Expect(r.Status).To(Equal(http.StatusCreated))
			done := decodeAs[executed](r)
			Expect(done.ID).NotTo(BeEmpty())
			Expect(done.Events).To(HaveExactElements(
				And(HaveField("Type", "blog.AuthorAdded"), HaveField("Version", BeEquivalentTo(1))),
				And(HaveField("Type", "blog.AuthorEmailChanged"), HaveField("Version", BeEquivalentTo(2)))))
			Expect(done.Events[0].Position).To(BeNumerically("<", done.Events[1].Position))
			Expect(done.Post).To(BeNil())
		})

		It("answers 409 when the email address is taken, whatever its case", func() {
			do("POST", "/authors", `{"name":"Ben","email":"ben@example.com"}`)
			r := do("POST", "/authors", `{"name":"Other Ben","email":"BEN@example.com"}`)
			Expect(r.Status).To(Equal(http.StatusConflict))
			Expect(decodeAs[problem](r).Fields).To(Equal(map[string][]string{"email": {"is already taken"}}))
		})

		It("answers 422 for an invalid email address", func() {
			r := do("POST", "/authors", `{"name":"Ben","email":"ben"}`)
			Expect(r.Status).To(Equal(http.StatusUnprocessableEntity))
			Expect(decodeAs[problem](r).Fields).To(Equal(map[string][]string{"email": {"is not an email address"}}))
		})
	})

	Describe("GET /posts/{id}/events", func() {
		It("lists the post's events, each with the command that caused it", func() {
			id := addPost("Draft")
			do("PUT", "/posts/"+id+"/title", `{"title":"Final"}`, "X-User-ID", "kim")

			r := do("GET", "/posts/"+id+"/events", "")
			Expect(r.Status).To(Equal(http.StatusOK))
			type command struct {
				Type    string
				Payload map[string]any
				User    string
				Time    time.Time
			}
			type event struct {
				Type    string
				Version int64
				Time    time.Time
				Payload map[string]any
				Command command
			}
			events := decodeAs[[]event](r)
			Expect(events).To(HaveLen(5))
			Expect(events[0]).To(Equal(event{
				Type: "blog.PostAdded", Version: 1, Time: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), Payload: map[string]any{},
				Command: command{Type: "blog.AddPost", User: "ben", Time: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC),
					Payload: map[string]any{"post_id": id, "author": "ben", "title": "Draft", "content": "Hello World!"}},
			}))
			Expect(events[4].Type).To(Equal("blog.PostTitleChanged"))
			Expect(events[4].Version).To(BeEquivalentTo(5))
			Expect(events[4].Payload).To(Equal(map[string]any{"title": "Final"}))
			Expect(events[4].Command.Type).To(Equal("blog.ChangePostTitle"))
			Expect(events[4].Command.User).To(Equal("kim"))
		})

		It("answers 404 for an unknown post", func() {
			Expect(do("GET", "/posts/00000000-0000-0000-0000-00000000ffff/events", "").Status).To(Equal(http.StatusNotFound))
		})
	})
})
