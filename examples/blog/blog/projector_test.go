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
			opts := projectortest.Options{Backend: backend, ReplayTwice: true, Async: mode.async}
			postProjectorSpecs(projectortest.New(blog.Register, blog.NewPostProjector(), opts))
			postProjectorV2Specs(projectortest.New(blog.RegisterV2, blog.NewPostProjectorV2(), opts))
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
			at := estest.DefaultStart()
			published := record
			published.PublishedAt = &at
			posts.Given(postID, added...).
				Given(postID, blog.PostPublished{PublishedAt: estest.DefaultStart()}).
				ThenRecords(blog.PostRecords, published)
		})

		It("keeps one row per post", func() {
			other := blog.PostRecord{AggregateID: otherID, Author: "kim", Title: "Kim's post", Content: "Hi"}
			posts.Given(otherID, blog.PostAdded{}, blog.PostAuthorChanged{Author: "kim"},
				blog.PostTitleChanged{Title: "Kim's post"}, blog.PostContentChanged{Content: "Hi"}).
				Given(postID, added...).
				ThenRecords(blog.PostRecords, record, other)
		})

		It("leaves an archived post as it was: version 1 has no archived column", func() {
			posts.Given(postID, added...).
				Given(postID, blog.PostArchived{}).
				ThenRecords(blog.PostRecords, record)
		})

		It("ignores the events of other aggregates", func() {
			posts.Given(otherID, blog.AuthorAdded{Name: "Ben"}, blog.AuthorEmailChanged{Email: "ben@example.com"}).
				ThenNoRecords(blog.PostRecords)
		})
	})
}

// postProjectorV2Specs: version 2 keeps what version 1 keeps, and whether the
// post is archived.
func postProjectorV2Specs(posts *projectortest.Fixture) {
	postID, otherID := estest.ID(1), estest.ID(2)
	added := addedPost()
	record := blog.PostRecordV2{AggregateID: postID, Author: "ben", Title: "My first blogpost", Content: "Hello World!"}

	Describe("PostProjector version 2", func() {
		It("adds a row for a new post, not archived", func() {
			posts.Given(postID, added...).
				ThenRecords(blog.PostRecordsV2, record)
		})

		It("marks an archived post archived", func() {
			archived := record
			archived.Archived = true
			posts.Given(postID, added...).
				Given(postID, blog.PostArchived{}).
				ThenRecords(blog.PostRecordsV2, archived)
		})

		It("keeps the other columns of an archived post as they change", func() {
			at := estest.DefaultStart()
			archived := record
			archived.Title, archived.PublishedAt, archived.Archived = "Second thoughts", &at, true
			posts.Given(postID, added...).
				Given(postID, blog.PostArchived{}).
				Given(postID, blog.PostTitleChanged{Title: "Second thoughts"}, blog.PostPublished{PublishedAt: at}).
				ThenRecords(blog.PostRecordsV2, archived)
		})

		It("archives only the post archived", func() {
			archived := record
			archived.Archived = true
			other := blog.PostRecordV2{AggregateID: otherID, Author: "kim", Title: "Kim's post", Content: "Hi"}
			posts.Given(otherID, blog.PostAdded{}, blog.PostAuthorChanged{Author: "kim"},
				blog.PostTitleChanged{Title: "Kim's post"}, blog.PostContentChanged{Content: "Hi"}).
				Given(postID, added...).
				Given(postID, blog.PostArchived{}).
				ThenRecords(blog.PostRecordsV2, archived, other)
		})
	})
}
