package es

import (
	"errors"

	"github.com/google/uuid"
)

// Result says what [CommandService.Execute] did with a command that committed.
// Execute returns one exactly when its error is nil: then the command record
// and its events are stored, whatever Failures holds, and executing the
// command again would store it again.
type Result struct {
	// CommandID is the id of the stored command record (the events' CommandID).
	CommandID uuid.UUID
	// Events are the events the command stored, in the order its unit of work
	// recorded them, with their Version, Position and TxID as the store
	// assigned them (the global log's [Cursor] of each). A command that
	// recorded nothing stored no events, but its record all the same.
	Events []Envelope
	// FollowUps are the commands synchronous workflows issued in reaction to
	// these events, and to the events of follow-ups before them, in the order
	// they ran (first in, first out), each with how it ended. Durable
	// workflows run in a [ProjectionWorker] and never show here.
	FollowUps []FollowUp
	// Failures is what went wrong after the commit, in order; none of it undid
	// the commit. Each is a [*WorkflowError] (a workflow failed to react to an
	// event, or a command it issued failed: that follow-up's Err), an
	// [*AfterCommitError] (an after-commit hook panicked, or middleware failed
	// after its handler committed; of the command or of a follow-up), or an
	// error wrapping [ErrCascadeLimit] (workflows issued more commands than
	// [Options.MaxCascade] allows; those left were not run).
	Failures []error
}

// Err returns Failures joined, nil when there are none: for callers that treat
// anything going wrong after the commit as a failure,
//
//	res, err := svc.Execute(ctx, cmd)
//	if err == nil {
//		err = res.Err()
//	}
//
// Err is safe on a nil *Result (nil).
func (r *Result) Err() error {
	if r == nil {
		return nil
	}
	return errors.Join(r.Failures...)
}

// AllEvents returns the events the command stored followed by those of the
// follow-ups that committed, in the order they were stored. It is safe on a
// nil *Result (none).
func (r *Result) AllEvents() []Envelope {
	if r == nil {
		return nil
	}
	out := append([]Envelope(nil), r.Events...)
	for _, f := range r.FollowUps {
		out = append(out, f.Events...)
	}
	return out
}

// FollowUp is a command a synchronous workflow issued after a commit, and how
// it ended.
type FollowUp struct {
	Workflow string   // the workflow that issued it
	Cause    Envelope // the event the workflow reacted to
	Command  any      // the command it issued
	// CommandID is the id of its stored command record; zero when it failed.
	CommandID uuid.UUID
	// Events are the events it stored, as [Result.Events] are.
	Events []Envelope
	// Err is why it failed, as Execute would have returned it: nothing of it
	// was stored. Result.Failures holds it too, as a [*WorkflowError]. Nil
	// when it committed.
	Err error
}
