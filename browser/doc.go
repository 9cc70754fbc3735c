// Package browser is Consequent's event browser: a read-only web page to read
// an application's history the way one debugs an event-sourced system. It
// shows what happened to an aggregate, which command caused it, who sent it,
// which workflow it triggered, what the aggregate looked like at version 7 and
// why a projector is behind — and writes any moment of a stream's history as an
// estest spec, the way from a production bug to a failing test.
//
// # Mounting it
//
// [New] returns an [http.Handler]. Give it the registry the application builds
// its command service from, the store, the path to mount it at and a hook that
// decides who may read:
//
//	reg := es.NewRegistry()
//	blog.Register(reg)
//	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
//	…
//	mux := http.NewServeMux()
//	mux.Handle("/", api.NewServer(svc))
//	mux.Handle("/_consequent/", browser.New(reg, store, browser.Options{
//		Prefix:    "/_consequent",
//		Authorize: func(r *http.Request) error { return requireAdmin(r) },
//	}))
//
// The zero [Options] refuse every request with 403 and a message naming
// Options.Authorize, so that a browser mounted by accident shows nothing. The
// history holds what users typed: authorise as carefully as for a database
// console.
//
// # The pages
//
//   - Streams: the streams written most recently, filtered by aggregate type;
//     jump to one by its id.
//   - A stream: its events in order, grouped under the command that recorded
//     them (type, user, time, payload, correlation and causation links); the
//     aggregate's state as of any version (see [StateViewer]); the history up to
//     a version as a spec to copy (below). Long streams page.
//   - A command: its payload, user, time and flow; the event that made a
//     workflow issue it; every event it recorded, across streams; the commands
//     workflows issued because of them, followed to the end of the chain.
//   - The log: every event, newest first, paged by cursor (never by offset),
//     filtered by event type and time range.
//   - Projectors: for each projector, the version its tables serve and the one a
//     rebuild builds, the rebuild's phase and progress, the last failure; for an
//     async projector, each partition's checkpoint, lag, lease holder and the
//     event it stopped at.
//   - Search: by stream id, command id, correlation id or user.
//
// Lists need a store that implements [es.BrowseStore] (memstore and pgstore do);
// the projectors page needs an [es.ReadModelStore].
//
// # Copy as a spec
//
// A stream page writes its history up to a chosen version as Go source for
// package estest: the events as Given, the command that followed as When (at
// its time, by its user) and the events it recorded as Then:
//
//	postID := uuid.MustParse("0197e2a4-…")
//	blogSpec.
//		Given(postID,
//			blog.PostAdded{},
//			blog.PostAuthorChanged{Author: "ben"},
//		).
//		SetClock(time.Date(2026, time.November, 23, 15, 12, 34, 497730000, time.UTC)).
//		When(blog.PublishPost{PostID: postID}, es.ByUser("ben")).
//		Then(
//			blog.PostPublished{PublishedAt: time.Date(2026, time.November, 23, 15, 12, 34, 497730000, time.UTC)},
//		)
//
// Paste it into a spec, change Then to what the command should have recorded,
// and the bug is a failing spec. The values are printed as Go literals of the
// registered types; [Options.SpecFixture] names the fixture.
//
// # Safety
//
// The browser only reads: it answers GET and HEAD, and no page changes the
// store. Pages are rendered by html/template, so every payload, id and name is
// escaped (a payload holding <script> shows as text); they are sent with a
// strict Content-Security-Policy (no inline script or style, the stylesheet
// and the small script served by the handler itself), and work without
// JavaScript. Payloads longer than [Options.MaxPayload] are cut, with a link to
// see them whole. A malformed id or cursor is a 400 page, an unknown stream or
// command a 404 page; errors of the store are logged and shown as a 500 page
// that does not repeat them.
package browser
