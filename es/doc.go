// Package es is Consequent's contract and runtime for CQRS and event sourcing:
// events and aggregates, commands and their handlers, the unit of work, the
// command service, projectors and view tables, workflows, and the [EventStore]
// interface. Its backends live in packages of their own: the in-memory store in
// memstore, PostgreSQL in pgstore; the Given/When/Then harness is in package estest.
//
// This page is a tour, in the order a command travels. The examples use a small
// bank: accounts that are opened, receive deposits and allow withdrawals.
//
// # Events and aggregates
//
// An event is a plain struct value that says what happened, in the past tense:
//
//	type AccountOpened struct{ Owner string }
//	type Deposited struct{ Amount int64 }
//
// Events are stored as JSON under a stable name, so a field's JSON name is part of
// the stored format.
//
// An aggregate is a struct that embeds [AggregateRoot] and has an On method; it is
// an [Aggregate]. Its command methods check invariants and call [Record]; On only
// changes state, because it also runs when the aggregate is rebuilt from its
// history, and an event that happened cannot be refused:
//
//	type Account struct {
//		es.AggregateRoot
//		balance int64
//	}
//
//	func (a *Account) Withdraw(amount int64) error {
//		if amount > a.balance {
//			return ErrInsufficientFunds
//		}
//		return es.Record(a, Withdrawn{Amount: amount})
//	}
//
//	func (a *Account) On(event any) {
//		switch e := event.(type) {
//		case Deposited:
//			a.balance += e.Amount
//		case Withdrawn:
//			a.balance -= e.Amount
//		}
//	}
//
// Record applies the event at once (so the next decision sees it) and queues it
// for the commit. It refuses an aggregate that no unit of work handed out, an
// event type that is not registered or is registered for another aggregate type,
// and a pointer to an event: events are values.
//
// # Registration
//
// Nothing is registered globally. An application writes one registration function
// that fills in a [Registry]; production code and specs share it:
//
//	func Register(r *es.Registry) {
//		account := es.RegisterAggregate(r, "bank.Account", func() *Account { return new(Account) })
//		es.RegisterEvent[AccountOpened](account, "bank.AccountOpened")
//		es.RegisterEvent[Deposited](account, "bank.Deposited")
//		es.Handle(r, "bank.Deposit", handleDeposit)
//		r.AddProjector(NewAccountProjector())
//	}
//
// [RegisterAggregate] and [RegisterEvent] give Go types their stored names, which
// must never change. Registration mistakes (a name used twice, two handlers for one
// command, a projector for an unregistered event, [SnapshotEvery] on an aggregate
// that is not a [Snapshotter]) do not panic: [NewCommandService] reports them all
// at once, each with its fix.
//
// # Commands and handlers
//
// A command is a struct value that asks for something. When it has a Validate
// method (it is a [Validator]), the service calls it first; Validate returns a
// [*ValidationError] that names every invalid field:
//
//	func (c Deposit) Validate() error {
//		var v es.ValidationError
//		v.Check(c.Amount > 0, "Amount", "must be positive")
//		return v.Err()
//	}
//
// [Handle] registers the one handler of a command type. A handler gets a
// [UnitOfWork] and the typed command:
//
//	es.Handle(r, "bank.Deposit", func(ctx context.Context, u *es.UnitOfWork, cmd Deposit) error {
//		a, err := es.Load[*Account](ctx, u, cmd.ID)
//		if err != nil {
//			return err
//		}
//		return a.Deposit(cmd.Amount)
//	})
//
// # The unit of work
//
// A [UnitOfWork] belongs to one execution of one handler. [Load] returns an
// aggregate from the store (its newest snapshot, then the events after it) and
// [Create] adds a new one; both keep one instance per id (the identity map), so a
// handler that loads the same id twice gets the same value. Load fails with
// [ErrAggregateNotFound] when the stream does not exist and with
// [ErrAggregateType] when it belongs to another aggregate type; Create fails with
// [ErrAggregateExists] when the id is taken. A unit of work may touch any number of
// aggregates: the events of all of them are committed together or not at all.
// [UnitOfWork.Now] and [UnitOfWork.NewID] give the service's clock and ids.
//
// # The command service
//
// [NewCommandService] builds a [CommandService] from a registry and a store, and
// [CommandService.Execute] runs a command:
//
//  1. middleware ([Registry.Use]) in the order added: logging, authorisation,
//     tracing; a middleware may refuse by returning an error;
//  2. validation: a [*ValidationError] with its Command field set, nothing run;
//  3. the handler, in a fresh unit of work; an error or panic (a [*PanicError])
//     stores nothing and is returned naming the command;
//  4. the commit: the command record (type, payload, user, correlation), every new
//     event of every touched aggregate, unique keys and snapshots, atomically;
//     inline projectors run inside it;
//  5. after-commit hooks ([Registry.AfterCommit]), then synchronous workflows
//     (durable ones, subscriptions and scheduled commands run in a
//     [ProjectionWorker]).
//
// Execute's error means that nothing of the command was stored, as with
// database/sql: the command may be fixed and executed again. Once the command
// committed, the error is nil and the [*Result] says what happened: the command
// record's id, the events stored with their versions and log positions
// ([Result.Events]), the commands synchronous workflows issued and how each
// ended ([Result.FollowUps]), and what failed after the commit
// ([Result.Failures]), which never undoes it:
//
//	res, err := svc.Execute(ctx, PublishPost{PostID: id})
//	if err != nil {
//		return err // nothing stored
//	}
//	for _, f := range res.Failures {
//		log.Warn("published, but a follow-up failed", "error", f)
//	}
//
// [Options] configures the service; its zero value works (system clock, UUIDv7
// ids, no retries). [ByUser], [WithCorrelationID] and [WithMetadata] attach
// context to a command and its events; middleware and handlers add to it with
// [SetMetadata].
//
// # Stores and concurrency
//
// Concurrency is optimistic. Every stream a unit of work appends to is checked at
// commit against the version it was loaded at; when another writer got there
// first, the commit fails with [ErrConcurrencyConflict] and nothing of the unit of
// work is written. With [Options.ConflictRetries] the service runs the whole
// command again from scratch (a fresh load, the handler, the commit), which makes
// commands that race on one aggregate all succeed, one after the other.
//
// The [EventStore] interface is the contract for backends; memstore.New() keeps
// everything in memory with the semantics of the PostgreSQL store (encoded
// payloads, one global order read with [EventStore.ReadLog], unique keys,
// snapshots) and serves specs and examples. Stores may offer more through
// optional interfaces, found by type assertion: [ProjectionStore] for async
// projectors, [ReadModelStore] for rebuilds, [BrowseStore] for tools that read
// history (the event browser). [CommandService] and the stores are
// safe for concurrent use; a [UnitOfWork] and the aggregates it hands out belong
// to one goroutine.
//
// # Projectors and view tables
//
// A [Projector] keeps read models (view tables) up to date from events. A [Table]
// describes one table by its row struct: columns are named by `db` tags or
// snake_case field names, pointer fields are nullable, and types without a column
// type of their own are stored as JSON.
//
//	type AccountRecord struct {
//		ID      uuid.UUID
//		Owner   string
//		Balance int64
//		Version int64 // the last event applied: a running total must not count one twice
//	}
//
//	var AccountRecords = es.NewTable[AccountRecord]("account_records", "id")
//
//	p := es.NewProjector("accounts", AccountRecords)
//	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev AccountOpened) error {
//		return AccountRecords.Upsert(ctx, v, AccountRecord{ID: e.StreamID, Owner: ev.Owner, Version: e.Version})
//	})
//	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Deposited) error {
//		_, err := AccountRecords.Update(ctx, v, es.Where{"id": e.StreamID}, func(r *AccountRecord) {
//			if e.Version > r.Version { // applied again (a redelivery, a repair): nothing to add
//				r.Balance += ev.Amount
//				r.Version = e.Version
//			}
//		})
//		return err
//	})
//
// Write projectors so that applying an event again changes nothing (upsert, set
// values, remember the last version applied): projectortest's ReplayTwice checks it.
//
// A projector declares the tables it writes; writing another fails with
// [ErrTableNotManaged]. Inline projectors run inside the commit, so the tables are
// never behind the events, and a projector error fails the command and rolls back
// everything, events included. [Projector.Async] projectors instead follow the
// global log in a [ProjectionWorker]. Tables are read with [Table.Find] and
// [Table.Get] on [CommandService.Views]; the [Persistor] interface is what stores
// implement.
//
// # Async projectors
//
// An async projector ([Projector.Async]) does not slow commits down: a
// [ProjectionWorker] follows the global log from the projector's checkpoint and
// applies batches of events, committing the table writes together with the new
// checkpoint ([ProjectionStore.Advance]), so each event takes effect once, even
// across crashes. The log is read below a watermark, so an event committed late
// by a slow transaction is never skipped.
//
//	reg.AddProjector(NewSearchProjector().Async().Partitioned(4).Versioned(2))
//	worker, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{})
//	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
//	go worker.Run(ctx)
//
// A worker wakes on the commits made through the same store value in its
// process (a store that implements [CommitNotifier], as memstore's and pgstore's
// do), and polls with backoff for commits of other processes. Each projector (or each
// of its [Projector.Partitioned] partitions, streams split by [PartitionOf]) is
// owned by one worker at a time through a lease; writes are fenced by it
// ([ErrLeaseLost]), and when a worker dies another takes over once the lease has
// expired ([WorkerOptions.LeaseTTL]). A failing event is retried with backoff, then
// the projection stops at it with a [ProjectionFailure] that names the event, while
// the others go on; [ProjectionWorker.Resume] restarts it. [ProjectionWorker.Lag]
// tells how far behind each projection is. [ProjectionWorker.CatchUp] processes
// everything and returns, for tests and tools.
//
// # Changing a read model
//
// A projector's tables belong to its version. To change them (a column, a key,
// what a handler writes), raise [Projector.Versioned] and deploy: the service
// starts on the old tables, which keep serving reads, and rebuilds the new
// version beside them in shadow tables, in the background of one process of the
// deployment at a time (a lease), reading only the event types the projector
// handles and writing in bulk; then it swaps them in, in one short transaction.
// Commits that write an inline projector's tables wait for that transaction at
// most (they read the serving version under a lock the swap holds exclusively,
// see [Commit.ReadModels]); from then on they write the new tables. Inline and
// async projectors take the same path; a [ProjectionWorker] rebuilds an async
// one. During a rolling deploy, processes still running the old version keep the
// old tables current until the swap; after it they keep executing commands but
// leave the new tables alone, and a process of the new version rebuilds them
// once such commits have stopped ([Options.RepairAfter]). Tables that changed
// without a higher version fail the start, with the fix.
//
//	reg.AddProjector(blog.NewPostProjector().Versioned(2)) // post_records gained a column
//	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
//	defer svc.Close()                                      // stops a rebuild; the next start resumes it
//	status, err := es.ReadModelStatus(ctx, reg, store)     // serving and building version, phase, rate, ETA
//
// [CommandService.Rebuild] runs a rebuild now, for tools (with
// [Options.ManualRebuilds], only tools do). Stores offer rebuilds through
// [ReadModelStore]; the replay loop is the runtime's, the same for every store.
//
// # Workflows
//
// A [Workflow] reacts to committed events by executing more commands: send a
// notification, start the next step of a process.
//
//	w := es.NewWorkflow("welcome")
//	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, _ AccountOpened) error {
//		r.Execute(Deposit{ID: e.StreamID, Amount: 10})
//		return nil
//	})
//
// A synchronous workflow (the default) runs in the process that executed the
// command: the commands it issues run after that command, first in, first out,
// each in its own unit of work, with the causing event's id as their causation
// and its correlation id. Execute's [Result.FollowUps] lists them with the
// events each stored. When one of them (or a workflow's handler) fails, the
// original command's events stay stored, Execute's error is nil and
// [Result.Failures] holds a [*WorkflowError].
// [Options.MaxCascade] stops workflows that trigger each other forever;
// [Options.DisableWorkflows] turns workflows off, for maintenance jobs and for
// specs that look at one command's events only.
//
// A [Workflow.Durable] one follows the global log instead, in a
// [ProjectionWorker] given the command service ([WorkerOptions.Service]), with
// a checkpoint, a lease, retries and a stop at a failing event, like an async
// projector. The commands it issues carry ids derived from the workflow, the
// event and their place among its actions ([ReactionID]): a store refuses a
// command id twice ([ErrDuplicateCommand]), so reacting to an event again after
// a crash stores each command once. [WithCommandID] gives any command that
// property.
//
// # Scheduled commands
//
// [UnitOfWork.Schedule] stores a command to execute later, in the same
// transaction as the unit of work's events; [UnitOfWork.Cancel] removes one by
// key; a workflow does the same through its [Reaction]. A [ProjectionWorker]
// with the command service executes each once due on the service's clock,
// under its own id, so it takes effect once; one that keeps failing is parked
// until [ProjectionWorker.ResumeScheduled]. Stores offer it through
// [ScheduleStore]; [CommandService.ScheduledCommands] lists what is pending.
//
// # Subscriptions
//
// A [Subscription] is a checkpointed handler over the log for effects outside
// the store (an e-mail, another service, a broker: package natspub publishes to
// NATS JetStream with one). A [ProjectionWorker] runs it with the same leases,
// partitions, retries and stops as async projectors. Delivery is at least once:
// after a crash or a lost lease, some events come again; the event id is the
// idempotency key to give the other side.
//
// # Unique keys
//
// An aggregate that implements [UniqueKeyer] holds at most one [UniqueKey] per
// scope, such as an email address. After each change the runtime claims the keys
// UniqueKeys returns and releases those it no longer returns; a key held by another
// aggregate fails the commit with a [*UniqueKeyError]. Keys are compared exactly:
// an application that wants case-insensitive keys lowercases them in UniqueKeys.
//
// # Snapshots
//
// Loading an aggregate applies all its events. For long streams, register the
// aggregate with [SnapshotEvery]: every n events the runtime stores, in the same
// commit, the state the aggregate encodes with its [Snapshotter] methods, and
// loads start from the newest snapshot. Snapshots carry a schema number: bump it
// when the encoded shape changes, and snapshots of other schemas are ignored (the
// aggregate is rebuilt from its events and a new snapshot taken). Tools take a
// snapshot of any aggregate now with [TakeSnapshot], and list, count and prune
// snapshots through a store's [SnapshotStore] capability (a command line's
// "snapshots take|prune|status").
//
// # Upcasting
//
// Stored events never change. When an event's shape changes, give
// [RegisterEvent] an [Upcaster] that turns the previous shape's JSON object into
// the new one; payloads are stored with their schema number and upcast on every
// read. An event that cannot be decoded (an unknown type, a failing upcaster, a
// payload that no longer fits) is a [*DecodeError] that names its stream, version
// and type.
//
// # Time travel
//
// [LoadAt] rebuilds an aggregate as it was at a version ([StreamQuery.ToVersion])
// or at a time ([StreamQuery.Until], on the service's [Clock]; snapshots are then
// not used, as they might postdate it). The result belongs to no unit of work.
// [CommandService.History] returns a stream's decoded events. A [ManualClock] and
// [SequentialIDs] make time and ids deterministic in specs.
//
// # Logs, traces and metrics
//
// The service, the worker and rebuilds log through [Options.Logger] and
// [WorkerOptions.Logger] (nil: slog.Default()): each command at debug (type,
// id, duration, events; never a payload), conflicts it retries at warn,
// failures at error, one line per rebuild phase at info.
//
// For traces and metrics, an [Observer] in [Options.Observer] and
// [WorkerOptions.Observer] is told of every command (its type, outcome,
// conflicts and events) and, through optional interfaces, of loads
// ([LoadObserver]), commits ([CommitObserver]), projector batches
// ([BatchObserver]) and rebuilds ([RebuildObserver]). Package otelconsequent
// is one for OpenTelemetry; es itself imports no telemetry library. Its
// middleware stores the trace context of each command in the command's
// metadata ([SetMetadata]), so that a projector batch or a workflow command
// running later, in another process, links its span to the trace that
// recorded the event:
//
//	obs := otelconsequent.New(tracerProvider, meterProvider)
//	reg.Use(otelconsequent.Middleware())
//	svc, err := es.NewCommandService(ctx, reg, store, es.Options{Observer: obs})
//	worker, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Observer: obs})
//
// # Dry run
//
// [CommandService.DryRun] runs commands' validation and handlers against the
// current state and reports, in a [DryRunReport], the events they would record, the
// projectors and workflows each event would reach and the commands those workflows
// would issue, storing nothing. [DryRunReport.Print] writes it as an outline.
package es
