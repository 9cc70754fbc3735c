package blog_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
)

// postSpecs are the command specs of posts: given the post's history, when a
// command runs, then these events (or this error).
func postSpecs(backend estest.Backend) {
	blogSpec := estest.New(blog.Register, estest.Options{Backend: backend})
	postID := estest.ID(1)
	added := addedPost()

	Describe("AddPost", func() {
		It("adds a post, one event per field", func() {
			blogSpec.
				When(blog.AddPost{PostID: postID, Author: "ben", Title: "My first blogpost", Content: "Hello World!"}).
				Then(added...)
		})

		It("refuses blank fields, naming each", func() {
			blogSpec.
				When(blog.AddPost{PostID: postID, Author: " "}).
				ThenFails(invalid(map[string][]string{
					"author":  {"can't be blank"},
					"title":   {"can't be blank"},
					"content": {"can't be blank"},
				}))
		})

		It("requires an id", func() {
			blogSpec.
				When(blog.AddPost{Author: "ben", Title: "T", Content: "C"}).
				ThenFails(estest.Invalid("post_id"))
		})

		It("refuses an id that is taken", func() {
			blogSpec.Given(postID, added...).
				When(blog.AddPost{PostID: postID, Author: "kim", Title: "T", Content: "C"}).
				ThenFails(es.ErrAggregateExists)
		})
	})

	Describe("ChangePostTitle", func() {
		It("changes the title", func() {
			blogSpec.Given(postID, added...).
				When(blog.ChangePostTitle{PostID: postID, Title: "My second thoughts"}).
				Then(blog.PostTitleChanged{Title: "My second thoughts"})
		})

		It("records nothing when the title is unchanged", func() {
			blogSpec.Given(postID, added...).
				When(blog.ChangePostTitle{PostID: postID, Title: "My first blogpost"}).
				ThenNoEvents()
		})

		It("refuses a blank title", func() {
			blogSpec.Given(postID, added...).
				When(blog.ChangePostTitle{PostID: postID, Title: ""}).
				ThenFails(invalid(map[string][]string{"title": {"can't be blank"}}))
		})

		It("fails for an unknown post", func() {
			blogSpec.
				When(blog.ChangePostTitle{PostID: postID, Title: "T"}).
				ThenFails(es.ErrAggregateNotFound)
		})
	})

	Describe("PublishPost", func() {
		It("publishes the post at the current time", func() {
			blogSpec.Given(postID, added...).
				AdvanceClock(time.Hour).
				When(blog.PublishPost{PostID: postID}).
				Then(blog.PostPublished{PublishedAt: estest.DefaultStart().Add(time.Hour)})
		})

		It("refuses to publish twice", func() {
			blogSpec.Given(postID, added...).
				Given(postID, blog.PostPublished{PublishedAt: estest.DefaultStart()}).
				When(blog.PublishPost{PostID: postID}).
				ThenFails(blog.ErrAlreadyPublished)
		})

		It("fails for an unknown post", func() {
			blogSpec.
				When(blog.PublishPost{PostID: postID}).
				ThenFails(es.ErrAggregateNotFound)
		})

		It("fails for the id of an author", func() {
			authorID := estest.ID(2)
			blogSpec.Given(authorID, blog.AuthorAdded{Name: "Ben"}).
				When(blog.PublishPost{PostID: authorID}).
				ThenFails(es.ErrAggregateType)
		})
	})

	Describe("ArchivePost", func() {
		It("archives the post", func() {
			blogSpec.Given(postID, added...).
				When(blog.ArchivePost{PostID: postID}).
				Then(blog.PostArchived{})
		})

		It("records nothing when the post is archived already", func() {
			blogSpec.Given(postID, added...).
				Given(postID, blog.PostArchived{}).
				When(blog.ArchivePost{PostID: postID}).
				ThenNoEvents()
		})

		It("archives a published post", func() {
			blogSpec.Given(postID, added...).
				Given(postID, blog.PostPublished{PublishedAt: estest.DefaultStart()}).
				When(blog.ArchivePost{PostID: postID}).
				Then(blog.PostArchived{})
		})

		It("fails for an unknown post", func() {
			blogSpec.
				When(blog.ArchivePost{PostID: postID}).
				ThenFails(es.ErrAggregateNotFound)
		})
	})
}

// invalid matches a *es.ValidationError with exactly these fields and messages.
func invalid(fields map[string][]string) any {
	return WithTransform(func(err error) map[string][]string {
		if ve, ok := errors.AsType[*es.ValidationError](err); ok {
			return ve.Fields
		}
		return nil
	}, Equal(fields))
}
