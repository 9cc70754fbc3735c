// Package projectortest specifies projectors the way estest specifies commands:
// given events, then rows.
//
//	var posts = projectortest.New(blog.Register, blog.NewPostProjector(),
//		projectortest.Options{ReplayTwice: true})
//
//	It("keeps the title", func() {
//		posts.Given(postID, blog.PostAdded{}, blog.PostTitleChanged{Title: "Hi"}).
//			ThenRecords(blog.PostRecords, blog.PostRecord{AggregateID: postID, Title: "Hi"})
//	})
//
// The events are stored and the projector runs in the same transaction, as it does
// inline in the command service; only the projector under test runs. With
// [Options.ReplayTwice] every suffix of the history is applied again before the
// check and must change nothing, so a projector that is not idempotent (an
// Insert, a running total) fails. A failing check prints the events
// given, a table of rows by primary key (ok, differs, missing, unexpected) and
// every differing field.
//
// Specs run unchanged on any backend: the in-memory store by default
// (estest.Memory, a memstore.Store), PostgreSQL through [Options.Backend]
// (pgstore/pgtest).
package projectortest
