// Command blogx is the blog's command line with what package cli's specs need
// besides blog.Register. With BLOGX=v2 it registers version 2 of the post
// projector (blog.RegisterV2); with BLOGX=async it adds an async projector,
// post_titles, which fails on every event while the file named by
// $BLOGX_FAIL_FILE exists. Without a command it runs the async projectors
// until interrupted.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consequent/consequent/cli"
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/pgstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, cli.Command(register, cli.Name("blogx"), cli.Default(work)), os.Args[1:])
	stop()
	os.Exit(code)
}

func register(r *es.Registry) {
	switch os.Getenv("BLOGX") {
	case "v2":
		blog.RegisterV2(r)
	case "async":
		blog.Register(r)
		r.AddProjector(titles())
	default:
		blog.Register(r)
	}
}

// title is a row of post_titles.
type title struct {
	PostID uuid.UUID `db:"post_id"`
	Title  string    `db:"title"`
}

var titleTable = es.NewTable[title]("post_titles", "post_id")

func titles() *es.Projector {
	p := es.NewProjector("post_titles", titleTable).Async()
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev blog.PostTitleChanged) error {
		if _, err := os.Stat(os.Getenv("BLOGX_FAIL_FILE")); err == nil {
			return errors.New("post_titles is told to fail")
		}
		return titleTable.Upsert(ctx, v, title{PostID: e.StreamID, Title: ev.Title})
	})
	return p
}

// work runs the async projectors on $CONSEQUENT_DATABASE_URL until ctx is done.
func work(ctx context.Context, _ []string) error {
	pool, err := pgxpool.New(ctx, os.Getenv(cli.EnvDatabaseURL))
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := es.NewRegistry()
	register(reg)
	store, err := pgstore.New(pool, pgstore.Config{})
	if err != nil {
		return err
	}
	w, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{
		Jobs:    es.RunProjectors, // the spec's seed runs the durable workflow itself
		PollMax: 100 * time.Millisecond, RetryBackoff: 10 * time.Millisecond, Retries: 2,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	if err := w.Run(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
