package cli_test

import (
	"context"
	"encoding/json"
	"syscall"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/pgstore/pgtest"
)

// shown is a stream as events show --json prints it.
type shown struct {
	StreamID uuid.UUID `json:"stream_id"`
	Type     string
	Version  int64
	AsOf     int64 `json:"as_of"`
	Events   []struct {
		Version   int64
		Type      string
		Payload   map[string]any
		CommandID uuid.UUID `json:"command_id"`
		Command   struct {
			ID          uuid.UUID
			Type        string
			User        string
			CausationID *uuid.UUID `json:"causation_id"`
			Payload     map[string]any
		}
	}
}

var _ = Describe("events and commands", Label(pgtest.Label), func() {
	var (
		dsn string
		h   history
	)
	BeforeEach(func(ctx SpecContext) {
		dsn = newDatabase(ctx, true)
		h = seed(ctx, dsn, 2)
	})

	It("shows a stream's events, decoded, under the command behind them", func(ctx SpecContext) {
		post := h.posts[0].String()
		out := succeeds(blogCmd(ctx, dsn, "events", "show", post))
		Expect(out).To(MatchRegexp(`^blog.Post ` + post + `, version 6\n` +
			`\n\S+Z  blog.AddPost \S+ by ben\n` +
			`  \{[^\n]*"title":"Post 1"[^\n]*\}\n` + // as stored: jsonb orders the keys its way
			`  1  blog.PostAdded           \{\}\n` +
			`  2  blog.PostAuthorChanged   \{"author":"ben"\}\n` +
			`  3  blog.PostTitleChanged    \{"title":"Post 1"\}\n` +
			`  4  blog.PostContentChanged  \{"content":"Hello"\}\n` +
			`\n\S+Z  blog.PublishPost \S+ by ben\n` +
			`  \{"post_id":"` + post + `"\}\n` +
			`  5  blog.PostPublished  \{"published_at":"\S+"\}\n` +
			`\n\S+Z  blog.ChangePostTitle \S+ by ben\n` +
			`  \{[^\n]*"title":"Hello, world"[^\n]*\}\n` +
			`  6  blog.PostTitleChanged  \{"title":"Hello, world"\}\n$`))

		By("as of a version")
		out = succeeds(blogCmd(ctx, dsn, "events", "show", post, "--as-of", "4"))
		Expect(out).To(HavePrefix("blog.Post " + post + ", version 6, shown as of version 4\n"))
		Expect(out).To(ContainSubstring("  4  blog.PostContentChanged  "))
		Expect(out).NotTo(ContainSubstring("blog.PublishPost"))

		By("for scripts")
		var s shown
		Expect(json.Unmarshal([]byte(succeeds(blogCmd(ctx, dsn, "events", "show", post, "--json"))), &s)).To(Succeed())
		Expect(s.Type).To(Equal("blog.Post"))
		Expect(s.Version).To(Equal(int64(6)))
		Expect(s.Events).To(HaveLen(6))
		Expect(s.Events[5].Payload).To(Equal(map[string]any{"title": "Hello, world"}))
		Expect(s.Events[5].Command.Type).To(Equal("blog.ChangePostTitle"))
		Expect(s.Events[5].Command.ID).To(Equal(s.Events[5].CommandID))
		Expect(s.Events[0].Command.Payload).To(HaveKeyWithValue("title", "Post 1"))
	})

	It("shows the command a workflow issued, with the event that caused it", func(ctx SpecContext) {
		var post shown
		Expect(json.Unmarshal([]byte(succeeds(blogCmd(ctx, dsn, "events", "show", h.posts[0].String(), "--json"))), &post)).To(Succeed())
		published := post.Events[4]
		Expect(published.Type).To(Equal("blog.PostPublished"))

		notification := notificationOf(ctx, dsn)
		var n shown
		Expect(json.Unmarshal([]byte(succeeds(blogCmd(ctx, dsn, "events", "show", notification.String(), "--json"))), &n)).To(Succeed())
		cmd := n.Events[0].Command
		Expect(cmd.Type).To(Equal("blog.NotifyAuthor"))
		Expect(cmd.CausationID).NotTo(BeNil())
		out := succeeds(blogCmd(ctx, dsn, "events", "show", notification.String()))
		Expect(out).To(ContainSubstring("blog.NotifyAuthor " + cmd.ID.String() + " by ben, issued by a workflow on event " + cmd.CausationID.String() + "\n"))

		out = succeeds(blogCmd(ctx, dsn, "commands", "show", cmd.ID.String()))
		Expect(out).To(MatchRegexp(`^command      blog.NotifyAuthor\n` +
			`id           ` + cmd.ID.String() + `\n` +
			`time         \d{4}-\d\d-\d\dT\S+Z\n` +
			`user         ben\n` +
			`correlation  ` + published.CommandID.String() + `\n` +
			`caused by    event ` + cmd.CausationID.String() + ` \(a workflow issued it\)\n` +
			`payload      \{[^\n]*"notification_id":"` + notification.String() + `"[^\n]*\}\n$`))

		var c struct {
			ID            uuid.UUID
			Type          string
			User          string
			CorrelationID uuid.UUID  `json:"correlation_id"`
			CausationID   *uuid.UUID `json:"causation_id"`
			Payload       map[string]any
		}
		Expect(json.Unmarshal([]byte(succeeds(blogCmd(ctx, dsn, "commands", "show", cmd.ID.String(), "--json"))), &c)).To(Succeed())
		Expect(c.Type).To(Equal("blog.NotifyAuthor"))
		Expect(c.CorrelationID).To(Equal(published.CommandID))
		Expect(c.Payload).To(HaveKeyWithValue("post_id", h.posts[0].String()))
	})

	It("says when a stream or a command does not exist", func(ctx SpecContext) {
		id := uuid.Must(uuid.NewV7()).String()
		failsWith(blogCmd(ctx, dsn, "events", "show", id), 1, `blog: no stream `+id+` in database "`+databaseName(dsn)+`"`)
		failsWith(blogCmd(ctx, dsn, "commands", "show", id), 1, `blog: no command `+id+` in database "`+databaseName(dsn)+`"`)
		failsWith(blogCmd(ctx, dsn, "events", "tail", "--type", "blog.Nope"), 2,
			`blog: unknown type "blog.Nope": give an aggregate type (blog.Author, blog.Notification, blog.Post) or one of their event types`)
	})

	It("tails the log, of a type, until interrupted", func(ctx SpecContext) {
		tail, err := gexec.Start(command(context.WithoutCancel(ctx), blogBin, nil, "events", "tail", "-n", "2", "--type", "blog.Post", "--database-url", dsn),
			GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(tail.Kill)
		Eventually(tail.Out).Should(gbytes.Say(`\S+Z  blog.Post ` + h.posts[0].String() + ` v5  blog.PostPublished  \{"published_at":"\S+"\}  command blog.PublishPost by ben\n`))
		Eventually(tail.Out).Should(gbytes.Say(`\S+Z  blog.Post ` + h.posts[0].String() + ` v6  blog.PostTitleChanged  \{"title":"Hello, world"\}  command blog.ChangePostTitle by ben\n`))

		svc := service(ctx, dsn)
		Expect(svc.Execute(ctx, blog.AddAuthor{AuthorID: uuid.Must(uuid.NewV7()), Name: "Ann", Email: "ann@example.com"})).To(estest.Committed())
		Expect(svc.Execute(ctx, blog.ArchivePost{PostID: h.posts[1]}, es.ByUser("ann"))).To(estest.Committed())
		Eventually(tail.Out).Should(gbytes.Say(`\S+Z  blog.Post ` + h.posts[1].String() + ` v5  blog.PostArchived  \{\}  command blog.ArchivePost by ann\n`))
		Consistently(tail.Out, 200*time.Millisecond).ShouldNot(gbytes.Say("blog.Author"), "only the events of posts")
		tail.Signal(syscall.SIGINT)
		Eventually(tail).WithTimeout(10 * time.Second).Should(gexec.Exit(0))
	})

	It("tails the log as JSON, one object per line", func(ctx SpecContext) {
		// The newest event of the log is the workflow's notification, then the retitle.
		tail, err := gexec.Start(command(context.WithoutCancel(ctx), blogBin, nil, "events", "tail", "-n", "1", "--type", "blog.PostTitleChanged", "--json", "--database-url", dsn),
			GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(tail.Kill)
		Eventually(tail.Out).Should(gbytes.Say(`\n`))
		var ev struct {
			StreamID uuid.UUID `json:"stream_id"`
			Version  int64
			Type     string
			Payload  map[string]any
			Command  struct{ Type string }
		}
		Expect(json.Unmarshal(tail.Out.Contents(), &ev)).To(Succeed())
		Expect(ev.StreamID).To(Equal(h.posts[0]))
		Expect(ev.Type).To(Equal("blog.PostTitleChanged"))
		Expect(ev.Command.Type).To(Equal("blog.ChangePostTitle"))
		tail.Signal(syscall.SIGINT)
		Eventually(tail).WithTimeout(10 * time.Second).Should(gexec.Exit(0))
	})
})

// notificationOf returns the notification the publication workflow queued.
func notificationOf(ctx context.Context, dsn string) uuid.UUID {
	GinkgoHelper()
	var id uuid.UUID
	Expect(pgxPool(ctx, dsn).QueryRow(ctx, `SELECT stream_id FROM consequent.streams WHERE type = 'blog.Notification'`).Scan(&id)).To(Succeed())
	return id
}
