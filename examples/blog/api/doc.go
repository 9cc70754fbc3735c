// Package api serves the blog over a small JSON HTTP API. Commands go through the
// [es.CommandService]; reads come from the post_records view table and from the
// event store itself (a post's history, with the command behind every event).
//
//	POST /posts                 add a post: {"author","title","content"} → 201 {"id"}
//	PUT  /posts/{id}/title      change its title: {"title"} → 200 post
//	POST /posts/{id}/publish    publish it → 200 post
//	POST /posts/{id}/archive    archive it → 200 post
//	GET  /posts                 every post (optionally ?author=); with "archived"
//	                            once version 2 of the post projector runs
//	GET  /posts/{id}            one post
//	GET  /posts/{id}/events     its events, each with the command that caused it
//	POST /authors               add an author: {"name","email"} → 201 {"id"}
//
// The X-User-ID request header names the user; it is stored with every command
// ([es.ByUser]) and shows in the audit trail.
//
// Errors are JSON objects {"error": message, "fields": {field: [messages]}}:
// 400 for a body that is not the expected JSON, 422 for invalid input (fields name
// every problem), 404 for an unknown post, 409 when the command conflicts with the
// current state (already published, email taken, concurrent change).
package api
