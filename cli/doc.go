// Package cli is the command line an application built with Consequent mounts
// in its own binary, to operate its PostgreSQL database: Sequent's rake tasks,
// as subcommands. It needs the application's registration function, to decode
// events and rebuild projectors exactly as the application does.
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		root := cli.Command(blog.Register, cli.Name("blog"), cli.Default(serve))
//		code := cli.Execute(ctx, root, os.Args[1:])
//		stop()
//		os.Exit(code)
//	}
//
// [Default] keeps what the binary did before: "blog -addr :9000" still serves,
// with its own flags, while "blog db migrate" migrates. An application may add
// cobra commands of its own to the command [Command] returns.
//
// # Commands
//
//	db create                      create the database the URL names, when it does not exist
//	db migrate                     apply the event store's pending migrations (pgstore.Migrate)
//	db status                      the server, the schemas, applied and pending migrations
//	projections status             per projector: serving and building version, phase,
//	                               rebuild progress, checkpoint and lag (async), last failure
//	projections rebuild NAME|--all rebuild now, as a deploy does (es.CommandService.Rebuild),
//	                               with a progress bar on a terminal, plain lines otherwise
//	projections resume NAME        clear an async projector's failure (es.ProjectionWorker.Resume)
//	snapshots take [--type T]      snapshot every aggregate of the types that take snapshots
//	snapshots prune --keep N       keep each aggregate's N newest snapshots
//	snapshots status               per aggregate type: streams, snapshots, events loads replay
//	events show STREAM [--as-of V] a stream's events, decoded, under the commands behind them
//	events tail [--type T] [-n N]  the last events of the log, then new ones until interrupted
//	commands show ID               a recorded command: type, payload, user, time, cause
//
// The database is the one --database-url names, else $CONSEQUENT_DATABASE_URL
// ([EnvDatabaseURL]); the event store's schemas are pgstore's defaults unless
// [StoreConfig] says otherwise. Every command that reads prints JSON with
// --json, for scripts (events tail: one object per line).
//
// # Rebuilds
//
// "projections rebuild" builds a command service with
// es.Options.ManualRebuilds and calls its Rebuild: the machinery a deploy of a
// new projector version uses, in shadow tables while the live ones serve,
// under the same lease (so it waits for no one and fails when another process
// rebuilds). Interrupted (SIGINT), it stops; run again, it resumes from its
// last chunk (--chunk sets the chunk's size). On a terminal it draws a
// progress bar with the rate and the time left; in a log, one line per phase
// and one every few seconds.
//
// # Exit codes
//
// 0 on success; 1 when the work could not be done (the database cannot be
// reached or is not migrated, a stream or command does not exist, a rebuild
// failed); 2 for misuse (an unknown command, flag, projector or aggregate type,
// a malformed id, no database named). Errors are one line on standard error,
// never a usage dump or a stack trace; [ExitError] lets an application's own
// commands choose their code.
package cli
