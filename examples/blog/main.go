// Command blog serves Sequent's example blog, written with Consequent, over a
// small JSON HTTP API (see package api for the endpoints).
//
//	go run ./examples/blog                     # in memory, on :8080
//	go run ./examples/blog -addr :9000
//	go run ./examples/blog -database-url postgres://…  # or CONSEQUENT_DATABASE_URL
//
// It stops gracefully on SIGINT or SIGTERM, finishing the requests in flight.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/api"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		slog.Error("blog", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("blog", flag.ContinueOnError)
	addr := flags.String("addr", ":8080", "address to listen on")
	dbURL := flags.String("database-url", os.Getenv("CONSEQUENT_DATABASE_URL"),
		"PostgreSQL URL (default $CONSEQUENT_DATABASE_URL; empty: an in-memory store)")
	if err := flags.Parse(args); err != nil {
		return err
	}

	store, closeStore, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer closeStore()
	reg := es.NewRegistry()
	blog.Register(reg)
	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
	if err != nil {
		return err
	}
	defer svc.Close() // stops a background rebuild; another process, or the next start, resumes it
	// The worker runs the durable publication workflow and the reminders that
	// come due; with several processes, each runs one and leases share the work.
	worker, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Service: svc})
	if err != nil {
		return err
	}
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); _ = worker.Run(workerCtx) }()
	defer func() { stopWorker(); <-workerDone }() // after the requests in flight: it releases its leases

	srv := &http.Server{Addr: *addr, Handler: api.NewServer(svc), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	slog.Info("blog listening", "addr", *addr)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore returns the in-memory store, or the PostgreSQL store at dbURL with its
// schema migrated, and a function that releases it.
func openStore(ctx context.Context, dbURL string) (es.EventStore, func(), error) {
	if dbURL == "" {
		slog.Info("using the in-memory store; data is lost on exit")
		return memstore.New(), func() {}, nil
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("-database-url: %w", err)
	}
	if err := pgstore.Migrate(ctx, pool, pgstore.Config{}); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("migrate the event store: %w", err)
	}
	cfg := pool.Config().ConnConfig
	slog.Info("using PostgreSQL", "host", cfg.Host, "port", cfg.Port, "database", cfg.Database)
	return pgstore.New(pool, pgstore.Config{}), pool.Close, nil
}
