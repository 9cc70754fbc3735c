package cli_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/spf13/cobra"

	"github.com/consequent/consequent/cli"
	"github.com/consequent/consequent/examples/blog/blog"
)

var _ = Describe("the blog's command line", func() {
	It("serves without a command, with the blog's own flags, until interrupted", func(ctx SpecContext) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := l.Addr().String()
		Expect(l.Close()).To(Succeed())
		s, err := gexec.Start(command(ctx, blogBin, nil, "-addr", addr), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() (int, error) {
			resp, err := http.Get("http://" + addr + "/posts")
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}).WithTimeout(10 * time.Second).Should(Equal(http.StatusOK))
		s.Signal(syscall.SIGINT)
		Eventually(s).WithTimeout(15 * time.Second).Should(gexec.Exit(0))
	})

	It("lists the commands in its help", func(ctx SpecContext) {
		help := succeeds(run(ctx, blogBin, nil, "--help"))
		Expect(help).To(ContainSubstring("blog [-addr :8080] [-database-url URL]"))
		for _, c := range []string{"commands", "db", "events", "projections", "snapshots"} {
			Expect(help).To(MatchRegexp(`(?m)^  %s\s+\S`, c))
		}
		Expect(succeeds(run(ctx, blogBin, nil, "projections", "--help"))).To(ContainSubstring("Usage:\n  blog projections\n  blog projections [command]\n"))
		Expect(succeeds(run(ctx, blogBin, nil, "projections", "rebuild", "--help"))).To(ContainSubstring("blog projections rebuild NAME|--all [flags]"))
	})

	DescribeTable("refuses misuse with one line and exit code 2",
		func(ctx SpecContext, msg string, args ...string) {
			failsWith(run(ctx, blogBin, nil, args...), 2, msg)
		},
		Entry("an unknown command", `blog: unknown command "bogus" for "blog" (see blog --help)`, "bogus"),
		Entry("an unknown subcommand", `blog: unknown command "bogus" for "blog db" (see blog db --help)`, "db", "bogus"),
		Entry("a missing subcommand", `blog: missing command: create, migrate, status (see blog db --help)`, "db"),
		Entry("an unknown flag", `blog: unknown flag: --bogus (see blog projections status --help)`, "projections", "status", "--bogus"),
		Entry("an unknown flag of the server", `blog: flag provided but not defined: -bogus (flags: -addr, -database-url, -browser, -otel, -log-level; see blog --help for the commands)`, "-bogus"),
		Entry("no database", `blog: no database: pass --database-url or set CONSEQUENT_DATABASE_URL`, "projections", "status"),
		Entry("a malformed database URL", `blog: --database-url: cannot parse `+"`nonsense://x`"+`: failed to parse as keyword/value (invalid keyword/value)`,
			"db", "status", "--database-url", "nonsense://x"),
		Entry("a malformed stream id", `blog: malformed stream id "42": want a UUID such as 01a208f7-4c9c-7d3e-9a1b-2f5c6d7e8f90`, "events", "show", "42"),
		Entry("a malformed command id", `blog: malformed command id "x": want a UUID such as 01a208f7-4c9c-7d3e-9a1b-2f5c6d7e8f90`, "commands", "show", "x"),
		Entry("a missing argument", `blog: usage: blog events show STREAM [--as-of VERSION] [flags]`, "events", "show"),
		Entry("rebuild without a projector", `blog: usage: blog projections rebuild NAME|--all [flags] (a projector's name, or --all)`, "projections", "rebuild"),
		Entry("rebuild of a projector and --all", `blog: usage: blog projections rebuild NAME|--all [flags] (a projector's name, or --all)`, "projections", "rebuild", "x", "--all"),
		Entry("prune without --keep", `blog: usage: blog snapshots prune --keep N [--type T] [flags] (how many snapshots of each aggregate to keep, 0 or more)`, "snapshots", "prune"),
		Entry("a version before the first", `blog: --as-of 0: versions start at 1`, "events", "show", "01a208f7-4c9c-7d3e-9a1b-2f5c6d7e8f90", "--as-of", "0"),
	)

	It("says when the server cannot be reached", func(ctx SpecContext) {
		r := blogCmd(ctx, "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=2", "db", "status")
		Expect(r.code).To(Equal(1))
		Expect(r.err).To(HavePrefix("blog: connect to the database: "))
		Expect(r.err).To(HaveSuffix("\n"))
		Expect(r.err).NotTo(ContainSubstring("\n\t"), "no stack trace")
	})
})

var _ = Describe("an application's own commands", func() {
	It("exit 1 on an error, with an ExitError's code, 2 for cobra's misuse", func(ctx SpecContext) {
		root := cli.Command(blog.Register, cli.Name("app"))
		root.AddCommand(&cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return errors.New("it broke\nand more") }},
			&cobra.Command{Use: "refuse", RunE: func(*cobra.Command, []string) error {
				return &cli.ExitError{Code: cli.ExitMisuse, Err: errors.New("not like that")}
			}},
			&cobra.Command{Use: "one", Args: cobra.ExactArgs(1), Run: func(*cobra.Command, []string) {}})
		var stderr bytes.Buffer
		root.SetErr(&stderr)
		for _, c := range []struct {
			args []string
			code int
			msg  string
		}{
			{[]string{"fail"}, 1, "app: it broke\n"},
			{[]string{"refuse"}, 2, "app: not like that\n"},
			{[]string{"one"}, 2, "app: accepts 1 arg(s), received 0\n"},
			{[]string{"one", "x"}, 0, ""},
		} {
			stderr.Reset()
			Expect(cli.Execute(ctx, root, c.args)).To(Equal(c.code), "%v", c.args)
			Expect(stderr.String()).To(Equal(c.msg))
		}
	})
})
