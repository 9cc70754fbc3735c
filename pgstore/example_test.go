package pgstore_test

import (
	"context"
	"fmt"
	"os"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrate once at start-up, then commit and load through the store. (This example
// needs a database, so it is compiled but not run.)
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("CONSEQUENT_DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool, pgstore.Config{}); err != nil {
		panic(err)
	}
	store, err := pgstore.New(pool, pgstore.Config{})
	if err != nil {
		panic(err)
	}

	// Normally es.CommandService builds commits; this is what it sends.
	cmd, post := uuid.New(), uuid.New()
	err = store.Commit(ctx, &es.Commit{
		Command: es.CommandRecord{ID: cmd, Type: "blog.AddPost", Data: []byte(`{"title":"Hello"}`)},
		Streams: []es.StreamWrite{{
			StreamID: post, StreamType: "blog.Post",
			Events: []es.EventRecord{{ID: uuid.New(), StreamID: post, Version: 1, Type: "blog.PostAdded",
				Schema: 1, Data: []byte(`{"title":"Hello"}`), Meta: es.Meta{CommandID: cmd}}},
		}},
	}, nil)
	if err != nil {
		panic(err)
	}
	events, err := store.LoadStream(ctx, post, es.StreamQuery{})
	if err != nil {
		panic(err)
	}
	fmt.Println(events[0].Type, string(events[0].Data))
}
