package blog_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/memstore"
)

// The blog wired as an application wires it: Register fills a registry, the
// command service runs commands on a store, and the post_records view table,
// kept by the inline PostProjector, answers queries.
func Example() {
	ctx := context.Background()
	reg := es.NewRegistry()
	blog.Register(reg)
	// A manual clock and sequential ids make the output stable; production code
	// leaves both out (the system clock, UUIDv7 ids).
	svc, err := es.NewCommandService(ctx, reg, memstore.New(), es.Options{
		Clock: es.NewManualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)),
		IDs:   new(es.SequentialIDs),
	})
	if err != nil {
		log.Fatal(err)
	}

	postID := svc.NewID()
	for _, cmd := range []any{
		blog.AddPost{PostID: postID, Author: "ben", Title: "My first blogpost", Content: "Hello World!"},
		blog.PublishPost{PostID: postID},
	} {
		if _, err := svc.Execute(ctx, cmd, es.ByUser("ben")); err != nil {
			log.Fatal(err)
		}
	}
	_, err = svc.Execute(ctx, blog.PublishPost{PostID: postID})
	fmt.Println("publish again:", err)

	posts, err := blog.PostRecords.Find(ctx, svc.Views(), es.Where{"author": "ben"})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range posts {
		fmt.Printf("%s %q by %s, published %s\n", p.AggregateID, p.Title, p.Author, p.PublishedAt.Format(time.DateOnly))
	}
	// Output:
	// publish again: es: command blog.PublishPost: post is already published
	// 00000000-0000-0000-0000-000000000001 "My first blogpost" by ben, published 2026-01-01
}
