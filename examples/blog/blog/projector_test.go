package blog_test

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/projectortest"
)

// projectorSpecs: given a post's events, then these post_records rows. Every spec
// replays the events a second time and requires the same rows: the projector is
// idempotent, so rebuilding or resuming it is safe. The specs run with the
// projector inline and again async (an es.ProjectionWorker catching up).
func projectorSpecs(backend estest.Backend) {
	for _, mode := range []struct {
		name  string
		async bool
	}{{"inline", false}, {"async", true}} {
		Describe(mode.name, func() {
			postProjectorSpecs(projectortest.New(blog.Register, blog.NewPostProjector(),
				projectortest.Options{Backend: backend, ReplayTwice: true, Async: mode.async}))
		})
	}
}

func postProjectorSpecs(posts *projectortest.Fixture) {
	postID, otherID := estest.ID(1), estest.ID(2)
	added := addedPost()
	record := blog.PostRecord{AggregateID: postID, Author: "ben", Title: "My first blogpost", Content: "Hello World!"}

	Describe("PostProjector", func() {
		It("adds a row for a new post", func() {
			posts.Given(postID, added...).
				ThenRecords(blog.PostRecords, record)
		})

		It("follows title changes", func() {
			changed := record
			changed.Title = "Second thoughts"
			posts.Given(postID, added...).
				Given(postID, blog.PostTitleChanged{Title: "Second thoughts"}).
				ThenRecords(blog.PostRecords, changed)
		})

		It("records when the post was published", func() {
			at := estest.DefaultStart
			published := record
			published.PublishedAt = &at
			posts.Given(postID, added...).
				Given(postID, blog.PostPublished{PublishedAt: estest.DefaultStart}).
				ThenRecords(blog.PostRecords, published)
		})

		It("keeps one row per post", func() {
			other := blog.PostRecord{AggregateID: otherID, Author: "kim", Title: "Kim's post", Content: "Hi"}
			posts.Given(otherID, blog.PostAdded{}, blog.PostAuthorChanged{Author: "kim"},
				blog.PostTitleChanged{Title: "Kim's post"}, blog.PostContentChanged{Content: "Hi"}).
				Given(postID, added...).
				ThenRecords(blog.PostRecords, record, other)
		})

		It("ignores the events of other aggregates", func() {
			posts.Given(otherID, blog.AuthorAdded{Name: "Ben"}, blog.AuthorEmailChanged{Email: "ben@example.com"}).
				ThenNoRecords(blog.PostRecords)
		})
	})
}
