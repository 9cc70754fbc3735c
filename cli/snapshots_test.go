package cli_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/pgstore/pgtest"
)

var _ = Describe("snapshots", Label(pgtest.Label), func() {
	It("takes, counts and prunes the snapshots of the posts", func(ctx SpecContext) {
		dsn := newDatabase(ctx, true)
		h := seed(ctx, dsn, 3)
		header := `^AGGREGATE\s+EVERY\s+SCHEMA\s+STREAMS\s+EVENTS\s+SNAPSHOTTED\s+SNAPSHOTS\s+OTHER SCHEMAS\s+EVENTS LOADS REPLAY\n` +
			`blog.Author\s+-\s+-\s+1\s+2\s+-\s+-\s+-\s+2\n` +
			`blog.Notification\s+-\s+-\s+1\s+1\s+-\s+-\s+-\s+1\n`
		Expect(succeeds(blogCmd(ctx, dsn, "snapshots", "status"))).To(MatchRegexp(header + `blog.Post\s+100\s+1\s+3\s+14\s+0\s+0\s+0\s+14\n$`))

		r := blogCmd(ctx, dsn, "snapshots", "take")
		Expect(succeeds(r)).To(Equal("blog.Post: 3 snapshots taken, 0 aggregates current already\n"))
		Expect(r.err).To(Equal("blog.Post snapshots: take 1/3 (33%)\nblog.Post snapshots: done 3/3 (100%)\n"))
		Expect(succeeds(blogCmd(ctx, dsn, "snapshots", "take", "--type", "blog.Post"))).To(
			Equal("blog.Post: 0 snapshots taken, 3 aggregates current already\n"))
		Expect(succeeds(blogCmd(ctx, dsn, "snapshots", "status"))).To(MatchRegexp(header + `blog.Post\s+100\s+1\s+3\s+14\s+3\s+3\s+0\s+0\n$`))

		By("loading the posts from their snapshots")
		svc := service(ctx, dsn)
		Expect(svc.Execute(ctx, blog.PublishPost{PostID: h.posts[0]})).Error().To(MatchError(blog.ErrAlreadyPublished))
		Expect(svc.Execute(ctx, blog.PublishPost{PostID: h.posts[1]})).To(estest.Committed())
		Expect(succeeds(blogCmd(ctx, dsn, "snapshots", "take"))).To(Equal("blog.Post: 1 snapshot taken, 2 aggregates current already\n"))

		var st []struct {
			Aggregate   string
			Every       int
			Snapshotted int64
			Snapshots   int64
			Replayed    int64
		}
		Expect(json.Unmarshal([]byte(succeeds(blogCmd(ctx, dsn, "snapshots", "status", "--json"))), &st)).To(Succeed())
		Expect(st).To(HaveLen(3))
		Expect(st[2].Aggregate).To(Equal("blog.Post"))
		Expect([]int64{int64(st[2].Every), st[2].Snapshotted, st[2].Snapshots, st[2].Replayed}).To(Equal([]int64{100, 3, 4, 0}))

		Expect(succeeds(blogCmd(ctx, dsn, "snapshots", "prune", "--keep", "1"))).To(
			Equal("blog.Post: 1 snapshot deleted, the newest 1 of each aggregate kept (schema 1)\n"))
		Expect(succeeds(blogCmd(ctx, dsn, "snapshots", "prune", "--keep", "0", "--type", "blog.Post"))).To(
			Equal("blog.Post: 3 snapshots deleted, the newest 0 of each aggregate kept (schema 1)\n"))
		Expect(succeeds(blogCmd(ctx, dsn, "snapshots", "status"))).To(MatchRegexp(`(?m)^blog.Post\s+100\s+1\s+3\s+15\s+0\s+0\s+0\s+15\n\z`))
	})

	It("refuses a type that takes no snapshots, and an unknown one", func(ctx SpecContext) {
		dsn := newDatabase(ctx, true)
		failsWith(blogCmd(ctx, dsn, "snapshots", "take", "--type", "blog.Author"), 2,
			"blog: aggregate type blog.Author takes no snapshots (register it with es.SnapshotEvery); those that do: blog.Post")
		failsWith(blogCmd(ctx, dsn, "snapshots", "prune", "--keep", "1", "--type", "blog.Nope"), 2,
			`blog: unknown aggregate type "blog.Nope": the types are blog.Author, blog.Notification, blog.Post`)
	})
})
