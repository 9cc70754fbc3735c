package blog_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
)

// publicationSpecs cover the publication workflow (when a post is published, its
// author is notified) and the NotifyAuthor command it issues.
func publicationSpecs(backend estest.Backend) {
	blogSpec := estest.New(blog.Register, estest.Options{Backend: backend})
	postID := estest.ID(1)
	added := addedPost()

	Describe("the publication workflow", func() {
		It("notifies the author when a post is published", func() {
			blogSpec.Given(postID, added...).
				WhenEvent(postID, blog.PostPublished{PublishedAt: estest.DefaultStart()}).
				ThenCommands(estest.EventLike(blog.NotifyAuthor{PostID: postID}, "NotificationID"))
		})

		It("gives every notification an id of its own", func() {
			blogSpec.Given(postID, added...).
				WhenEvent(postID, blog.PostPublished{PublishedAt: estest.DefaultStart()}).
				ThenCommands(HaveField("NotificationID", Not(BeZero())))
		})

		It("ignores other events", func() {
			blogSpec.Given(postID, added...).
				WhenEvent(postID, blog.PostTitleChanged{Title: "Second thoughts"}).
				ThenNoCommands()
		})
	})

	Describe("NotifyAuthor", func() {
		notificationID := estest.ID(2)

		It("queues a message to the post's author", func() {
			blogSpec.Given(postID, added...).
				When(blog.NotifyAuthor{NotificationID: notificationID, PostID: postID}).
				Then(blog.NotificationQueued{PostID: postID.String(), To: "ben", Message: `Your post "My first blogpost" is published.`})
		})

		It("fails for an unknown post", func() {
			blogSpec.
				When(blog.NotifyAuthor{NotificationID: notificationID, PostID: postID}).
				ThenFails(es.ErrAggregateNotFound)
		})
	})

	// The workflow is durable; the same specs hold when it runs synchronously.
	for _, mode := range []estest.WorkflowMode{estest.AsRegistered, estest.AllSync} {
		Describe(fmt.Sprintf("publishing, with workflows on (mode %d)", mode), func() {
			withWorkflows := estest.New(blog.Register, estest.Options{Backend: backend, Workflows: true, WorkflowMode: mode})

			It("publishes the post, then the notification lands", func() {
				withWorkflows.Given(postID, added...).
					When(blog.PublishPost{PostID: postID}).
					Then(
						blog.PostPublished{PublishedAt: estest.DefaultStart()},
						blog.NotificationQueued{PostID: postID.String(), To: "ben", Message: `Your post "My first blogpost" is published.`},
					)
			})

			It("does not notify again for the history", func() {
				withWorkflows.Given(postID, added...).
					Given(postID, blog.PostPublished{PublishedAt: estest.DefaultStart()}).
					When(blog.ArchivePost{PostID: postID}).
					Then(blog.PostArchived{})
			})
		})
	}

	Describe("the durable publication workflow", func() {
		It("derives the notification's id from the event, the same on every run", func() {
			wf := blog.NewPublicationWorkflow()
			Expect(wf.IsDurable()).To(BeTrue())
			withWorkflows := estest.New(blog.Register, estest.Options{Backend: backend, Workflows: true})
			s := withWorkflows.Given(postID, added...).When(blog.PublishPost{PostID: postID})
			published, notified := s.Result().Events[0], s.Result().Events[1]
			Expect(notified.StreamID).To(Equal(es.ReactionID("publication", published.ID, 0)), "NewID: the first action")
			Expect(notified.CommandID).To(Equal(es.ReactionID("publication", published.ID, 1)), "Execute: the second")
		})
	})
}
