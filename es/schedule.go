package es

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// ErrDuplicateCommand: a command was executed with an id that the store holds
// already (see [WithCommandID]): it ran before, so nothing was run or stored
// this time. The runtime's durable workflows and scheduled commands treat it
// as done: that is how a command they issue twice takes effect once.
var ErrDuplicateCommand = errors.New("command executed already")

// ScheduledCommand is a command stored to be executed later, by a
// [ProjectionWorker], once its Due time has come on the service's clock.
// Handlers schedule with [UnitOfWork.Schedule] (stored in the same
// transaction as their events), workflows with [Reaction.Schedule].
type ScheduledCommand struct {
	ID   uuid.UUID // the command's id when it runs: it runs once, whatever the retries
	Key  string    // scheduling again under a key replaces; Cancel removes by key
	Due  time.Time
	Type string // the command's registered name
	Data []byte // the command, encoded (JSON)

	UserID        string
	CorrelationID uuid.UUID
	CausationID   uuid.UUID // the event that caused it (workflows), else zero
	Metadata      map[string]string

	// Error is set while the command is parked: it kept failing when due, and
	// runs again once [ProjectionWorker.ResumeScheduled] clears it.
	Error string
}

// ScheduleQuery selects scheduled commands for [ScheduleStore.Scheduled].
type ScheduleQuery struct {
	// DueBy, when set, selects the commands due at or before it that are not
	// parked: what a worker runs. Zero: every scheduled command, parked or not.
	DueBy time.Time
	Limit int // at most this many (0: no limit)
}

// ScheduleStore is the optional capability of an [EventStore] that keeps
// scheduled commands. A commit stores [Commit.Schedule] and applies
// [Commit.Cancel] in its transaction, and removes the schedule of a command
// that was scheduled ([Commit.Scheduled]). The memory store and pgstore
// implement it; implementations must be safe for concurrent use.
type ScheduleStore interface {
	EventStore

	// Schedule cancels the commands scheduled under the keys in cancel, then
	// stores add, each replacing the command scheduled under its key, in one
	// transaction, outside any commit (what workflows schedule).
	Schedule(ctx context.Context, add []ScheduledCommand, cancel []string) error

	// Scheduled returns scheduled commands selected by q, in (Due, ID) order.
	Scheduled(ctx context.Context, q ScheduleQuery) ([]ScheduledCommand, error)

	// SetScheduleFailure parks the scheduled command id with message msg, so
	// that it is no longer due; an empty msg clears it (resume).
	SetScheduleFailure(ctx context.Context, id uuid.UUID, msg string) error

	// Unschedule removes the scheduled command id; removing one that is not
	// there is not an error.
	Unschedule(ctx context.Context, id uuid.UUID) error
}

// Schedule stores cmd to be executed at at (on the service's clock) by a
// [ProjectionWorker] running with the service ([WorkerOptions.Service]), in
// the same transaction as the events of this unit of work: if the command
// fails, nothing is scheduled. Scheduling under a key that is scheduled already
// replaces it; [UnitOfWork.Cancel] with the key removes it. The command runs at
// least once and takes effect once: it is executed with its own id
// ([ScheduledCommand.ID]), and a store refuses a command id twice. It carries
// the correlation of the command that scheduled it, and is linked to it.
//
//	u.Schedule(u.Now().Add(7*24*time.Hour), "remind "+post.ID().String(), RemindAuthor{PostID: post.ID()})
func (u *UnitOfWork) Schedule(at time.Time, key string, cmd any) error {
	sc, err := u.rt.encodeScheduled(at, key, cmd, u.rt.ids.NewID())
	if err != nil {
		return err
	}
	u.schedule = slices.DeleteFunc(u.schedule, func(s ScheduledCommand) bool { return s.Key == sc.Key })
	u.schedule = append(u.schedule, sc)
	return nil
}

// Cancel removes the command scheduled under key, if any, when this unit of
// work commits; it also drops one this unit of work scheduled under key.
func (u *UnitOfWork) Cancel(key string) {
	u.schedule = slices.DeleteFunc(u.schedule, func(s ScheduledCommand) bool { return s.Key == key })
	if !slices.Contains(u.cancel, key) {
		u.cancel = append(u.cancel, key)
	}
}

// encodeScheduled checks and encodes a command to schedule.
func (rt *runtime) encodeScheduled(at time.Time, key string, cmd any, id uuid.UUID) (ScheduledCommand, error) {
	h, err := rt.handlerFor(cmd)
	if err != nil {
		return ScheduledCommand{}, fmt.Errorf("schedule %T: %w", cmd, err)
	}
	return encodeScheduled(h.name, at, key, cmd, id)
}

func encodeScheduled(name string, at time.Time, key string, cmd any, id uuid.UUID) (ScheduledCommand, error) {
	if at.IsZero() {
		return ScheduledCommand{}, fmt.Errorf("schedule %s: no time given", name)
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return ScheduledCommand{}, fmt.Errorf("schedule %s: encode: %w", name, err)
	}
	if key == "" {
		key = id.String()
	}
	return ScheduledCommand{ID: id, Key: key, Due: CanonicalTime(at), Type: name, Data: data}, nil
}

// ScheduledCommands returns what is scheduled in the service's store, in due
// order, decoded: for specs, tools and status pages. The store must implement
// [ScheduleStore].
func (s *CommandService) ScheduledCommands(ctx context.Context) ([]Scheduled, error) {
	ss, ok := s.rt.store.(ScheduleStore)
	if !ok {
		return nil, errNoSchedules(s.rt.store)
	}
	recs, err := ss.Scheduled(ctx, ScheduleQuery{})
	if err != nil {
		return nil, err
	}
	out := make([]Scheduled, 0, len(recs))
	for _, rec := range recs {
		cmd, err := s.rt.reg.DecodeCommand(CommandRecord{ID: rec.ID, Type: rec.Type, Data: rec.Data})
		if err != nil {
			return nil, err
		}
		out = append(out, Scheduled{At: rec.Due, Key: rec.Key, Command: cmd, Record: rec})
	}
	return out, nil
}

// Scheduled is a scheduled command, decoded.
type Scheduled struct {
	At      time.Time
	Key     string
	Command any
	Record  ScheduledCommand // as stored (zero for what a workflow only planned)
}

func errNoSchedules(store EventStore) error {
	return fmt.Errorf("es: the store %T cannot schedule commands (it does not implement es.ScheduleStore)", store)
}

// reactionNamespace is the UUIDv5 namespace of the ids durable workflows derive.
var reactionNamespace = uuid.MustParse("6f1d1c55-2f0b-4c86-9a59-6b6f1b2c7a10")

// ReactionID is the id a durable workflow gives to the index-th thing it asks
// for while reacting to the event eventID (counting, from 0, the calls of
// [Reaction.Execute], [Reaction.Schedule] and [Reaction.NewID] in order): a
// UUIDv5 of the three. The commands it issues carry it as their command id, so
// that reacting to the same event again, after a crash, stores each of them
// once (the store refuses a command id twice, see [ErrDuplicateCommand]).
func ReactionID(workflow string, eventID uuid.UUID, index int) uuid.UUID {
	return uuid.NewSHA1(reactionNamespace, fmt.Appendf(nil, "%s\x00%s\x00%d", workflow, eventID, index))
}
