package blog_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
)

// reminderSpecs cover the reminder AddPost schedules: a week later, the author
// of a post still unpublished is reminded of it; publishing cancels it.
func reminderSpecs(backend estest.Backend) {
	blogSpec := estest.New(blog.Register, estest.Options{Backend: backend})
	postID := estest.ID(1)
	add := blog.AddPost{PostID: postID, Author: "ben", Title: "My first blogpost", Content: "Hello World!"}
	week := blog.ReminderDelay

	Describe("the reminder of an unpublished post", func() {
		It("is scheduled for a week after the post was added", func() {
			blogSpec.When(add).
				ThenScheduled(estest.At(estest.DefaultStart().Add(week), estest.EventLike(blog.RemindAuthor{PostID: postID}, "NotificationID")))
		})

		It("is cancelled by publishing the post", func() {
			blogSpec.GivenCommands(add).
				When(blog.PublishPost{PostID: postID}).
				ThenNothingScheduled()
		})

		It("reaches the author a week later", func() {
			blogSpec.GivenCommands(add).
				AdvanceClock(week-time.Minute).
				When(blog.ChangePostTitle{PostID: postID, Title: "My first blogpost, really"}).
				AdvanceClock(time.Minute).
				Then(
					blog.PostTitleChanged{Title: "My first blogpost, really"},
					blog.NotificationQueued{PostID: postID.String(), To: "ben", Message: `Your post "My first blogpost, really" is still unpublished.`},
				)
		})

		It("does not reach the author of a post published meanwhile", func() {
			blogSpec.GivenCommands(add, blog.PublishPost{PostID: postID}).
				When(blog.ChangePostTitle{PostID: postID, Title: "Second thoughts"}).
				AdvanceClock(2 * week).
				Then(blog.PostTitleChanged{Title: "Second thoughts"})
		})
	})

	Describe("RemindAuthor", func() {
		notificationID := estest.ID(2)

		It("queues the reminder", func() {
			blogSpec.Given(postID, addedPost()...).
				When(blog.RemindAuthor{NotificationID: notificationID, PostID: postID}).
				Then(blog.NotificationQueued{PostID: postID.String(), To: "ben", Message: `Your post "My first blogpost" is still unpublished.`})
		})

		It("records nothing for a published post", func() {
			blogSpec.Given(postID, addedPost()...).
				Given(postID, blog.PostPublished{PublishedAt: estest.DefaultStart()}).
				When(blog.RemindAuthor{NotificationID: notificationID, PostID: postID}).
				ThenNoEvents()
		})
	})

}
