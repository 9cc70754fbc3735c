package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/pgstore/pgtest"
)

// The event browser of the blog, driven in headless Chromium: after a
// scripted session (an author, a post, its publication), a reader goes from
// the post's stream to the command, the events it caused and the workflow's
// command, and finds them by id. Screenshots go to test-output/browser (or
// $CONSEQUENT_TEST_OUTPUT/browser).
var _ = Describe("the event browser in Chromium", Label("browser"), func() {
	It("follows a post from its stream to its command, its events and the workflow's command, and finds them by id", func(ctx SpecContext) {
		browse(ctx, "memory", "-database-url", "")
	}, SpecTimeout(3*time.Minute))

	It("does the same on PostgreSQL", Label(pgtest.Label), func(ctx SpecContext) {
		db, err := pgtest.Open(ctx)
		if errors.Is(err, pgtest.ErrNoDatabase) {
			_, err = pgtest.Pool(ctx) // skips, or fails under make integration-test
		}
		Expect(err).NotTo(HaveOccurred())
		dsn, drop, err := db.TempDatabase(ctx, false)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(drop)
		browse(ctx, "postgresql", "-database-url", dsn)
	}, SpecTimeout(3*time.Minute))
})

// browse runs the blog with args, scripts a session over its API and reads the
// history in Chromium, saving screenshots under the backend's name.
func browse(ctx context.Context, backend string, args ...string) {
	chrome := chromium()
	url, stop := serve(args...)
	defer stop()

	call(url, http.MethodPost, "/authors", "admin", `{"name":"Ben","email":"ben@example.com"}`)
	postID := call(url, http.MethodPost, "/posts", "ben",
		`{"author":"ben","title":"My first blogpost","content":"Hello <script>document.title=\"pwned\"</script> World"}`)
	call(url, http.MethodPost, "/posts/"+postID+"/publish", "ben", "")

	shots := screenshots(backend)
	alloc, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1280, 1000))...)
	defer cancel()
	tab, cancel := chromedp.NewContext(alloc)
	defer cancel()
	Expect(chromedp.Do(tab)).To(Succeed(), "start Chromium at %s", chrome)
	problems := watchConsole(tab)

	do := func(actions ...chromedp.Action[chromedp.Void]) {
		GinkgoHelper()
		Expect(chromedp.Do(tab, actions...)).To(Succeed())
	}
	textOf := func(sel string) string {
		GinkgoHelper()
		s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		Expect(err).NotTo(HaveOccurred(), sel)
		return s
	}
	// heading reads the page's h1 by script, so that it can poll across a navigation.
	heading := func() string {
		h, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("main h1")?.textContent ?? ""`))
		return h
	}
	// follow clicks a link found by XPath and waits for the next page's heading.
	follow := func(xpath, wantHeading string) {
		GinkgoHelper()
		do(chromedp.Click(xpath), chromedp.WaitVisible(chromedp.CSS("main h1")))
		Eventually(heading).WithTimeout(10 * time.Second).Should(Equal(wantHeading))
	}

	By("the start page lists the post's stream")
	do(chromedp.Navigate(url+"/_consequent/"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	Expect(heading()).To(Equal("History"))
	shots.take(tab, "01-start")

	By("the post's stream: its events under their commands, the content shown as text")
	follow(fmt.Sprintf(`//a[@href="/_consequent/streams/%s"]`, postID), "blog.Post "+postID)
	Expect(textOf("#v4 pre")).To(ContainSubstring(`"content": "Hello <script>document.title=\"pwned\"</script> World"`))
	title, err := chromedp.Run(tab, chromedp.Title())
	Expect(err).NotTo(HaveOccurred())
	Expect(title).To(HavePrefix("blog.Post "), "the payload's script did not run")
	Expect(textOf("#state-text")).To(ContainSubstring(`"published": true`))
	Expect(textOf("#spec-text")).To(ContainSubstring(`When(blog.PublishPost{PostID: postID}, es.ByUser("ben")).`))
	shots.take(tab, "02-stream")

	By("the copy button, which the script shows, copies the spec")
	do(chromedp.WaitVisible(chromedp.CSS("button.copy")))
	_, err = chromedp.CallBrowser(tab, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-write", AllowWithoutSanitization: true}, Setting: browser.PermissionSettingGranted})
	Expect(err).NotTo(HaveOccurred())
	_, err = chromedp.CallBrowser(tab, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-read", AllowWithoutSanitization: true}, Setting: browser.PermissionSettingGranted})
	Expect(err).NotTo(HaveOccurred())
	do(chromedp.Click(chromedp.CSS("button.copy")))
	Eventually(func() string { return textOf("button.copy") }).Should(Equal("Copied"))
	copied, err := chromedp.Run(tab, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	Expect(err).NotTo(HaveOccurred())
	spec, err := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS("#spec-text")))
	Expect(err).NotTo(HaveOccurred())
	Expect(copied).To(Equal(spec))

	By("the command that published it, and the events it recorded")
	follow(`//section[@class="command"]/header//a[text()="blog.PublishPost"]`, "Command blog.PublishPost")
	Expect(textOf("#events + section")).To(ContainSubstring("blog.PostPublished"))
	Expect(textOf("#flow + p + ul")).To(ContainSubstring("blog.NotificationQueued"))
	shots.take(tab, "03-command")

	By("the command the publication workflow issued because of that event")
	follow(`//h2[@id="caused"]/following-sibling::table[1]//a[text()="blog.NotifyAuthor"]`, "Command blog.NotifyAuthor")
	fields := textOf("dl.fields")
	Expect(fields).To(ContainSubstring("Issued by a workflow"))
	Expect(fields).To(ContainSubstring("blog.PostPublished, version 5 of blog.Post " + postID))
	Expect(textOf("#events + section")).To(ContainSubstring("blog.NotificationQueued"))
	notifyID := textOf("#command-id")
	shots.take(tab, "04-workflow-command")

	By("back to the event that caused it, in its stream")
	follow(`//dd/a[contains(., "blog.PostPublished, version 5")]`, "blog.Post "+postID)
	location, err := chromedp.Run(tab, chromedp.Location())
	Expect(err).NotTo(HaveOccurred())
	Expect(location).To(HaveSuffix("/_consequent/streams/" + postID + "#v5"))
	shots.take(tab, "05-cause")

	By("search by id, from the box in the header")
	do(chromedp.SendKeys(chromedp.CSS(`header form.search input[name="q"]`), notifyID+"\n"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	Eventually(heading).Should(Equal("Command blog.NotifyAuthor"))
	do(chromedp.SendKeys(chromedp.CSS(`header form.search input[name="q"]`), postID+"\n"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	Eventually(heading).Should(Equal("blog.Post " + postID))
	shots.take(tab, "06-search")

	By("the log, filtered by a type the select submits by itself")
	do(chromedp.Navigate(url+"/_consequent/log"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('select[name="type"]');
		s.value = "blog.PostPublished"; s.dispatchEvent(new Event("change")); })()`))
	Eventually(heading).Should(Equal("The log: blog.PostPublished"))
	rows := textOf("table tbody")
	Expect(rows).To(ContainSubstring("blog.PostPublished"))
	Expect(rows).NotTo(ContainSubstring("blog.PostAdded"))
	shots.take(tab, "07-log")

	By("the projectors")
	do(chromedp.Navigate(url+"/_consequent/projectors"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	Expect(textOf("main")).To(ContainSubstring("post_projector"))
	shots.take(tab, "08-projectors")

	Expect(problems()).To(BeEmpty(), "the browser reported no errors (console, exceptions, Content-Security-Policy)")
	AddReportEntry("screenshots", shots.dir)
}

// call sends a request to the blog's API as user and returns the id it answers
// with, if any.
func call(url, method, path, user, body string) string {
	GinkgoHelper()
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("X-User-ID", user)
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(BeNumerically("<", 300), "%s %s", method, path)
	var created struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	return created.ID
}

// chromium finds the browser: $CONSEQUENT_CHROMIUM, else one on the PATH. Without
// one the spec is skipped, but fails under CI (CI=true), where .ci/run installs it.
func chromium() string {
	GinkgoHelper()
	if p := os.Getenv("CONSEQUENT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium for the browser specs: install it (apt-get install -y chromium) or set CONSEQUENT_CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		Fail(msg + " (under CI a missing Chromium is a failure)")
	}
	Skip(msg)
	return ""
}

// watchConsole collects what the page reports as going wrong: console errors,
// uncaught exceptions and log entries of level error (a Content-Security-Policy
// violation is one). The returned func lists them so far.
func watchConsole(tab context.Context) func() []string {
	GinkgoHelper()
	var (
		mu       sync.Mutex
		problems []string
	)
	add := func(s string) {
		mu.Lock()
		problems = append(problems, s)
		mu.Unlock()
	}
	console := chromedp.Events(tab, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(tab, runtime.ExceptionThrown)
	entries := chromedp.Events(tab, cdplog.EntryAdded)
	_, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				add("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			add("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Source == cdplog.EntrySourceSecurity {
				add(fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// shotDir saves screenshots in one folder.
type shotDir struct{ dir string }

// screenshots makes (empty) the folder of one run's screenshots: under
// $CONSEQUENT_TEST_OUTPUT, else the repository's test-output (ignored by git).
func screenshots(backend string) shotDir {
	GinkgoHelper()
	root := os.Getenv("CONSEQUENT_TEST_OUTPUT")
	if root == "" {
		var err error
		root, err = filepath.Abs(filepath.Join("..", "..", "test-output"))
		Expect(err).NotTo(HaveOccurred())
	}
	dir := filepath.Join(root, "browser", backend)
	Expect(os.RemoveAll(dir)).To(Succeed())
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	return shotDir{dir}
}

func (s shotDir) take(tab context.Context, name string) {
	GinkgoHelper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644)).To(Succeed())
}
