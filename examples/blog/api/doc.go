// Package api serves the blog over a small JSON HTTP API. Commands go through the
// [es.CommandService]; reads come from the post_records view table and from the
// event store itself (a post's history, with the command behind every event).
//
//	POST /posts                 add a post: {"author","title","content"} → 201 executed
//	PUT  /posts/{id}/title      change its title: {"title"} → 200 executed
//	POST /posts/{id}/publish    publish it → 200 executed
//	POST /posts/{id}/archive    archive it → 200 executed
//	GET  /posts                 every post (optionally ?author=); with "archived"
//	                            once version 2 of the post projector runs
//	GET  /posts/{id}            one post
//	GET  /posts/{id}/events     its events, each with the command that caused it
//	POST /authors               add an author: {"name","email"} → 201 executed
//
// The X-User-ID request header names the user; it is stored with every command
// ([es.ByUser]) and shows in the audit trail.
//
// A command that was stored answers with what it did, from the
// [es.Result] of [es.CommandService.Execute]:
//
//	{"id": the post's or author's id, "command_id": the command record's id,
//	 "events": [{"id", "type", "stream_id", "version", "position"}],
//	 "follow_up_errors": [{"workflow", "command", "error"}],
//	 "post": the post as post_records shows it now (post commands)}
//
// follow_up_errors (left out when empty) lists what failed after the commit:
// a synchronous workflow or a command it issued, an after-commit hook. The
// command is done all the same, so the status stays 201 or 200; the error is
// what a client may read ("internal error" for failures it cannot act on),
// the details are logged.
//
// Errors mean that nothing was stored. They are JSON objects {"error": message,
// "fields": {field: [messages]}}:
// 400 for a body that is not the expected JSON, 422 for invalid input (fields name
// every problem), 404 for an unknown post, 409 when the command conflicts with the
// current state (already published, email taken, concurrent change).
package api
