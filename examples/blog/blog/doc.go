// Package blog is Sequent's generated blog application written with Consequent:
// the tutorial's domain, small enough to read in one sitting.
//
//   - Commands (commands.go) validate their own input: [AddPost], [ChangePostTitle],
//     [PublishPost], [ArchivePost], [AddAuthor], [NotifyAuthor], [RemindAuthor].
//   - Aggregates decide and record events (events.go): a [Post] is published once
//     ([ErrAlreadyPublished]) and archived once; an [Author]'s email address is
//     unique, ignoring case; a [Notification] is a message queued for an author.
//   - [NewPostProjector] keeps the post_records view table ([PostRecords]) in the
//     same transaction as the events. [NewPostProjectorV2] is its version 2, which
//     adds the archived column ([PostRecordsV2]): the README's "Changing a read
//     model", kept beside version 1 so that specs can deploy it over a version 1
//     database ([RegisterV2]).
//   - [NewPublicationWorkflow] notifies a post's author once the post is published;
//     it is durable, run by a worker from the global log.
//   - AddPost schedules [RemindAuthor] for a week later ([ReminderDelay]): a
//     reminder to the author of a post still unpublished; PublishPost cancels it.
//
// [Register] wires all of it into an [es.Registry]; the HTTP service and the specs
// share it, so the specs exercise exactly what runs in production.
package blog
