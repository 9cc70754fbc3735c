package browser_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/browser"
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/google/uuid"
)

// handlerSpecs are the specs of every page and every bad input, on backend.
func handlerSpecs(backend estest.Backend) {
	var s *session
	BeforeEach(func() {
		s = newSession(backend, browser.Options{SpecFixture: "blogSpec"})
	})

	Describe("authorisation", func() {
		paths := []string{"/", "/streams", "/streams/" + estest.ID(1).String(), "/log", "/assets/browser.js", "/no/such/page"}

		It("refuses every request with 403 when Options.Authorize is nil, naming the option", func() {
			h := browser.New(s.reg, s.store, browser.Options{Prefix: prefix})
			for _, path := range paths {
				r := serve(h, http.MethodGet, prefix+path)
				Expect(r.Code).To(Equal(http.StatusForbidden), path)
				Expect(r.Text()).To(ContainSubstring("refuses every request until its Options.Authorize is set"), path)
				Expect(r.Body).NotTo(ContainSubstring("My first blogpost"), path)
			}
			Expect(serve(browser.New(s.reg, s.store, browser.Options{}), http.MethodGet, "/").Code).To(Equal(http.StatusForbidden))
		})

		It("asks the hook before anything else, and shows its refusal with 403", func() {
			var asked []string
			h := browser.New(s.reg, s.store, browser.Options{Prefix: prefix, Authorize: func(r *http.Request) error {
				asked = append(asked, r.URL.Path)
				if r.Header.Get("X-Admin") != "yes" {
					return errors.New("only admins may read the history")
				}
				return nil
			}})
			for _, path := range paths {
				r := serve(h, http.MethodGet, prefix+path)
				Expect(r.Code).To(Equal(http.StatusForbidden), path)
				Expect(r.Text()).To(ContainSubstring("Options.Authorize refused this request: only admins may read the history"), path)
			}
			Expect(asked).To(HaveLen(len(paths)))

			req, err := http.NewRequest(http.MethodGet, prefix+"/streams", nil)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("X-Admin", "yes")
			rec := newRecorder()
			h.ServeHTTP(rec, req)
			Expect(rec.Code).To(Equal(http.StatusOK))
		})
	})

	Describe("safety", func() {
		It("is read-only: other methods than GET and HEAD get 405 and change nothing", func() {
			before := logLength(s)
			for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				r := s.request(method, streamPath(s.postID))
				Expect(r.Code).To(Equal(http.StatusMethodNotAllowed), method)
				Expect(r.Header.Get("Allow")).To(Equal("GET, HEAD"))
			}
			Expect(logLength(s)).To(Equal(before))
			head := s.request(http.MethodHead, streamPath(s.postID))
			Expect(head.Code).To(Equal(http.StatusOK))
			Expect(head.Body).To(BeEmpty())
		})

		It("sends a strict Content-Security-Policy and no inline script or style, on every page", func() {
			for _, path := range everyPage(s) {
				r := s.get(path)
				Expect(r.Code).To(BeNumerically("<", 500), path)
				Expect(r.Header.Get("Content-Security-Policy")).To(Equal("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
					"form-action 'self'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'"), path)
				Expect(r.Header.Get("X-Content-Type-Options")).To(Equal("nosniff"), path)
				Expect(r.Header.Get("Cache-Control")).To(Equal("no-store"), path)
				if r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
					continue
				}
				for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(r.Body, -1) {
					Expect(tag).To(MatchRegexp(`src="/_consequent/assets/browser\.js\?v=[0-9a-f]+"`), path)
				}
				Expect(r.Body).To(ContainSubstring(`<link rel="stylesheet" href="/_consequent/assets/browser.css?v=`), path)
				Expect(r.Body).NotTo(MatchRegexp(`(?i)\s(style|on[a-z]+)=`), path)
				Expect(r.Body).NotTo(ContainSubstring("javascript:"), path)
			}
		})

		It("serves its stylesheet and script itself", func() {
			css := s.get("/assets/browser.css")
			Expect(css.Code).To(Equal(http.StatusOK))
			Expect(css.Header.Get("Content-Type")).To(Equal("text/css; charset=utf-8"))
			js := s.get("/assets/browser.js")
			Expect(js.Code).To(Equal(http.StatusOK))
			Expect(js.Header.Get("Content-Type")).To(Equal("text/javascript; charset=utf-8"))
			Expect(js.Body).To(ContainSubstring("navigator.clipboard.writeText"))
			Expect(js.Body).NotTo(ContainSubstring("innerHTML"))
			Expect(s.get("/assets/nope.js").Code).To(Equal(http.StatusNotFound))
		})

		It("escapes every payload, user and type: a payload holding <script> shows as text", func() {
			attack := `<script>alert("x")</script><img src=x onerror=alert(1)>`
			evil := evilCommit(s, attack)
			shown := []string{ // pages that show the payload or the user
				streamPath(s.postID), streamPath(s.postID) + "/events/7", streamPath(s.postID) + "/state?version=7",
				streamPath(s.postID) + "?spec=6", "/commands/" + evil.String(), "/commands", "/log", "/",
				"/commands?user=" + urlEscape(attack), "/search?q=" + urlEscape(attack+"nobody"),
			}
			for _, path := range append(shown, everyPage(s)...) {
				r := s.get(path)
				if path == streamPath(s.postID)+"/spec" { // Go source, not HTML
					Expect(r.Header.Get("Content-Type")).To(Equal("text/plain; charset=utf-8"))
					Expect(r.Header.Get("X-Content-Type-Options")).To(Equal("nosniff"))
					continue
				}
				Expect(r.Code).To(BeNumerically("<", 500), path)
				Expect(r.Body).NotTo(ContainSubstring("<script>alert"), path)
				Expect(r.Body).NotTo(ContainSubstring("<img"), path)
				if slices.Contains(shown, path) {
					Expect(r.Text()).To(ContainSubstring(`<script>alert(`), path+": the payload shows, as text")
				}
			}
			Expect(s.get(streamPath(s.postID)).Body).To(ContainSubstring(`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`))
		})

		It("answers an unknown page with a 404 page, under the prefix and outside it", func() {
			for _, target := range []string{prefix + "/nope", prefix + "/streams/" + estest.ID(1).String() + "/nope", "/elsewhere"} {
				r := serve(s.handler, http.MethodGet, target)
				Expect(r.Code).To(Equal(http.StatusNotFound), target)
				Expect(r.Text()).To(ContainSubstring("There is no page at"), target)
			}
		})
	})

	Describe("the start page", func() {
		It("shows the streams written lately and the latest commands", func() {
			r := s.get("/")
			Expect(r.Code).To(Equal(http.StatusOK))
			Expect(r.Body).To(ContainSubstring(link(streamPath(s.postID))))
			Expect(r.Body).To(ContainSubstring(link(commandPath(s.notify.ID))))
			Expect(r.Text()).To(ContainSubstring("blog.NotifyAuthor workflow"))
		})
	})

	Describe("the streams page", func() {
		It("lists streams most recently written first, with type, version and time", func() {
			r := s.get("/streams")
			Expect(r.Code).To(Equal(http.StatusOK))
			Expect(r.Text()).To(ContainSubstring(fmt.Sprintf("%s blog.Notification 1 2026-01-01 09:04:00.000000 UTC %s blog.Post 6 2026-01-01 09:03:00.000000 UTC %s blog.Author 2 2026-01-01 09:00:00.000000 UTC",
				s.notificationID, s.postID, s.authorID)))
		})

		It("filters by aggregate type", func() {
			r := s.get("/streams?type=blog.Author")
			Expect(r.Code).To(Equal(http.StatusOK))
			Expect(r.Body).To(ContainSubstring(link(streamPath(s.authorID))))
			Expect(r.Body).NotTo(ContainSubstring(link(streamPath(s.postID))))
			Expect(r.Body).To(ContainSubstring(`<option value="blog.Author" selected>`))
		})

		It("pages by cursor", func() {
			s.handler = browser.New(s.reg, s.store, browser.Options{Prefix: prefix, Authorize: allow, PageSize: 2})
			first := s.get("/streams")
			Expect(first.Body).To(ContainSubstring(link(streamPath(s.notificationID))))
			Expect(first.Body).NotTo(ContainSubstring(link(streamPath(s.authorID))))
			older := hrefOf(first.Body, "Written earlier")
			Expect(older).To(MatchRegexp(`^/_consequent/streams\?before=\d+\.\d+$`))
			second := serve(s.handler, http.MethodGet, older)
			Expect(second.Body).To(ContainSubstring(link(streamPath(s.authorID))))
			Expect(second.Body).NotTo(ContainSubstring(link(streamPath(s.postID))))
			Expect(second.Body).NotTo(ContainSubstring("Written earlier"))
			Expect(hrefOf(second.Body, "Most recent")).To(Equal(prefix + "/streams"))
		})

		It("jumps to a stream by id", func() {
			r := s.get("/streams?id=" + s.postID.String())
			Expect(r.Code).To(Equal(http.StatusSeeOther))
			Expect(r.Header.Get("Location")).To(Equal(prefix + streamPath(s.postID)))
		})

		It("answers malformed input with 400", func() {
			for _, path := range []string{"/streams?id=nope", "/streams?before=12", "/streams?before=a.b", "/streams?before=1.-2"} {
				Expect(s.get(path).Code).To(Equal(http.StatusBadRequest), path)
			}
			Expect(s.get("/streams?id=nope").Text()).To(ContainSubstring(`stream id "nope" is not a UUID`))
		})
	})

	Describe("a stream's page", func() {
		It("shows its events in order, each under the command that recorded it", func() {
			r := s.get(streamPath(s.postID))
			Expect(r.Code).To(Equal(http.StatusOK))
			t := r.Text()
			Expect(t).To(ContainSubstring("blog.Post " + s.postID.String()))
			Expect(t).To(ContainSubstring(fmt.Sprintf("blog.AddPost by ben 2026-01-01 09:01:00.000000 UTC flow %s", s.addPost.ID)))
			Expect(t).To(MatchRegexp(`v1 blog.PostAdded 2026-01-01 09:01:00.000000 UTC \{\} .*` +
				`v2 blog.PostAuthorChanged 2026-01-01 09:01:00.000000 UTC \{ "author": "ben" \} .*` +
				`v3 blog.PostTitleChanged .* "title": "My first blogpost" .*v4 blog.PostContentChanged .*` +
				`blog.ChangePostTitle by ben .*v5 blog.PostTitleChanged .* "title": "Hello, world" .*` +
				`blog.PublishPost by ben .*v6 blog.PostPublished 2026-01-01 09:03:00.000000 UTC \{ "published_at": "2026-01-01T09:03:00Z" \}`))
			Expect(t).To(ContainSubstring(`"post_id": "`+s.postID.String()+`"`), "the command's payload")
			Expect(r.Body).To(ContainSubstring(link(commandPath(s.publish.ID))), "the command")
			Expect(r.Body).To(ContainSubstring(link(flowPath(s.publish.CorrelationID))), "its correlation")
			Expect(r.Body).To(ContainSubstring(link("/commands?user=ben")), "its user")
			Expect(r.Body).To(ContainSubstring(link(streamPath(s.postID)+"/events/6")), "the event whole")
		})

		It("shows the aggregate's state as of any version, through its ViewState", func() {
			r := s.get(streamPath(s.postID))
			Expect(r.Text()).To(ContainSubstring(`State as of version 6 Version Show What the aggregate's ViewState method shows. { "author": "ben", "title": "Hello, world", "published": true, "archived": false }`))
			r = s.get(streamPath(s.postID) + "?at=3")
			Expect(r.Text()).To(ContainSubstring(`State as of version 3`))
			Expect(r.Text()).To(ContainSubstring(`{ "author": "ben", "title": "My first blogpost", "published": false, "archived": false }`))
			whole := s.get(streamPath(s.postID) + "/state?version=4")
			Expect(whole.Code).To(Equal(http.StatusOK))
			Expect(whole.Text()).To(ContainSubstring(`{ "author": "ben", "title": "My first blogpost", "published": false, "archived": false }`))
		})

		It("shows the events as the state of an aggregate without ViewState", func() {
			r := s.get(streamPath(s.authorID) + "?at=1")
			Expect(r.Text()).To(ContainSubstring(`The aggregate does not implement browser.StateViewer, so here are its events up to this version. [ { "version": 1, "type": "blog.AuthorAdded", "payload": { "name": "Ben" } } ]`))
		})

		It("pages a long stream", func() {
			s.handler = browser.New(s.reg, s.store, browser.Options{Prefix: prefix, Authorize: allow, PageSize: 4})
			first := s.get(streamPath(s.postID))
			Expect(first.Text()).To(ContainSubstring("Events 1 to 4 of 6"))
			Expect(first.Body).NotTo(ContainSubstring(`id="v5"`))
			second := serve(s.handler, http.MethodGet, hrefOf(first.Body, "Later versions"))
			Expect(second.Code).To(Equal(http.StatusOK))
			Expect(second.Text()).To(ContainSubstring("Events 5 to 6 of 6"))
			Expect(second.Body).To(ContainSubstring(`id="v5"`))
			Expect(second.Body).NotTo(ContainSubstring(`id="v4"`))
			Expect(hrefOf(second.Body, "Earlier versions")).To(ContainSubstring("from=1"))
		})

		It("cuts a large payload, with a link to see it whole", func() {
			s.handler = browser.New(s.reg, s.store, browser.Options{Prefix: prefix, Authorize: allow, MaxPayload: 64})
			s.exec(changeTitle(s, strings.Repeat("long title ", 40)), "ben")
			r := s.get(streamPath(s.postID))
			Expect(r.Text()).To(MatchRegexp(`v7 blog.PostTitleChanged 2026-01-01 09:04:00.000000 UTC \{ "title": "long title long title long title long title long t … Cut: 45\d bytes in all. See it whole \.`))
			Expect(r.Body).To(ContainSubstring(`<a href="/_consequent/streams/` + s.postID.String() + `/events/7">See it whole</a>`))
			whole := s.get(streamPath(s.postID) + "/events/7")
			Expect(whole.Code).To(Equal(http.StatusOK))
			Expect(whole.Body).To(ContainSubstring(strings.Repeat("long title ", 39) + "long title "))
		})

		It("answers an unknown stream with 404 and malformed input with 400", func() {
			Expect(s.get(streamPath(estest.ID(99))).Code).To(Equal(http.StatusNotFound))
			Expect(s.get(streamPath(estest.ID(99))).Text()).To(ContainSubstring("There is no stream " + estest.ID(99).String()))
			for _, path := range []string{"/events/1", "/state", "/spec"} {
				Expect(s.get(streamPath(estest.ID(99))+path).Code).To(Equal(http.StatusNotFound), path)
			}
			for _, path := range []string{"?at=7", "?at=0", "?from=7", "?from=0", "?spec=7", "/events/7", "/state?version=7", "/spec?version=7"} {
				Expect(s.get(streamPath(s.postID)+path).Code).To(Equal(http.StatusNotFound), path)
			}
			for _, path := range []string{"/streams/nope", "/streams/nope/events/1", "/streams/12345/state", "/streams/nope/spec"} {
				Expect(s.get(path).Code).To(Equal(http.StatusBadRequest), path)
			}
			for _, path := range []string{"?at=x", "?at=-1", "?from=1.5", "?spec=x", "/events/x", "/events/0", "/state?version=x", "/spec?version=-3"} {
				Expect(s.get(streamPath(s.postID)+path).Code).To(Equal(http.StatusBadRequest), path)
			}
		})
	})

	Describe("an event's page", func() {
		It("shows the event whole, with its envelope and command", func() {
			r := s.get(streamPath(s.postID) + "/events/6")
			Expect(r.Code).To(Equal(http.StatusOK))
			t := r.Text()
			Expect(t).To(ContainSubstring("blog.PostPublished, version 6 of blog.Post " + s.postID.String()))
			Expect(t).To(ContainSubstring("Recorded 2026-01-01 09:03:00.000000 UTC"))
			Expect(t).To(ContainSubstring(`{ "published_at": "2026-01-01T09:03:00Z" }`))
			Expect(t).To(ContainSubstring("Its command blog.PublishPost by ben"))
			Expect(r.Body).To(ContainSubstring(link(commandPath(s.publish.ID))))
		})
	})

	Describe("a command's page", func() {
		It("shows its payload, user, time, flow and the events it recorded", func() {
			r := s.get(commandPath(s.addPost.ID))
			Expect(r.Code).To(Equal(http.StatusOK))
			t := r.Text()
			Expect(t).To(ContainSubstring("Command blog.AddPost"))
			Expect(t).To(ContainSubstring("User ben Executed 2026-01-01 09:01:00.000000 UTC"))
			Expect(t).To(ContainSubstring(`"title": "My first blogpost"`))
			Expect(t).To(MatchRegexp(`The events it recorded ` + s.postID.String() + ` blog.Post v1 blog.PostAdded .* v4 blog.PostContentChanged`))
			Expect(r.Body).To(ContainSubstring(link(flowPath(s.addPost.CorrelationID))))
			Expect(t).To(ContainSubstring("Commands workflows issued because of them None."))
		})

		It("follows the chain: the commands workflows issued because of its events, and theirs", func() {
			r := s.get(commandPath(s.publish.ID))
			t := r.Text()
			Expect(t).To(ContainSubstring(fmt.Sprintf("Commands workflows issued because of them Command Because of Time blog.NotifyAuthor %s blog.PostPublished, v6 of %s", s.notify.ID, s.postID)))
			Expect(r.Body).To(ContainSubstring(link(commandPath(s.notify.ID))))
			Expect(t).To(ContainSubstring(fmt.Sprintf("What followed from it The command, its events and, under each event, the commands workflows issued because of it, to the end of the chain. "+
				"blog.PublishPost (this command) 2026-01-01 09:03:00.000000 UTC blog.PostPublished v6 of blog.Post %s "+
				"blog.NotifyAuthor 2026-01-01 09:04:00.000000 UTC blog.NotificationQueued v1 of blog.Notification %s", s.postID, s.notificationID)))
		})

		It("shows a workflow's command with the event that caused it", func() {
			r := s.get(commandPath(s.notify.ID))
			t := r.Text()
			Expect(t).To(ContainSubstring(fmt.Sprintf("Issued by a workflow because of event %s : blog.PostPublished, version 6 of blog.Post %s , recorded by command %s",
				s.notify.CausationID, s.postID, s.publish.ID)))
			Expect(r.Body).To(ContainSubstring(link(streamPath(s.postID) + "#v6")))
			Expect(r.Body).To(ContainSubstring(link(commandPath(s.publish.ID))))
			Expect(t).To(ContainSubstring(fmt.Sprintf("The events it recorded %s blog.Notification v1 blog.NotificationQueued", s.notificationID)))
			Expect(t).To(ContainSubstring(`"message": "Your post \"Hello, world\" is published."`))
		})

		It("cuts a large payload, with a link to see it whole", func() {
			s.handler = browser.New(s.reg, s.store, browser.Options{Prefix: prefix, Authorize: allow, MaxPayload: 40})
			r := s.get(commandPath(s.addPost.ID))
			Expect(r.Text()).To(MatchRegexp(`Payload \{ [^}]* … Cut: 1\d\d bytes in all\. See it whole \. The events it recorded`))
			whole := serve(s.handler, http.MethodGet, hrefOf(r.Body, "See it whole"))
			for _, field := range []string{`"post_id": "` + s.postID.String() + `"`, `"author": "ben"`, `"title": "My first blogpost"`, `"content": "Hello World!"`} {
				Expect(whole.Text()).To(MatchRegexp(`Payload \{ [^}]*`+regexp.QuoteMeta(field)+`[^}]*\} The events it recorded`), field)
			}
		})

		It("answers an unknown command with 404 and a malformed id with 400", func() {
			Expect(s.get(commandPath(estest.ID(99))).Code).To(Equal(http.StatusNotFound))
			Expect(s.get(commandPath(estest.ID(99))).Text()).To(ContainSubstring("There is no command " + estest.ID(99).String()))
			Expect(s.get("/commands/nope").Code).To(Equal(http.StatusBadRequest))
		})
	})

	Describe("the commands page", func() {
		It("lists commands newest first", func() {
			t := s.get("/commands").Text()
			Expect(t).To(MatchRegexp(`blog.NotifyAuthor workflow .*blog.PublishPost .*blog.ChangePostTitle .*blog.AddPost .*blog.AddAuthor `))
		})

		It("filters by user, flow and time range", func() {
			t := s.get("/commands?user=admin").Text()
			Expect(t).To(ContainSubstring("Commands of admin"))
			Expect(t).To(ContainSubstring("blog.AddAuthor"))
			Expect(t).NotTo(ContainSubstring("blog.AddPost"))
			t = s.get(flowPath(s.publish.CorrelationID)).Text()
			Expect(t).To(MatchRegexp(`blog.NotifyAuthor .*blog.PublishPost `))
			Expect(t).NotTo(ContainSubstring("blog.ChangePostTitle"))
			t = s.get("/commands?since=2026-01-01T09:01&until=2026-01-01T09:02:00Z").Text()
			Expect(t).To(MatchRegexp(`blog.ChangePostTitle .*blog.AddPost `))
			Expect(t).NotTo(ContainSubstring("blog.PublishPost"))
			Expect(t).NotTo(ContainSubstring("blog.AddAuthor"))
		})

		It("pages by cursor", func() {
			s.handler = browser.New(s.reg, s.store, browser.Options{Prefix: prefix, Authorize: allow, PageSize: 2})
			first := s.get("/commands?user=ben")
			Expect(first.Text()).To(MatchRegexp(`blog.NotifyAuthor .*blog.PublishPost `))
			second := serve(s.handler, http.MethodGet, hrefOf(first.Body, "Older"))
			Expect(second.Text()).To(MatchRegexp(`blog.ChangePostTitle .*blog.AddPost `))
			Expect(second.Text()).NotTo(ContainSubstring("blog.PublishPost"))
			Expect(hrefOf(second.Body, "Newest")).To(Equal(prefix + "/commands?user=ben"))
		})

		It("answers malformed filters with 400", func() {
			for _, path := range []string{"/commands?correlation=nope", "/commands?since=yesterday", "/commands?until=2026-13-01", "/commands?before=nope", "/commands?before=2026-01-01T00:00:00Z_nope"} {
				Expect(s.get(path).Code).To(Equal(http.StatusBadRequest), path)
			}
		})
	})

	Describe("the log", func() {
		It("shows every event newest first, with stream, type, user and payload", func() {
			r := s.get("/log")
			Expect(r.Code).To(Equal(http.StatusOK))
			Expect(r.Text()).To(MatchRegexp(`blog.NotificationQueued by ben .*blog.PostPublished by ben .*blog.PostTitleChanged .*blog.PostAdded .*blog.AuthorEmailChanged by admin .*blog.AuthorAdded by admin ` +
				s.authorID.String() + ` blog.Author v1 2026-01-01 09:00:00.000000 UTC \{ "name": "Ben" \}`))
		})

		It("filters by event type and time range", func() {
			r := s.get("/log?type=blog.PostTitleChanged")
			Expect(r.Text()).To(ContainSubstring("The log: blog.PostTitleChanged"))
			t := tableText(r.Body)
			Expect(t).To(MatchRegexp(`"title": "Hello, world" .*"title": "My first blogpost"`))
			Expect(t).NotTo(ContainSubstring("blog.PostAdded"))
			t = tableText(s.get("/log?since=2026-01-01T09:02:00Z&until=2026-01-01T09:02:59").Body)
			Expect(t).To(ContainSubstring(`"title": "Hello, world"`))
			Expect(t).NotTo(ContainSubstring("blog.PostPublished"))
			Expect(t).NotTo(ContainSubstring("My first blogpost"))
		})

		It("pages by cursor, to older events and back", func() {
			s.handler = browser.New(s.reg, s.store, browser.Options{Prefix: prefix, Authorize: allow, PageSize: 4})
			first := s.get("/log")
			Expect(logTypes(first.Body)).To(Equal([]string{"blog.NotificationQueued", "blog.PostPublished", "blog.PostTitleChanged", "blog.PostContentChanged"}))
			Expect(first.Body).NotTo(ContainSubstring("Newer"))
			older := hrefOf(first.Body, "Older")
			Expect(older).To(MatchRegexp(`^/_consequent/log\?before=\d+\.\d+$`))
			second := serve(s.handler, http.MethodGet, older)
			Expect(logTypes(second.Body)).To(Equal([]string{"blog.PostTitleChanged", "blog.PostAuthorChanged", "blog.PostAdded", "blog.AuthorEmailChanged"}))
			back := serve(s.handler, http.MethodGet, hrefOf(second.Body, "Newer"))
			Expect(logTypes(back.Body)).To(Equal(logTypes(first.Body)))
			third := serve(s.handler, http.MethodGet, hrefOf(second.Body, "Older"))
			Expect(logTypes(third.Body)).To(Equal([]string{"blog.AuthorAdded"}))
			Expect(third.Body).NotTo(ContainSubstring(">Older"))
		})

		It("answers malformed filters with 400", func() {
			for _, path := range []string{"/log?before=x", "/log?after=1", "/log?before=1.2&after=1.1", "/log?since=nope", "/log?until=1/2/2026"} {
				Expect(s.get(path).Code).To(Equal(http.StatusBadRequest), path)
			}
		})
	})

	Describe("the projectors page", func() {
		It("shows each projector's versions and phase, and each async partition's checkpoint, lag, lease and failure", func(ctx SpecContext) {
			s = newSession(backend, browser.Options{}, func(reg *es.Registry) { reg.AddProjector(searchProjector()) })
			worker, err := es.NewProjectionWorker(s.reg, s.store, es.WorkerOptions{Owner: "worker-1", Jobs: es.RunProjectors})
			Expect(err).NotTo(HaveOccurred())
			ps := s.store.(es.ProjectionStore)
			// On PostgreSQL the log is read below a watermark that a transaction
			// in flight anywhere on the server holds back: catch up until nothing is left.
			Eventually(ctx, func(g Gomega) {
				g.Expect(worker.CatchUp(ctx)).To(Succeed())
				for _, name := range []string{"search#0/2", "search#1/2"} {
					st, err := ps.Projection(ctx, name)
					g.Expect(err).NotTo(HaveOccurred())
					n, _, err := ps.Behind(ctx, st.Checkpoint, int(name[7]-'0'), 2)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(st.Checkpoint.Position).To(BeNumerically(">", 0), name)
					g.Expect(n).To(BeZero(), name)
				}
			}).WithTimeout(30 * time.Second).Should(Succeed())
			st, err := ps.Projection(ctx, "search#1/2")
			Expect(err).NotTo(HaveOccurred())
			Expect(ps.SetFailure(ctx, "search#1/2", st.Checkpoint, "index full")).To(Succeed())
			Expect(ps.Release(ctx, "search#1/2", "worker-1")).To(Succeed())
			Expect(ps.Lease(ctx, "search#0/2", "worker-1", time.Hour)).To(BeTrue())
			s.exec(changeTitle(s, "Third title"), "ben")

			Eventually(ctx, func(g Gomega) { // the new event counts once below the watermark
				r := s.get("/projectors")
				g.Expect(r.Code).To(Equal(http.StatusOK))
				t := r.Text()
				g.Expect(t).To(ContainSubstring("post_projector inline serving Version this program's 1; serving 1"))
				g.Expect(t).To(MatchRegexp(`search async serving Version this program's 1; serving 1 Partition Checkpoint Lag \(events\) Lease Failure ` +
					`search#0/2 \d+\.\d+ \(built by version 1\) 0 worker-1 until 20.* none ` +
					`search#1/2 \d+\.\d+ \(built by version 1\) 1 oldest waiting \d+h\d+m\d+s free stopped at \d+\.\d+ : index full`))
			}).WithTimeout(30 * time.Second).Should(Succeed())
		})
	})

	Describe("search", func() {
		It("finds a stream, a command, a flow and a user's commands", func() {
			for q, target := range map[string]string{
				s.postID.String():                  streamPath(s.postID),
				s.notify.ID.String():               commandPath(s.notify.ID),
				s.publish.CorrelationID.String():   commandPath(s.publish.CorrelationID),
				"ben":                              "/commands?user=ben",
				strings.ToUpper(s.postID.String()): streamPath(s.postID),
			} {
				r := s.get("/search?q=" + urlEscape(q))
				Expect(r.Code).To(Equal(http.StatusSeeOther), q)
				Expect(r.Header.Get("Location")).To(Equal(prefix+target), q)
			}
			r := s.get("/search?kind=correlation&q=" + s.publish.CorrelationID.String())
			Expect(r.Header.Get("Location")).To(Equal(prefix + flowPath(s.publish.CorrelationID)))
		})

		It("says when nothing matches, with 404", func() {
			r := s.get("/search?q=" + estest.ID(99).String())
			Expect(r.Code).To(Equal(http.StatusNotFound))
			Expect(r.Text()).To(ContainSubstring("No stream, no command, no correlation, no user matches “" + estest.ID(99).String() + "”"))
			r = s.get("/search?q=nobody")
			Expect(r.Code).To(Equal(http.StatusNotFound))
			Expect(r.Text()).To(ContainSubstring("No user matches “nobody”"))
			Expect(s.get("/search?kind=stream&q=" + s.notify.ID.String()).Code).To(Equal(http.StatusNotFound))
		})

		It("shows the form for an empty query and answers malformed input with 400", func() {
			Expect(s.get("/search").Code).To(Equal(http.StatusOK))
			Expect(s.get("/search?kind=stream&q=nope").Code).To(Equal(http.StatusBadRequest))
			Expect(s.get("/search?kind=event&q=x").Code).To(Equal(http.StatusBadRequest))
		})
	})
}

// The specs of a store that cannot browse need no second backend.
var _ = Describe("on a store without es.BrowseStore", func() {
	It("shows streams and events, and says which pages need es.BrowseStore", func() {
		s := newSession(estest.Memory, browser.Options{})
		h := browser.New(s.reg, coreStore{s.store}, browser.Options{Prefix: prefix, Authorize: allow})
		Expect(serve(h, http.MethodGet, prefix+streamPath(s.postID)).Code).To(Equal(http.StatusOK))
		Expect(serve(h, http.MethodGet, prefix+"/").Code).To(Equal(http.StatusOK))
		for _, path := range []string{"/streams", "/log", "/commands", commandPath(s.publish.ID)} {
			r := serve(h, http.MethodGet, prefix+path)
			Expect(r.Code).To(Equal(http.StatusNotImplemented), path)
			Expect(r.Text()).To(ContainSubstring("needs a store that implements es.BrowseStore"), path)
		}
		Expect(serve(h, http.MethodGet, prefix+"/projectors").Text()).To(ContainSubstring("keeps no projection state"))
	})
})

// coreStore hides every optional capability of a store.
type coreStore struct{ es.EventStore }

// everyPage lists a path of every page of the session.
func everyPage(s *session) []string {
	return []string{"/", "/streams", "/streams?type=blog.Post", streamPath(s.postID), streamPath(s.postID) + "/events/1",
		streamPath(s.postID) + "/state", streamPath(s.postID) + "/spec", "/commands", commandPath(s.notify.ID), "/log",
		"/projectors", "/search", "/search?q=nobody", streamPath(estest.ID(99)), "/streams/nope", "/nope"}
}

// evilCommit stores a title change and a command whose payloads and user hold
// attack, bypassing the service (and its JSON encoder, which would escape <).
func evilCommit(s *session, attack string) uuid.UUID {
	GinkgoHelper()
	quoted := strings.ReplaceAll(strings.ReplaceAll(attack, `\`, `\\`), `"`, `\"`)
	id := estest.ID(77)
	c := &es.Commit{
		Command: es.CommandRecord{ID: id, Type: "blog.ChangePostTitle", Data: []byte(`{"post_id":"` + s.postID.String() + `","title":"` + quoted + `"}`),
			Time: s.clock.Now(), UserID: attack, CorrelationID: id},
		Streams: []es.StreamWrite{{StreamID: s.postID, StreamType: "blog.Post", ExpectedVersion: 6, Events: []es.EventRecord{{
			ID: estest.ID(78), StreamID: s.postID, StreamType: "blog.Post", Version: 7, Type: "blog.PostTitleChanged", Schema: 1,
			Data: []byte(`{"title":"` + quoted + `"}`),
			Meta: es.Meta{Time: s.clock.Now(), CommandID: id, CorrelationID: id, CausationID: id, UserID: attack}}}}},
	}
	Expect(s.store.Commit(s.ctx, c, nil)).To(Succeed())
	return id
}

// changeTitle is a ChangePostTitle of the session's post.
func changeTitle(s *session, title string) any {
	return blogChangeTitle(s.postID, title)
}

func logLength(s *session) int {
	GinkgoHelper()
	recs, err := s.store.(es.BrowseStore).Log(context.Background(), es.LogQuery{})
	Expect(err).NotTo(HaveOccurred())
	return len(recs)
}

// hrefOf returns the target of the first link whose text contains label.
func hrefOf(body, label string) string {
	GinkgoHelper()
	for _, m := range regexp.MustCompile(`<a [^>]*href="([^"]*)"[^>]*>([^<]*)</a>`).FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[2], label) {
			return htmlUnescape(m[1])
		}
	}
	Fail(fmt.Sprintf("no link %q on the page", label))
	return ""
}

// tableText is the text of the first table of a page.
func tableText(body string) string {
	GinkgoHelper()
	start, end := strings.Index(body, "<table>"), strings.Index(body, "</table>")
	Expect(start).To(BeNumerically(">=", 0), "the page has a table")
	return text(body[start:end])
}

// logTypes lists the event types of the log page's rows, in order.
func logTypes(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<td><a href="[^"]*/events/\d+">([^<]*)</a>`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

var _ = Describe("a stream of thousands of events", func() {
	It("pages its events, rebuilds its state on request and declines to write it as a spec", func() {
		s := newSession(estest.Memory, browser.Options{})
		events := make([]any, 2100)
		for i := range events {
			events[i] = blogTitleChanged(fmt.Sprintf("title %d", i+1))
		}
		_, err := s.svc.Append(s.ctx, s.postID, events...)
		Expect(err).NotTo(HaveOccurred())

		r := s.get(streamPath(s.postID))
		Expect(r.Code).To(Equal(http.StatusOK))
		Expect(r.Text()).To(ContainSubstring("Events 1 to 50 of 2106"))
		Expect(r.Text()).To(ContainSubstring("Rebuilding the state as of version 2106 reads 2106 events: rebuild it ."))
		Expect(r.Text()).To(ContainSubstring("This spec would list 2106 events, given and recorded: too many to read (at most 500)."))
		state := serve(s.handler, http.MethodGet, hrefOf(r.Body, "rebuild it"))
		Expect(state.Code).To(Equal(http.StatusOK))
		Expect(state.Text()).To(ContainSubstring(`"title": "title 2100"`))
		last := serve(s.handler, http.MethodGet, hrefOf(r.Body, "Last"))
		Expect(last.Text()).To(ContainSubstring("Events 2057 to 2106 of 2106"))
	})
})
