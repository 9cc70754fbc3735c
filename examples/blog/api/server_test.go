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
		return decodeAs[map[string]string](r)["id"]
	}

	Describe("POST /posts", func() {
		It("adds a post and answers 201 with its id", func() {
			r := do("POST", "/posts", `{"author":"ben","title":"My first blogpost","content":"Hello World!"}`)
			Expect(r.Status).To(Equal(http.StatusCreated))
			Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))
			id := decodeAs[map[string]string](r)["id"]
			Expect(id).To(MatchRegexp(`^[0-9a-f-]{36}$`))
			Expect(r.Header.Get("Location")).To(Equal("/posts/" + id))
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
		It("publishes the post and answers with it", func() {
			id := addPost("My first blogpost")
			r := do("POST", "/posts/"+id+"/publish", "")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(decodeAs[map[string]any](r)).To(HaveKeyWithValue("published_at", "2026-01-01T09:00:00Z"))
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
			author := decodeAs[map[string]string](r)["id"]
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
	})

	Describe("POST /posts/{id}/archive", func() {
		It("archives the post and answers with it, as version 1 of post_records has it: no archived field", func() {
			id := addPost("Old news")
			r := do("POST", "/posts/"+id+"/archive", "")
			Expect(r.Status).To(Equal(http.StatusOK))
			Expect(decodeAs[map[string]any](r)).To(Equal(map[string]any{
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
				Expect(decodeAs[map[string]any](r)).To(HaveKeyWithValue("archived", true))
				Expect(do("POST", "/posts/"+archived+"/archive", "").Status).To(Equal(http.StatusOK), "archiving twice changes nothing")

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
			Expect(decodeAs[map[string]any](r)).To(HaveKeyWithValue("title", "Final"))
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
			Expect(decodeAs[map[string]string](r)).To(HaveKey("id"))
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
