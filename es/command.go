package es

import (
	"context"
	"fmt"
	"reflect"

	"github.com/google/uuid"
)

// Validator is implemented by commands that check their own input. Validate returns
// a [*ValidationError] naming every invalid field (or nil); the command service
// calls it before the handler and executes nothing when it fails.
type Validator interface {
	Validate() error
}

// HandlerFunc executes one command; middleware wraps it.
type HandlerFunc func(ctx context.Context, cmd any) error

// Middleware wraps the execution of every command (logging, authorisation,
// tracing): it may inspect the command and context, refuse by returning an error,
// or call next.
type Middleware func(next HandlerFunc) HandlerFunc

type commandHandler struct {
	name   string
	handle func(ctx context.Context, u *UnitOfWork, cmd any) error
}

// Handle registers the handler for commands of type C under a stable name (stored
// in the command record). Each command type has exactly one handler.
//
//	es.Handle(r, "blog.PublishPost", func(ctx context.Context, u *es.UnitOfWork, cmd PublishPost) error {
//		post, err := es.Load[*Post](ctx, u, cmd.PostID)
//		if err != nil {
//			return err
//		}
//		return post.Publish()
//	})
func Handle[C any](r *Registry, name string, handle func(ctx context.Context, u *UnitOfWork, cmd C) error) {
	t := reflect.TypeFor[C]()
	switch {
	case name == "":
		r.fail("Handle[%s]: empty command name", t)
		return
	case r.handlers[t] != nil && r.handlers[t].name == name:
		r.fail("command %s (%q) handled twice: remove the second Handle", t, name)
		return
	case r.handlers[t] != nil:
		r.fail("a second handler for command %s: each command has one handler; merge them", t)
		return
	case r.commandNames[name] != nil:
		r.fail("command name %q registered twice (for %s and %s)", name, r.commandNames[name], t)
		return
	}
	if _, ok := any(*new(C)).(Validator); !ok && reflect.PointerTo(t).Implements(reflect.TypeFor[Validator]()) {
		r.fail("command %s: Validate has a pointer receiver, so commands passed as values are never validated: give Validate a value receiver", t)
	}
	r.handlers[t] = &commandHandler{name: name, handle: func(ctx context.Context, u *UnitOfWork, cmd any) error {
		return handle(ctx, u, cmd.(C))
	}}
	r.commandNames[name] = t
}

// ExecOption sets what a command carries besides its payload.
type ExecOption func(*execMeta)

type execMeta struct {
	userID      string
	correlation uuid.UUID
	causation   uuid.UUID
	metadata    map[string]string
	commandID   uuid.UUID // set: the command's id, checked for a duplicate
	scheduled   bool      // a scheduled command under commandID: its schedule goes with the commit
}

// ByUser records who executed the command.
func ByUser(id string) ExecOption { return func(m *execMeta) { m.userID = id } }

// WithCorrelationID sets the correlation id (by default the command's own id).
func WithCorrelationID(id uuid.UUID) ExecOption { return func(m *execMeta) { m.correlation = id } }

// WithCommandID gives the command the id id instead of a fresh one, making its
// execution idempotent: when a command with that id is stored already,
// Execute runs nothing (no handler, no commit) and returns an error wrapping
// [ErrDuplicateCommand]; two executions racing each other store it once (the
// store refuses the second commit). Durable workflows and scheduled commands
// execute their commands this way; an application can do the same with an
// idempotency key of its own (a UUIDv5 of it, say).
func WithCommandID(id uuid.UUID) ExecOption { return func(m *execMeta) { m.commandID = id } }

// WithMetadata adds free metadata, stored with the command and its events.
func WithMetadata(key, value string) ExecOption {
	return func(m *execMeta) {
		if m.metadata == nil {
			m.metadata = map[string]string{}
		}
		m.metadata[key] = value
	}
}

func (rt *runtime) handlerFor(cmd any) (*commandHandler, error) {
	h, ok := rt.reg.handlers[reflect.TypeOf(cmd)]
	if !ok {
		return nil, fmt.Errorf("es: no handler registered for command %T: register one with es.Handle in the application's registration function: %w", cmd, ErrNoHandler)
	}
	return h, nil
}

func validate(name string, cmd any) error {
	v, ok := cmd.(Validator)
	if !ok {
		return nil
	}
	err := v.Validate()
	if ve, ok := err.(*ValidationError); ok {
		if ve == nil || len(ve.Fields) == 0 {
			return nil
		}
		ve.Command = name
	}
	return err
}
