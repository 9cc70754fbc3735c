package es

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Sentinel errors that callers branch on with [errors.Is]. Stores and the runtime
// wrap them with context (the stream, the command), so compare with errors.Is, never ==.
var (
	// ErrConcurrencyConflict: another writer appended to a stream after this unit of
	// work loaded it. Nothing of the unit of work was written; retrying the whole
	// command (see [Options.ConflictRetries]) usually succeeds.
	ErrConcurrencyConflict = errors.New("concurrency conflict")

	// ErrAggregateNotFound: no stream exists with the requested id.
	ErrAggregateNotFound = errors.New("aggregate not found")

	// ErrAggregateExists: a new aggregate was added under an id that is already taken.
	ErrAggregateExists = errors.New("aggregate already exists")

	// ErrAggregateType: a stream was loaded as a different aggregate type than the one
	// that wrote it.
	ErrAggregateType = errors.New("aggregate type mismatch")

	// ErrUnknownEventType: a stored event's type name is not registered.
	ErrUnknownEventType = errors.New("unknown event type")

	// ErrNoHandler: a command was executed for which no handler is registered.
	ErrNoHandler = errors.New("no command handler")

	// ErrRecordNotFound: a view-table lookup matched no row.
	ErrRecordNotFound = errors.New("record not found")

	// ErrDuplicateRecord: a view-table insert hit an existing primary key.
	ErrDuplicateRecord = errors.New("duplicate record")

	// ErrUnknownProjector: no projector of that name is registered.
	ErrUnknownProjector = errors.New("no such projector")
	// ErrTableNotFound: a view table that does not exist (create it with
	// [Persistor.CreateTables]).
	ErrTableNotFound = errors.New("no such table")

	// ErrTableNotManaged: a projector wrote a table it did not declare.
	ErrTableNotManaged = errors.New("table not managed by this projector")

	// ErrCascadeLimit: workflows kept issuing commands beyond [Options.MaxCascade]
	// within one Execute, which reports it in [Result.Failures]. The commands
	// that ran are stored; those left were not run.
	ErrCascadeLimit = errors.New("workflow cascade limit reached")
)

// ValidationError reports every invalid field of a command. A command's Validate
// method returns it; [CommandService.Execute] passes it through unwrapped in the
// chain so that errors.As finds it.
type ValidationError struct {
	// Command is the command's registered type name (set by the command service).
	Command string
	// Fields maps a field name to the messages describing what is wrong with it.
	Fields map[string][]string
}

// Add records that field is invalid, with a message saying why.
func (e *ValidationError) Add(field, message string) {
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	e.Fields[field] = append(e.Fields[field], message)
}

// Check records message for field when ok is false. It reads like a rule:
//
//	v.Check(cmd.Title != "", "Title", "must not be blank")
func (e *ValidationError) Check(ok bool, field, message string) {
	if !ok {
		e.Add(field, message)
	}
}

// Err returns e when it holds at least one invalid field, else nil; it lets Validate
// end with `return v.Err()`.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, f := range names {
		parts = append(parts, f+" "+strings.Join(e.Fields[f], ", "))
	}
	subject := "command"
	if e.Command != "" {
		subject = e.Command
	}
	return fmt.Sprintf("invalid %s: %s", subject, strings.Join(parts, "; "))
}

// UniqueKeyError reports that a commit would take a unique key already held by
// another aggregate. Nothing of the commit was written.
type UniqueKeyError struct {
	Scope  string
	Key    string
	Holder uuid.UUID // the aggregate that holds the key, when the store knows it
	Claim  uuid.UUID // the aggregate that tried to take it
}

func (e *UniqueKeyError) Error() string {
	if e.Holder != uuid.Nil {
		return fmt.Sprintf("unique key %s=%q of %s is held by %s", e.Scope, e.Key, e.Claim, e.Holder)
	}
	return fmt.Sprintf("unique key %s=%q of %s is already taken", e.Scope, e.Key, e.Claim)
}

// DecodeError reports a stored event that cannot be turned back into its Go type:
// its type is not registered, an upcaster failed, or its payload no longer decodes.
type DecodeError struct {
	StreamID uuid.UUID
	Version  int64
	Type     string
	Err      error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode event %s of stream %s version %d: %v", e.Type, e.StreamID, e.Version, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }
