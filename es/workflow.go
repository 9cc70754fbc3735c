package es

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
)

// Workflow reacts to events after they are committed by executing commands (send
// a notification, start the next step of a process). Commands it issues run after
// the command that caused the event, first in first out, each in its own unit of
// work, linked to the causing event (CausationID) and sharing its correlation id.
// Build one with [NewWorkflow] and [React]; register it with [Registry.AddWorkflow].
// Workflows are never replayed.
type Workflow struct {
	name     string
	handlers map[reflect.Type]func(context.Context, *Reaction, Envelope) error
}

// NewWorkflow returns an empty workflow named name.
func NewWorkflow(name string) *Workflow {
	return &Workflow{name: name, handlers: map[reflect.Type]func(context.Context, *Reaction, Envelope) error{}}
}

// Name returns the workflow's name.
func (w *Workflow) Name() string { return w.name }

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
// A panic in the handler is returned as a [*PanicError].
func (w *Workflow) Run(ctx context.Context, clock Clock, ids IDGenerator, e Envelope) (cmds []any, err error) {
	h, ok := w.handlers[reflect.TypeOf(e.Event)]
	if !ok {
		return nil, nil
	}
	defer func() {
		if p := recover(); p != nil {
			cmds, err = nil, fmt.Errorf("workflow %s: %s of stream %s version %d: %w", w.name, e.Type, e.StreamID, e.Version, &PanicError{Value: p, Stack: debug.Stack()})
		}
	}()
	r := &Reaction{clock: clock, ids: ids}
	if err := h(ctx, r, e); err != nil {
		return nil, fmt.Errorf("workflow %s: %s of stream %s version %d: %w", w.name, e.Type, e.StreamID, e.Version, err)
	}
	return r.commands, nil
}

// Reaction is what a workflow handler uses to act. It is for one handler call.
type Reaction struct {
	clock    Clock
	ids      IDGenerator
	commands []any
}

// Execute queues cmd to run once the current command is done.
func (r *Reaction) Execute(cmd any) { r.commands = append(r.commands, cmd) }

// Now returns the current time on the service's clock.
func (r *Reaction) Now() time.Time { return r.clock.Now() }

// NewID returns a fresh id from the service's id generator.
func (r *Reaction) NewID() uuid.UUID { return r.ids.NewID() }

// WorkflowError reports that a command committed but a workflow reacting to its
// events, or a command the workflow issued, failed. The original command's events
// are stored.
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
