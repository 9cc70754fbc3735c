package blog

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// ReminderDelay is how long after adding a post its author is reminded of it,
// unless it was published meanwhile.
const ReminderDelay = 7 * 24 * time.Hour

// reminderKey is the key of a post's scheduled reminder: publishing cancels it.
func reminderKey(postID uuid.UUID) string { return "blog.RemindAuthor " + postID.String() }

// Register wires the blog into r: aggregates and their events, command handlers,
// the post projector (version 1, [NewPostProjector]) and the durable publication
// workflow. Production and specs share it. Its durable workflow and the
// reminders AddPost schedules need a worker ([es.ProjectionWorker] with the
// command service); the command service alone stores them.
func Register(r *es.Registry) { register(r, NewPostProjector()) }

// RegisterV2 is [Register] with version 2 of the post projector
// ([NewPostProjectorV2]), which adds the archived column to post_records: the
// README's "Changing a read model". The acceptance suite deploys it over a
// database that version 1 built.
func RegisterV2(r *es.Registry) { register(r, NewPostProjectorV2()) }

func register(r *es.Registry, posts *es.Projector) {
	// A post's loads start from its newest snapshot, taken every 100 events
	// (or by the command line's "snapshots take").
	post := es.RegisterAggregate(r, "blog.Post", func() *Post { return new(Post) }, es.SnapshotEvery(100, 1))
	es.RegisterEvent[PostAdded](post, "blog.PostAdded")
	es.RegisterEvent[PostAuthorChanged](post, "blog.PostAuthorChanged")
	es.RegisterEvent[PostTitleChanged](post, "blog.PostTitleChanged")
	es.RegisterEvent[PostContentChanged](post, "blog.PostContentChanged")
	es.RegisterEvent[PostPublished](post, "blog.PostPublished")
	es.RegisterEvent[PostArchived](post, "blog.PostArchived")

	author := es.RegisterAggregate(r, "blog.Author", func() *Author { return new(Author) })
	es.RegisterEvent[AuthorAdded](author, "blog.AuthorAdded")
	es.RegisterEvent[AuthorEmailChanged](author, "blog.AuthorEmailChanged")

	notification := es.RegisterAggregate(r, "blog.Notification", func() *Notification { return new(Notification) })
	es.RegisterEvent[NotificationQueued](notification, "blog.NotificationQueued")

	es.Handle(r, "blog.AddPost", func(ctx context.Context, u *es.UnitOfWork, cmd AddPost) error {
		post, err := es.Create[*Post](ctx, u, cmd.PostID)
		if err != nil {
			return err
		}
		if err := post.add(cmd); err != nil {
			return err
		}
		return u.Schedule(u.Now().Add(ReminderDelay), reminderKey(cmd.PostID),
			RemindAuthor{NotificationID: u.NewID(), PostID: cmd.PostID})
	})
	es.Handle(r, "blog.ChangePostTitle", func(ctx context.Context, u *es.UnitOfWork, cmd ChangePostTitle) error {
		post, err := es.Load[*Post](ctx, u, cmd.PostID)
		if err != nil {
			return err
		}
		return post.ChangeTitle(cmd.Title)
	})
	es.Handle(r, "blog.PublishPost", func(ctx context.Context, u *es.UnitOfWork, cmd PublishPost) error {
		post, err := es.Load[*Post](ctx, u, cmd.PostID)
		if err != nil {
			return err
		}
		u.Cancel(reminderKey(cmd.PostID))
		return post.Publish(u)
	})
	es.Handle(r, "blog.ArchivePost", func(ctx context.Context, u *es.UnitOfWork, cmd ArchivePost) error {
		post, err := es.Load[*Post](ctx, u, cmd.PostID)
		if err != nil {
			return err
		}
		return post.Archive()
	})
	es.Handle(r, "blog.AddAuthor", func(ctx context.Context, u *es.UnitOfWork, cmd AddAuthor) error {
		a, err := es.Create[*Author](ctx, u, cmd.AuthorID)
		if err != nil {
			return err
		}
		if err := es.Record(a, AuthorAdded{Name: cmd.Name}); err != nil {
			return err
		}
		return es.Record(a, AuthorEmailChanged{Email: cmd.Email})
	})
	es.Handle(r, "blog.NotifyAuthor", func(ctx context.Context, u *es.UnitOfWork, cmd NotifyAuthor) error {
		post, err := es.Load[*Post](ctx, u, cmd.PostID)
		if err != nil {
			return err
		}
		n, err := es.Create[*Notification](ctx, u, cmd.NotificationID)
		if err != nil {
			return err
		}
		return es.Record(n, NotificationQueued{PostID: post.ID().String(), To: post.author,
			Message: "Your post " + `"` + post.title + `"` + " is published."})
	})

	es.Handle(r, "blog.RemindAuthor", func(ctx context.Context, u *es.UnitOfWork, cmd RemindAuthor) error {
		post, err := es.Load[*Post](ctx, u, cmd.PostID)
		if err != nil {
			return err
		}
		if post.published || post.archived {
			return nil
		}
		n, err := es.Create[*Notification](ctx, u, cmd.NotificationID)
		if err != nil {
			return err
		}
		return es.Record(n, NotificationQueued{PostID: post.ID().String(), To: post.author,
			Message: "Your post " + `"` + post.title + `"` + " is still unpublished."})
	})

	r.AddProjector(posts)
	r.AddWorkflow(NewPublicationWorkflow())
}
