// Package blog is Sequent's generated blog application written with Consequent:
// the tutorial's domain, small enough to read in one sitting.
//
//   - Commands (commands.go) validate their own input: [AddPost], [ChangePostTitle],
//     [PublishPost], [AddAuthor], [NotifyAuthor].
//   - Aggregates decide and record events (events.go): a [Post] is published once
//     ([ErrAlreadyPublished]); an [Author]'s email address is unique, ignoring case;
//     a [Notification] is a message queued for an author.
//   - [NewPostProjector] keeps the post_records view table ([PostRecords]) in the
//     same transaction as the events.
//   - [NewPublicationWorkflow] notifies a post's author once the post is published.
//
// [Register] wires all of it into an [es.Registry]; the HTTP service and the specs
// share it, so the specs exercise exactly what runs in production.
package blog
