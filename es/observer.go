package es

import (
	"context"

	"github.com/google/uuid"
)

// Observer is told what the runtime does, for traces and metrics; package
// otelconsequent implements it with OpenTelemetry, and es imports no telemetry
// library. Set it in [Options.Observer] (commands, their loads and commits, the
// rebuilds of inline projectors) and in [WorkerOptions.Observer] (batches of
// async projectors and their rebuilds). A nil Observer, the default, is never
// called and costs nothing.
//
// Observer itself sees commands. It may also implement [LoadObserver],
// [CommitObserver], [BatchObserver] and [RebuildObserver]; the service and the
// worker find them by type assertion when they are built, and call only what
// is implemented.
//
// A Start method is called when an operation begins. The context it returns
// (derived from the one it was given) is the context of everything the
// operation does, so that spans nest: a command's middleware, handler, loads
// and commit run under the context its StartCommand returned, and a batch's
// projector handlers under StartBatch's. The function it returns is called
// exactly once, when the operation ends, with its outcome.
//
// An Observer is called from many goroutines at once and must be safe for
// concurrent use. It runs in the path of every command: it must not block, and
// it must not panic.
type Observer interface {
	// StartCommand is called when [CommandService.Execute] starts one command
	// (the one it was given, or one a workflow issued), before the middleware.
	StartCommand(ctx context.Context, c CommandStart) (context.Context, func(CommandEnd))
}

// CommandStart describes a command the service starts to execute.
type CommandStart struct {
	Type    string // its registered name (es.Handle), or its Go type when it has no handler
	Command any    // the command value; observers must not change it
	// Workflow and Cause are set for a command that a workflow issued: the
	// workflow's name and the event it reacted to. The event's Metadata holds
	// what the middleware of the command that recorded it set with
	// [SetMetadata] (otelconsequent: its trace context), for the observer to
	// link to.
	Workflow string
	Cause    *Envelope
}

// CommandEnd is the outcome of one executed command.
type CommandEnd struct {
	ID      uuid.UUID // the stored command record's id; zero when nothing was stored
	Outcome Outcome
	// Conflicts counts the attempts that failed with [ErrConcurrencyConflict]:
	// those run again ([Options.ConflictRetries]), and the last one when the
	// retries ran out.
	Conflicts int
	Events    []Envelope // the events stored, with their versions and log positions
	// Err is why nothing was stored (OutcomeRefused, OutcomeFailed) or, with
	// OutcomeCommitted, what failed after the commit (its [*AfterCommitError]s,
	// joined), which Execute reports in [Result.Failures]; nil when the command
	// committed cleanly.
	Err error
}

// Outcome says how a command ended.
type Outcome string

const (
	// OutcomeCommitted: the command and its events (maybe none) are stored. Err
	// may still be set when an after-commit hook or middleware failed after the
	// commit.
	OutcomeCommitted Outcome = "committed"
	// OutcomeRefused: the command's own answer, nothing stored: invalid input
	// ([*ValidationError]), a rule of the domain (the handler's error), a missing
	// aggregate or a unique key held by another.
	OutcomeRefused Outcome = "refused"
	// OutcomeFailed: nothing stored because something went wrong: the store, a
	// panic, a conflict after the retries, a cancelled context, no handler.
	OutcomeFailed Outcome = "failed"
)

// outcomeOf classifies what executing a command returned.
func outcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeCommitted
	case refused(err):
		return OutcomeRefused
	}
	return OutcomeFailed
}

// LoadObserver is implemented by observers that see aggregates being rebuilt
// from the store: by [Load] in a handler (under the command's context), and
// by [Get] and [LoadAt]. Loads served by the unit of work's identity map are
// not reported.
type LoadObserver interface {
	StartLoad(ctx context.Context, l LoadStart) (context.Context, func(LoadEnd))
}

// LoadStart names the aggregate being loaded.
type LoadStart struct {
	AggregateType string // registered name
	ID            uuid.UUID
}

// LoadEnd says what a load read.
type LoadEnd struct {
	Snapshot int64 // the version of the snapshot it started from, 0 for none
	Events   int   // events applied (after the snapshot)
	Version  int64 // the aggregate's version loaded
	Err      error
}

// CommitObserver is implemented by observers that see the store's commits:
// each attempt of a command (so a conflict shows as a failed commit), and
// [CommandService.Append]. Inline projectors run inside the commit.
type CommitObserver interface {
	// StartCommit gets the commit the store is about to write (read-only: its
	// command record, streams and events).
	StartCommit(ctx context.Context, c *Commit) (context.Context, func(CommitEnd))
}

// CommitEnd is the outcome of one commit: nil, or what the store returned
// (an [ErrConcurrencyConflict], a [*UniqueKeyError], an inline projector's
// error); nothing was written then.
type CommitEnd struct {
	Err error
}

// BatchObserver is implemented by observers that see a [ProjectionWorker]
// apply events to an async projection: one batch is one transaction, with the
// projection's new checkpoint. A failing event is applied again in batches of
// its own (after the events before it), each reported.
type BatchObserver interface {
	StartBatch(ctx context.Context, b BatchStart) (context.Context, func(BatchEnd))
}

// BatchStart describes a batch about to be applied.
type BatchStart struct {
	Projector  string
	Projection string // the projector's name, or its partition's ("name#2/4")
	Version    int    // the projector's version
	// Events are the batch's events, in log order; their Metadata holds what the
	// middleware of the commands that recorded them set with [SetMetadata]
	// (otelconsequent: the trace context, to link to). Observers must not
	// change them.
	Events []EventRecord
}

// BatchEnd is the outcome of one batch: nil, or the error that rolled it
// back (none of its events took effect).
type BatchEnd struct {
	Err error
}

// RebuildObserver is implemented by observers that see rebuilds of a
// projector's tables (see [CommandService.Rebuild]), by the service for
// inline projectors and by the worker for async ones.
type RebuildObserver interface {
	// StartRebuild is called when this process starts a rebuild (it holds the
	// rebuild's lease); the returned function is called when it returns, done
	// or not.
	StartRebuild(ctx context.Context, p RebuildProgress) (context.Context, func(RebuildEnd))
	// StartRebuildPhase is called, under StartRebuild's context, when the
	// rebuild enters a phase (PhaseReplay, PhaseIndex, PhaseCatchUp,
	// PhaseSwap); the returned function is called when it leaves it.
	StartRebuildPhase(ctx context.Context, p RebuildProgress) func(RebuildEnd)
	// RebuildProgressed is called as the rebuild advances, whenever
	// [Options.RebuildProgress] would be.
	RebuildProgressed(p RebuildProgress)
}

// RebuildEnd is where a rebuild, or a phase of one, ended.
type RebuildEnd struct {
	Progress RebuildProgress
	Err      error
}

// observers are an Observer and the optional interfaces it implements, found
// once, so that the hot path only checks for nil.
type observers struct {
	command Observer
	load    LoadObserver
	commit  CommitObserver
	batch   BatchObserver
	rebuild RebuildObserver
}

func observersOf(o Observer) observers {
	if o == nil {
		return observers{}
	}
	obs := observers{command: o}
	obs.load, _ = o.(LoadObserver)
	obs.commit, _ = o.(CommitObserver)
	obs.batch, _ = o.(BatchObserver)
	obs.rebuild, _ = o.(RebuildObserver)
	return obs
}
