package browser_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/browser"
	"github.com/consequent/consequent/estest"
)

var _ = Describe("copy as a spec", func() {
	var s *session
	BeforeEach(func() {
		s = newSession(estest.Memory, browser.Options{SpecFixture: "blogSpec"})
	})

	It("writes the history before the last command as Given, the command as When and what it recorded as Then", func() {
		r := s.get(streamPath(s.postID) + "/spec")
		Expect(r.Code).To(Equal(http.StatusOK))
		Expect(r.Header.Get("Content-Type")).To(Equal("text/plain; charset=utf-8"))
		Expect(r.Body).To(Equal(`// Given blog.Post 00000000-0000-0000-0000-000000000001 up to version 5, when blog.PublishPost ran (2026-01-01 09:03:00.000000 UTC, by ben).
// Then lists what it recorded: change it to what it should have recorded.
// blogSpec is the application's estest fixture, estest.New(Register); packages used: blog, es, time, uuid.
postID := uuid.MustParse("00000000-0000-0000-0000-000000000001")
blogSpec.
	Given(postID,
		blog.PostAdded{},
		blog.PostAuthorChanged{Author: "ben"},
		blog.PostTitleChanged{Title: "My first blogpost"},
		blog.PostContentChanged{Content: "Hello World!"},
		blog.PostTitleChanged{Title: "Hello, world"},
	).
	SetClock(time.Date(2026, time.January, 1, 9, 3, 0, 0, time.UTC)).
	When(blog.PublishPost{PostID: postID}, es.ByUser("ben")).
	Then(
		blog.PostPublished{PublishedAt: time.Date(2026, time.January, 1, 9, 3, 0, 0, time.UTC)},
	)
`))
		page := s.get(streamPath(s.postID))
		Expect(page.Text()).To(ContainSubstring(text(r.Body)), "the stream page shows the same spec")
		Expect(page.Body).To(ContainSubstring(`<button type="button" class="copy" data-copy="spec-text" hidden>Copy the spec</button>`))
		Expect(page.Body).To(ContainSubstring(`<pre class="spec" id="spec-text">`))
	})

	It("starts the history before the command that recorded the chosen version's successor, and gives the streams the command refers to", func() {
		r := s.get(streamPath(s.postID) + "/spec?version=2") // version 3 is AddPost's, which recorded 1 to 4
		Expect(r.Body).To(HavePrefix("// Given blog.Post 00000000-0000-0000-0000-000000000001 up to version 0, when blog.AddPost ran"))
		Expect(r.Body).To(ContainSubstring("blogSpec.\n\tScenario().\n\tSetClock("))
		Expect(r.Body).To(ContainSubstring(`When(blog.AddPost{PostID: postID, Author: "ben", Title: "My first blogpost", Content: "Hello World!"}, es.ByUser("ben")).`))
		Expect(r.Body).To(ContainSubstring("\tThen(\n\t\tblog.PostAdded{},\n\t\tblog.PostAuthorChanged{Author: \"ben\"},"))

		r = s.get(streamPath(s.notificationID) + "/spec?version=0") // the workflow's command, which loads the post
		Expect(r.Body).To(ContainSubstring(`notificationID := uuid.MustParse("` + s.notificationID.String() + `")` + "\n" +
			`postID := uuid.MustParse("` + s.postID.String() + `")` + "\nblogSpec.\n\tGiven(postID,\n\t\tblog.PostAdded{},"))
		Expect(r.Body).To(ContainSubstring("\t\tblog.PostPublished{PublishedAt: time.Date(2026, time.January, 1, 9, 3, 0, 0, time.UTC)},\n\t).\n"))
		Expect(r.Body).To(ContainSubstring(`When(blog.NotifyAuthor{NotificationID: notificationID, PostID: postID}, es.ByUser("ben")).`))
		Expect(r.Body).To(ContainSubstring("Message: `Your post \"Hello, world\" is published.`,"))

		r = s.get(streamPath(s.postID) + "/spec?version=6")
		Expect(r.Body).To(ContainSubstring("up to version 6, when the command to try next."))
		Expect(r.Body).To(ContainSubstring("When(nil /* the command to try */)."))
	})

	It("keeps stored text from breaking out of a comment or a string", func() {
		s.exec(blogChangeTitle(s.postID, "x\"\n`+os.Exit(1)"), "eve\nos.Exit(2) //")
		r := s.get(streamPath(s.postID) + "/spec")
		Expect(r.Body).To(ContainSubstring("(2026-01-01 09:04:00.000000 UTC, by eve os.Exit(2) //).\n"))
		Expect(r.Body).To(ContainSubstring(`When(blog.ChangePostTitle{PostID: postID, Title: "x\"\n` + "`" + `+os.Exit(1)"}, es.ByUser("eve\nos.Exit(2) //")).`))
		for _, line := range strings.Split(r.Body, "\n") {
			Expect(line).NotTo(HavePrefix("os.Exit"))
		}
	})

	It("gives a spec that compiles and passes, pasted into the blog's specs", Label("slow"), func(ctx SpecContext) {
		if _, err := exec.LookPath("go"); err != nil {
			Skip("no go command to compile the spec with")
		}
		// Two copied specs, each in a block of its own: the workflow's command
		// (which loads the post) and the publication.
		var body strings.Builder
		for _, path := range []string{streamPath(s.notificationID) + "/spec?version=0", streamPath(s.postID) + "/spec"} {
			body.WriteString("{\n" + s.get(path).Body + "}\n")
		}
		src := `package blog_test

import (
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/google/uuid"
	"github.com/onsi/gomega"
)

var _, _, _ = time.Now, es.ByUser, uuid.Nil

// Written by the event browser's specs; not a file of the repository.
func TestCopiedFromTheEventBrowser(t *testing.T) {
	gomega.RegisterTestingT(t)
	blogSpec := estest.New(blog.Register)
` + body.String() + `}
`
		dir := GinkgoT().TempDir()
		file := filepath.Join(dir, "copied_test.go")
		Expect(os.WriteFile(file, []byte(src), 0o644)).To(Succeed())
		root, err := filepath.Abs("..")
		Expect(err).NotTo(HaveOccurred())
		overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{
			filepath.Join(root, "examples", "blog", "blog", "copied_from_the_event_browser_test.go"): file}})
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644)).To(Succeed())

		cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-overlay", filepath.Join(dir, "overlay.json"),
			"-run", "^TestCopiedFromTheEventBrowser$", "-v", "./examples/blog/blog")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s\n%s", src, out)
		Expect(string(out)).To(ContainSubstring("--- PASS: TestCopiedFromTheEventBrowser"))
	}, SpecTimeout(5*time.Minute))
})
