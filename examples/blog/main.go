// Command blog serves Sequent's example blog, written with Consequent, over a
// small JSON HTTP API (see package api for the endpoints).
//
//	go run ./examples/blog                     # in memory, on :8080
//	go run ./examples/blog -addr :9000
//	go run ./examples/blog -database-url postgres://…  # or CONSEQUENT_DATABASE_URL
//	go run ./examples/blog -addr localhost:8080        # with the event browser at /_consequent/
//	go run ./examples/blog -otel -log-level debug      # traces and metrics on stdout, a log line per command
//
// It stops gracefully on SIGINT or SIGTERM, finishing the requests in flight.
//
// Its subcommands, from package cli, operate it on PostgreSQL:
//
//	go run ./examples/blog db create|migrate|status
//	go run ./examples/blog projections status|rebuild NAME|resume NAME
//	go run ./examples/blog snapshots take|prune --keep N|status
//	go run ./examples/blog events show STREAM|tail
//	go run ./examples/blog commands show ID
//	go run ./examples/blog help
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/consequent/consequent/cli"
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/api"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/otelconsequent"
	"github.com/consequent/consequent/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, newCommand(), os.Args[1:])
	stop()
	os.Exit(code)
}

// newCommand is the blog's command line: without a subcommand it serves (run),
// with one it operates the blog's database.
func newCommand() *cobra.Command {
	c := cli.Command(blog.Register, cli.Name("blog"), cli.Default(run))
	c.Long = `Without a command, blog serves the blog's JSON API:

  blog [-addr :8080] [-database-url URL] [-browser auto|on|off] [-otel] [-log-level LEVEL]

in memory, or in the PostgreSQL database at URL (default $CONSEQUENT_DATABASE_URL),
whose event store it migrates. With -otel (or OTEL_TRACES_EXPORTER=console), it
writes OpenTelemetry traces and metrics to stdout. The commands operate that database.`
	return c
}

// run serves the blog until ctx is done.
func run(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("blog", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // the error is returned, and printed as one line
	addr := flags.String("addr", ":8080", "address to listen on")
	dbURL := flags.String("database-url", os.Getenv(cli.EnvDatabaseURL),
		"PostgreSQL URL (default $CONSEQUENT_DATABASE_URL; empty: an in-memory store)")
	browserMode := flags.String("browser", "auto", "mount the event browser at /_consequent/: auto (only when -addr is a loopback address), on or off")
	otelOn := flags.Bool("otel", otelByDefault(os.Getenv), "write OpenTelemetry traces and metrics to stdout (default: on when OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER is console)")
	var level slog.Level
	flags.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug (a line per command), info, warn or error")
	if err := flags.Parse(args); err != nil {
		return &cli.ExitError{Code: cli.ExitMisuse, Err: fmt.Errorf("%w (flags: -addr, -database-url, -browser, -otel, -log-level; see blog --help for the commands)", err)}
	}
	if flags.NArg() > 0 {
		return &cli.ExitError{Code: cli.ExitMisuse, Err: fmt.Errorf("unexpected argument %q (see blog --help)", flags.Arg(0))}
	}

	store, closeStore, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer closeStore()
	reg := es.NewRegistry()
	blog.Register(reg)
	// The command service logs each command at debug, conflicts at warn, failures at error.
	opts := es.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	if *otelOn {
		t, err := startTelemetry(ctx, os.Stdout, os.Getenv)
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := t.shutdown(ctx); err != nil {
				slog.Warn("otel shutdown", "error", err)
			}
		}()
		opts.Observer = t.observer
		reg.Use(otelconsequent.Middleware()) // the events carry their command's trace context
	}
	svc, err := es.NewCommandService(ctx, reg, store, opts)
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

	handler, err := withBrowser(api.NewServer(svc), *browserMode, *addr, reg, store)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
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
	store, err := pgstore.New(pool, pgstore.Config{})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return store, pool.Close, nil
}
