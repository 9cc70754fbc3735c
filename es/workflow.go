package es

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Workflow reacts to events after they are committed by executing commands (send
// a notification, start the next step of a process) and scheduling commands for
// later. Build one with [NewWorkflow] and [React]; register it with
// [Registry.AddWorkflow]. Workflows are never replayed.
//
// A workflow runs in one of two modes. Synchronous (the default): the commands
// it issues run in the process that executed the causing command, right after
// it, first in first out, each in its own unit of work, linked to the causing
// event (CausationID) and sharing its correlation id; if that process dies in
// between, they are lost. [Workflow.Durable]: a [ProjectionWorker] follows the
// global log from the workflow's checkpoint, as it does for an async projector,
// and every command the workflow issues carries an id derived from the
// workflow, the event and its place among the workflow's actions
// ([ReactionID]), so that reacting to an event twice (after a crash, or a
// retry) stores each command once: at least once delivery, exactly once effect.
type Workflow struct {
	name       string
	handlers   map[reflect.Type]func(context.Context, *Reaction, Envelope) error
	durable    bool
	partitions int
}

// NewWorkflow returns an empty, synchronous workflow named name.
func NewWorkflow(name string) *Workflow {
	return &Workflow{name: name, handlers: map[reflect.Type]func(context.Context, *Reaction, Envelope) error{}}
}

// Name returns the workflow's name.
func (w *Workflow) Name() string { return w.name }

// Durable makes w a durable workflow: a [ProjectionWorker] given the command
// service ([WorkerOptions.Service]) runs it from the global log, with a
// checkpoint, a lease, retries with backoff and, when an event keeps failing,
// a stop at it (a [*ProjectionFailure]) until [ProjectionWorker.Resume]. The
// command service no longer runs it after its commits. It returns w.
func (w *Workflow) Durable() *Workflow {
	w.durable = true
	return w
}

// Sync makes w a synchronous workflow again (the default): it runs after the
// commits of the command service, in its process. It returns w.
func (w *Workflow) Sync() *Workflow {
	w.durable = false
	return w
}

// IsDurable reports whether w is durable.
func (w *Workflow) IsDurable() bool { return w.durable }

// Partitioned splits a durable workflow into n partitions by stream (n ≤ 256),
// each with its own checkpoint and lease, like [Projector.Partitioned]. It
// returns w.
func (w *Workflow) Partitioned(n int) *Workflow {
	w.partitions = n
	return w
}

// Partitions returns the number of partitions of a durable workflow (at least 1).
func (w *Workflow) Partitions() int { return max(w.partitions, 1) }

// Handles reports whether the workflow reacts to events like event.
func (w *Workflow) Handles(event any) bool {
	_, ok := w.handlers[reflect.TypeOf(event)]
	return ok
}

// React adds to w a handler for events of type E.
//
//	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, ev PostPublished) error {
//		r.Execute(NotifyAuthor{PostID: e.StreamID})
//		return nil
//	})
func React[E any](w *Workflow, handle func(ctx context.Context, r *Reaction, e Envelope, event E) error) {
	w.handlers[reflect.TypeFor[E]()] = func(ctx context.Context, r *Reaction, e Envelope) error {
		return handle(ctx, r, e, e.Event.(E))
	}
}

// Run calls w's handler for e, if it has one, and returns the commands it issued.
// A panic in the handler is returned as a [*PanicError]. See [Workflow.Plan] for
// everything the handler asked for.
func (w *Workflow) Run(ctx context.Context, clock Clock, ids IDGenerator, e Envelope) ([]any, error) {
	a, err := w.Plan(ctx, clock, ids, e)
	return a.Commands, err
}

// Plan calls w's handler for e, if it has one, as a synchronous workflow does
// (ids from ids), and returns what it asked for, without doing any of it.
func (w *Workflow) Plan(ctx context.Context, clock Clock, ids IDGenerator, e Envelope) (Actions, error) {
	return w.plan(ctx, &Reaction{clock: clock, ids: ids}, e)
}

// plan runs w's handler for e with r.
func (w *Workflow) plan(ctx context.Context, r *Reaction, e Envelope) (a Actions, err error) {
	h, ok := w.handlers[reflect.TypeOf(e.Event)]
	if !ok {
		return Actions{}, nil
	}
	defer func() {
		if p := recover(); p != nil {
			a, err = Actions{}, fmt.Errorf("workflow %s: %s of stream %s version %d: %w", w.name, e.Type, e.StreamID, e.Version, &PanicError{Value: p, Stack: debug.Stack()})
		}
	}()
	if err := h(ctx, r, e); err != nil {
		return Actions{}, fmt.Errorf("workflow %s: %s of stream %s version %d: %w", w.name, e.Type, e.StreamID, e.Version, err)
	}
	return r.actions, nil
}

// Actions are what a workflow handler asked for while reacting to one event.
type Actions struct {
	Commands   []any       // to execute, in order
	CommandIDs []uuid.UUID // their ids, for a durable workflow (else nil)
	Schedule   []Scheduled // to schedule, in order (Record.ID and Key set)
	Cancel     []string    // schedule keys to cancel, before Schedule
}

// Reaction is what a workflow handler uses to act. It is for one handler call.
type Reaction struct {
	clock    Clock
	ids      IDGenerator
	workflow string    // durable: the workflow, so that ids derive from it,
	event    uuid.UUID // the event
	n        int       // and the number of actions so far
	actions  Actions
}

// Execute queues cmd to run once the current command is done (a synchronous
// workflow), or right away (a durable one), with the causing event as its
// causation.
func (r *Reaction) Execute(cmd any) {
	if r.workflow != "" {
		r.actions.CommandIDs = append(r.actions.CommandIDs, r.nextID())
	}
	r.actions.Commands = append(r.actions.Commands, cmd)
}

// Schedule schedules cmd to be executed at at, under key (see
// [UnitOfWork.Schedule]): a durable workflow stores it once it has executed
// the commands it issued for the event; a synchronous one after the commit.
func (r *Reaction) Schedule(at time.Time, key string, cmd any) {
	id := r.NewID()
	if key == "" {
		key = id.String()
	}
	r.actions.Cancel = slices.DeleteFunc(r.actions.Cancel, func(k string) bool { return k == key })
	r.actions.Schedule = slices.DeleteFunc(r.actions.Schedule, func(s Scheduled) bool { return s.Key == key })
	r.actions.Schedule = append(r.actions.Schedule, Scheduled{At: CanonicalTime(at), Key: key, Command: cmd, Record: ScheduledCommand{ID: id, Key: key}})
}

// Cancel removes the command scheduled under key, if any (see [UnitOfWork.Cancel]).
func (r *Reaction) Cancel(key string) {
	r.actions.Schedule = slices.DeleteFunc(r.actions.Schedule, func(s Scheduled) bool { return s.Key == key })
	if !slices.Contains(r.actions.Cancel, key) {
		r.actions.Cancel = append(r.actions.Cancel, key)
	}
}

// Now returns the current time on the service's clock.
func (r *Reaction) Now() time.Time { return r.clock.Now() }

// NewID returns a fresh id from the service's id generator; in a durable
// workflow, an id derived from the workflow, the event and the number of
// actions so far ([ReactionID]), the same each time it reacts to the event.
func (r *Reaction) NewID() uuid.UUID {
	if r.workflow != "" {
		return r.nextID()
	}
	return r.ids.NewID()
}

func (r *Reaction) nextID() uuid.UUID {
	id := ReactionID(r.workflow, r.event, r.n)
	r.n++
	return id
}

// WorkflowError reports that a command committed but a workflow reacting to its
// events, or a command the workflow issued, failed. The original command's events
// are stored: [CommandService.Execute] reports it in [Result.Failures], not as
// its error. A durable workflow's worker retries the event it failed on.
type WorkflowError struct {
	Workflow string
	Event    Envelope
	Command  any // the issued command that failed, or nil when the handler failed
	Err      error
}

func (e *WorkflowError) Error() string {
	if e.Command != nil {
		return fmt.Sprintf("es: workflow %s, reacting to %s of stream %s: command %T: %v", e.Workflow, e.Event.Type, e.Event.StreamID, e.Command, e.Err)
	}
	return fmt.Sprintf("es: %v", e.Err)
}

func (e *WorkflowError) Unwrap() error { return e.Err }
