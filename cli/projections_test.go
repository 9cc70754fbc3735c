package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	. "github.com/onsi/gomega/gstruct"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/pgstore/pgtest"
)

// v2 is the environment of blogx with version 2 of the post projector.
var v2 = []string{"BLOGX=v2"}

var _ = Describe("projections", Label(pgtest.Label), func() {
	It("shows each projector's status", func(ctx SpecContext) {
		dsn := newDatabase(ctx, true)
		seed(ctx, dsn, 3)
		status := succeeds(blogCmd(ctx, dsn, "projections", "status"))
		Expect(status).To(MatchRegexp(`^PROJECTOR\s+MODE\s+VERSION\s+SERVING\s+BUILDING\s+PHASE\s+PROGRESS\s+CHECKPOINT\s+LAG\n` +
			`post_projector\s+inline\s+1\s+1\s+-\s+serving\s+-\s+-\s+-\n$`))

		By("showing a deployed version 2 waiting for its tables")
		status = succeeds(run(ctx, blogxBin, v2, "projections", "status", "--database-url", dsn))
		Expect(status).To(MatchRegexp(`(?m)^post_projector\s+inline\s+2\s+1\s+-\s+waiting\s`))
		Expect(status).To(HaveSuffix("\npost_projector: version 2 waits for its tables: run blogx projections rebuild post_projector, or start the application\n"))

		var ps []struct {
			Projector string
			Async     bool
			Version   int
			Serving   int
			Building  int
			Phase     string
			Stale     bool
		}
		Expect(json.Unmarshal([]byte(succeeds(run(ctx, blogxBin, v2, "projections", "status", "--json", "--database-url", dsn))), &ps)).To(Succeed())
		Expect(ps).To(HaveLen(1))
		Expect(ps[0]).To(MatchFields(IgnoreExtras, Fields{"Projector": Equal("post_projector"), "Version": Equal(2), "Serving": Equal(1),
			"Phase": Equal("waiting"), "Stale": BeTrue(), "Async": BeFalse()}))
	})

	It("rebuilds version 2 over version 1's tables, a plain line per phase without a terminal", func(ctx SpecContext) {
		dsn := newDatabase(ctx, true)
		h := seed(ctx, dsn, 40)
		svc := service(ctx, dsn)
		Expect(svc.Execute(ctx, blog.ArchivePost{PostID: h.posts[1]})).To(estest.Committed())

		r := run(ctx, blogxBin, v2, "projections", "rebuild", "post_projector", "--chunk", "50", "--database-url", dsn)
		// The events the projector handles: the posts', their publication,
		// retitling and archiving.
		Expect(r.code).To(Equal(0), r.err)
		Expect(r.out).To(MatchRegexp(`^post_projector: version 2 serves, rebuilt from 163 events in \S+ \(\d+ events/s\)\n$`))
		lines := strings.Split(strings.TrimSuffix(r.err, "\n"), "\n")
		var phases []string // in order, each once: a slow phase may write a line every few seconds
		for _, l := range lines {
			Expect(l).To(MatchRegexp(`^post_projector v2: \S+ \d+/\d+ \(\d+%\)(, \d+ events/s)?(, \S+ left)?$`))
			if phase := strings.Fields(l)[2]; len(phases) == 0 || phases[len(phases)-1] != phase {
				phases = append(phases, phase)
			}
		}
		Expect(phases).To(Equal([]string{"replay", "index", "catch-up", "swap", "done"}))
		// The total counts what the log's watermark lets through at the start: a
		// transaction in flight elsewhere on the server may hold back the last.
		Expect(lines[0]).To(MatchRegexp(`^post_projector v2: replay 0/16[0-3] \(0%\)$`))
		Expect(lines[len(lines)-1]).To(MatchRegexp(`^post_projector v2: done 163/163 \(100%\), \d+ events/s$`))
		Expect(r.err).NotTo(ContainSubstring("\r"))

		Expect(succeeds(run(ctx, blogxBin, v2, "projections", "status", "--database-url", dsn))).To(
			MatchRegexp(`(?m)^post_projector\s+inline\s+2\s+2\s+-\s+serving\s+-\s+-\s+-$`))
		By("serving the new column")
		var archived int
		Expect(pgxPool(ctx, dsn).QueryRow(ctx, `SELECT count(*) FROM consequent_views.post_records WHERE archived`).Scan(&archived)).To(Succeed())
		Expect(archived).To(Equal(1))

		By("rebuilding every projector, the serving version too")
		r = run(ctx, blogxBin, v2, "projections", "rebuild", "--all", "--database-url", dsn)
		Expect(r.code).To(Equal(0), r.err)
		Expect(r.out).To(HavePrefix("post_projector: version 2 serves, rebuilt from 163 events in "))
	})

	It("draws a progress bar with the rate and the time left on a terminal", func(ctx SpecContext) {
		dsn := newDatabase(ctx, true)
		seed(ctx, dsn, 60)
		cmd := command(ctx, blogxBin, v2, "projections", "rebuild", "post_projector", "--chunk", "20", "--database-url", dsn)
		tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 120})
		Expect(err).NotTo(HaveOccurred())
		out, err := io.ReadAll(tty)
		if !errors.Is(err, syscall.EIO) { // Linux ends a terminal whose process exited so
			Expect(err).NotTo(HaveOccurred())
		}
		_ = tty.Close()
		Expect(cmd.Wait()).To(Succeed())
		screen := string(out)
		GinkgoWriter.Printf("%q\n", screen)
		Expect(screen).To(ContainSubstring("\r"), "the bar redraws its line")
		Expect(screen).To(MatchRegexp(`\rpost_projector v2 replay\s+\d+% \|█*\s*\| \(\d+/242, \d+ events/(s|min|hr)\) \[\S+:\S+\]`),
			"description, bar, count, rate, elapsed and time left")
		Expect(screen).To(MatchRegexp(`post_projector v2 done\s+100% \|█+\| \(242/242, `))
		Expect(screen).To(ContainSubstring("post_projector: version 2 serves, rebuilt from 242 events"))
		Expect(screen).NotTo(ContainSubstring("post_projector v2: replay"), "no plain lines")
	})

	It("refuses an unknown projector, and resuming an inline one", func(ctx SpecContext) {
		dsn := newDatabase(ctx, true)
		failsWith(blogCmd(ctx, dsn, "projections", "rebuild", "nope"), 2,
			`blog: unknown projector "nope": the projectors are post_projector`)
		failsWith(blogCmd(ctx, dsn, "projections", "resume", "nope"), 2,
			`blog: unknown projector "nope": the projectors are post_projector`)
		failsWith(blogCmd(ctx, dsn, "projections", "resume", "post_projector"), 2,
			"blog: projector post_projector runs inline: only async projectors stop at a failing event; to retry a failed rebuild, run blog projections rebuild post_projector")
	})

	It("shows an async projector's checkpoint, lag and failure, and resumes it", func(ctx SpecContext) {
		dsn := newDatabase(ctx, true)
		failFile := filepath.Join(GinkgoT().TempDir(), "fail")
		Expect(os.WriteFile(failFile, nil, 0o600)).To(Succeed())
		async := []string{"BLOGX=async", "BLOGX_FAIL_FILE=" + failFile, "CONSEQUENT_DATABASE_URL=" + dsn}
		worker, err := gexec.Start(command(context.WithoutCancel(ctx), blogxBin, async), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			worker.Signal(syscall.SIGINT)
			Eventually(worker).WithTimeout(15 * time.Second).Should(gexec.Exit(0))
		})
		seed(ctx, dsn, 2)

		type partition struct {
			Name       string
			Checkpoint struct{ Position int64 }
			Lag        int64
			Failed     bool
			Error      string
		}
		status := func() partition {
			var ps []struct {
				Projector  string
				Partitions []partition
			}
			r := run(ctx, blogxBin, async, "projections", "status", "--json")
			Expect(json.Unmarshal([]byte(succeeds(r)), &ps)).To(Succeed())
			Expect(ps).To(HaveLen(2))
			Expect(ps[1].Projector).To(Equal("post_titles"))
			Expect(ps[1].Partitions).To(HaveLen(1))
			return ps[1].Partitions[0]
		}
		Eventually(status).WithTimeout(time.Minute).Should(MatchFields(IgnoreExtras, Fields{
			"Name": Equal("post_titles"), "Failed": BeTrue(), "Lag": BeNumerically(">", 0),
			"Error": ContainSubstring("post_titles is told to fail")}))
		text := succeeds(run(ctx, blogxBin, async, "projections", "status"))
		Expect(text).To(MatchRegexp(`(?m)^post_titles\s+async\s+1\s+1\s+-\s+serving\s+-\s+\d+/\d+\s+\d+ events?, oldest \S+$`))
		Expect(text).To(MatchRegexp(`(?m)^post_titles: stopped: blog.PostTitleChanged of stream \S+ version 3 \(handler at \S+\): post_titles is told to fail; ` +
			`fix the cause, then run blogx projections resume post_titles$`))

		Expect(os.Remove(failFile)).To(Succeed())
		out := succeeds(run(ctx, blogxBin, async, "projections", "resume", "post_titles"))
		Expect(out).To(MatchRegexp(`^post_titles: resumed; it had stopped: blog.PostTitleChanged of stream \S+ version 3 \(handler at \S+\): post_titles is told to fail\n$`))
		Eventually(status).WithTimeout(time.Minute).Should(MatchFields(IgnoreExtras, Fields{
			"Failed": BeFalse(), "Lag": BeZero(), "Error": BeEmpty()}))
		Expect(succeeds(run(ctx, blogxBin, async, "projections", "resume", "post_titles"))).To(Equal("post_titles has not stopped: nothing to resume\n"))
		Expect(succeeds(run(ctx, blogxBin, async, "projections", "status"))).To(MatchRegexp(`(?m)^post_titles\s+async\s+1\s+1\s+-\s+serving\s+-\s+\d+/\d+\s+0 events$`))
	})
})
