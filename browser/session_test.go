package browser_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/browser"
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/google/uuid"
)

// prefix is where the specs mount the browser, as the blog does.
const prefix = "/_consequent"

// session is the blog after a scripted session, with the browser on its store:
// ben's author record, his post, a new title, the publication and the
// notification the publication workflow queued.
type session struct {
	ctx     context.Context
	reg     *es.Registry
	store   es.EventStore
	svc     *es.CommandService
	clock   *es.ManualClock
	handler http.Handler

	authorID, postID, notificationID             uuid.UUID
	addAuthor, addPost, retitle, publish, notify es.CommandRecord
}

// start is the session's first command's time; each command runs a minute later.
var start = estest.DefaultStart()

// allow is an Authorize hook that lets every request through.
func allow(*http.Request) error { return nil }

// newSession runs the scripted session on a store from backend, registering
// the blog and then extra, and mounts the browser with opts (Prefix and
// Authorize default to the blog's).
func newSession(backend estest.Backend, opts browser.Options, extra ...func(*es.Registry)) *session {
	GinkgoHelper()
	ctx := context.Background()
	s := &session{ctx: ctx, reg: es.NewRegistry(), clock: es.NewManualClock(start), authorID: estest.ID(2), postID: estest.ID(1)}
	blog.Register(s.reg)
	for _, f := range extra {
		f(s.reg)
	}
	var err error
	s.store, err = backend(ctx)
	Expect(err).NotTo(HaveOccurred())
	s.svc, err = es.NewCommandService(ctx, s.reg, s.store, es.Options{Clock: s.clock, IDs: new(estest.SpecIDs)})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.svc.Close)

	s.exec(blog.AddAuthor{AuthorID: s.authorID, Name: "Ben", Email: "ben@example.com"}, "admin")
	s.exec(blog.AddPost{PostID: s.postID, Author: "ben", Title: "My first blogpost", Content: "Hello World!"}, "ben")
	s.exec(blog.ChangePostTitle{PostID: s.postID, Title: "Hello, world"}, "ben")
	s.exec(blog.PublishPost{PostID: s.postID}, "ben")
	// The publication workflow is durable: a worker issues the notification.
	w, err := es.NewProjectionWorker(s.reg, s.store, es.WorkerOptions{Service: s.svc})
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() (int, error) { // the log's watermark may hold the event back a moment
		if err := w.CatchUp(ctx); err != nil {
			return 0, err
		}
		cmds, err := s.store.(es.BrowseStore).FindCommands(ctx, es.CommandQuery{})
		return len(cmds), err
	}).WithTimeout(30 * time.Second).Should(Equal(5))

	cmds, err := s.store.(es.BrowseStore).FindCommands(ctx, es.CommandQuery{})
	Expect(err).NotTo(HaveOccurred())
	Expect(cmds).To(HaveLen(5))
	s.notify, s.publish, s.retitle, s.addPost, s.addAuthor = cmds[0], cmds[1], cmds[2], cmds[3], cmds[4]
	Expect(s.notify.Type).To(Equal("blog.NotifyAuthor"))
	events, err := s.store.(es.BrowseStore).CommandEvents(ctx, s.notify.ID)
	Expect(err).NotTo(HaveOccurred())
	Expect(events).To(HaveLen(1))
	s.notificationID = events[0].StreamID

	if opts.Prefix == "" {
		opts.Prefix = prefix
	}
	if opts.Authorize == nil {
		opts.Authorize = allow
	}
	s.handler = browser.New(s.reg, s.store, opts)
	return s
}

// exec runs a command by user, a minute after the previous one.
func (s *session) exec(cmd any, user string) {
	GinkgoHelper()
	Expect(s.svc.Execute(s.ctx, cmd, es.ByUser(user))).To(estest.Committed())
	s.clock.Advance(time.Minute)
}

// response is what the browser answered.
type response struct {
	Code   int
	Header http.Header
	Body   string
}

// Text is the body's text as a reader sees it: without tags, entities
// unescaped, runs of white space as one space.
func (r response) Text() string { return text(r.Body) }

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

func text(body string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(body, " ")), " "))
}

// get asks the session's browser for path (under the prefix).
func (s *session) get(path string) response {
	return s.request(http.MethodGet, path)
}

func (s *session) request(method, path string) response {
	return serve(s.handler, method, prefix+path)
}

func serve(h http.Handler, method, target string) response {
	GinkgoHelper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	body, err := io.ReadAll(rec.Result().Body)
	Expect(err).NotTo(HaveOccurred())
	return response{Code: rec.Code, Header: rec.Result().Header, Body: string(body)}
}

// link is how a page links to path under the prefix.
func link(path string) string { return `href="` + html.EscapeString(prefix+path) + `"` }

// streamPath and the others are the pages' paths.
func streamPath(id uuid.UUID) string  { return "/streams/" + id.String() }
func commandPath(id uuid.UUID) string { return "/commands/" + id.String() }
func flowPath(id uuid.UUID) string    { return "/commands?correlation=" + id.String() }

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func urlEscape(s string) string { return url.QueryEscape(s) }

func htmlUnescape(s string) string { return html.UnescapeString(s) }

func blogChangeTitle(id uuid.UUID, title string) any {
	return blog.ChangePostTitle{PostID: id, Title: title}
}

// searchRow and searchProjector make an async projector of two partitions.
type searchRow struct {
	ID    uuid.UUID
	Title string
}

var searchRows = es.NewTable[searchRow]("search_rows", "id")

func searchProjector() *es.Projector {
	p := es.NewProjector("search", searchRows).Async().Partitioned(2)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev blog.PostTitleChanged) error {
		return searchRows.Upsert(ctx, v, searchRow{ID: e.StreamID, Title: ev.Title})
	})
	return p
}

func blogTitleChanged(title string) any { return blog.PostTitleChanged{Title: title} }
