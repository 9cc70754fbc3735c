package es

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// EventStore is the contract every storage backend implements: the in-memory store
// (memstore.New) and pgstore. estest.TestEventStore checks an implementation
// against it. Implementations must be safe for concurrent use.
//
// A store deals in encoded events ([EventRecord]); the runtime encodes and decodes them
// with its [Registry], so a store never needs the application's Go types.
type EventStore interface {
	// Commit writes one unit of work atomically: the command record, the events of
	// every stream in c.Streams, their unique keys and snapshots. Streams are locked
	// in ascending id order, so concurrent commits cannot deadlock.
	//
	// Each stream's ExpectedVersion must equal its stored version (0 for a stream
	// that does not exist yet), else Commit returns an error wrapping
	// [ErrConcurrencyConflict]. A unique key held by another stream makes it return
	// a [*UniqueKeyError]. A command id that is stored already makes it return an
	// error wrapping [ErrDuplicateCommand]. In these cases, and when inTx fails,
	// nothing is written.
	//
	// Commit fills in Position and TxID of every event in c and the serving
	// versions of c.ReadModels, then, before the commit
	// becomes visible, calls inTx (when non-nil) with the
	// store's view tables bound to the same transaction: read tables and events
	// commit together or not at all.
	Commit(ctx context.Context, c *Commit, inTx func(ctx context.Context, views Persistor) error) error

	// LoadStream returns the events of one stream in version order, restricted by q.
	// A stream that does not exist yields no records and no error; use
	// [EventStore.StreamInfo] to tell the two apart.
	LoadStream(ctx context.Context, id uuid.UUID, q StreamQuery) ([]EventRecord, error)

	// StreamInfo returns a stream's type and current version, or an error wrapping
	// [ErrAggregateNotFound].
	StreamInfo(ctx context.Context, id uuid.UUID) (StreamInfo, error)

	// ReadLog returns up to limit events (all, when limit <= 0) that follow after in the global order
	// (TxID, Position), oldest first. It returns only events of transactions that
	// committed before any transaction still in flight began, so a reader that
	// resumes from the last cursor it saw never skips an event committed late.
	ReadLog(ctx context.Context, after Cursor, limit int) ([]EventRecord, error)

	// LoadSnapshot returns the newest snapshot of stream id with the given schema
	// whose version is at most maxVersion (no limit when maxVersion <= 0), or nil.
	LoadSnapshot(ctx context.Context, id uuid.UUID, schema int, maxVersion int64) (*Snapshot, error)

	// Commands returns the command records with the given ids, in no particular
	// order; unknown ids are left out. It serves audit trails, and the check
	// that a command with a given id ran already ([WithCommandID]).
	Commands(ctx context.Context, ids ...uuid.UUID) ([]CommandRecord, error)

	// DeleteStream permanently removes a stream: its events, snapshots and unique
	// keys (the right to be forgotten). Deleting a stream that does not exist is not
	// an error.
	DeleteStream(ctx context.Context, id uuid.UUID) error

	// Views returns the store's view tables for reads and for writes outside a
	// commit (each call its own transaction).
	Views() Persistor
}

// EventRecord is an event as a store keeps it: the envelope plus the encoded payload.
type EventRecord struct {
	ID         uuid.UUID // the event's own id
	StreamID   uuid.UUID
	StreamType string // the aggregate type name
	Version    int64  // 1 for a stream's first event
	Position   int64  // global position, assigned by the store
	TxID       uint64 // commit order, assigned by the store; see [Cursor]
	Type       string // registered event type name
	Schema     int    // payload schema version, for upcasting
	Data       []byte // the payload, encoded (JSON)
	Meta
}

// Cursor returns the record's place in the global log.
func (r EventRecord) Cursor() Cursor { return Cursor{TxID: r.TxID, Position: r.Position} }

// Meta is what an event carries besides its payload.
type Meta struct {
	Time          time.Time
	CommandID     uuid.UUID // the command whose unit of work recorded the event
	CorrelationID uuid.UUID // shared by every command and event of one business flow
	CausationID   uuid.UUID // the command (for events) that caused it
	UserID        string
	Metadata      map[string]string
}

// Cursor is a point in the global log. The log is ordered by TxID (commit order of
// the writing transaction), then Position; the zero Cursor is before the first event.
type Cursor struct {
	TxID     uint64
	Position int64
}

// Before reports whether c comes before d in the global log.
func (c Cursor) Before(d Cursor) bool {
	return c.TxID < d.TxID || (c.TxID == d.TxID && c.Position < d.Position)
}

// StreamQuery restricts [EventStore.LoadStream].
type StreamQuery struct {
	FromVersion int64     // first version to return (0 or 1: from the start)
	ToVersion   int64     // last version to return (0: no limit)
	Until       time.Time // only events recorded at or before this time (zero: no limit)
}

// StreamInfo describes a stored stream.
type StreamInfo struct {
	Type    string
	Version int64
}

// Commit is one unit of work as a store writes it.
type Commit struct {
	Command CommandRecord
	Streams []StreamWrite
	// ReadModels names the inline projectors whose tables inTx may write. In the
	// commit's transaction, before inTx, the store locks each of them in shared
	// mode until the transaction ends (a rebuild's swap holds the same lock
	// exclusively: the two wait for each other, never fail), then reads their
	// serving versions (see [ReadModelStore]) into Serving, in the same order (0
	// where none is recorded). The runtime writes a projector's tables only
	// when its serving version is the projector's own, so that a process still
	// running an older version never writes the tables a newer one built.
	//
	// Versions are the committing program's versions of ReadModels. Where a
	// newer version serves, the store counts the commit in
	// [ProjectionState.Skipped]: its events are missing from those tables until
	// a process of the newer version rebuilds them.
	ReadModels []string
	Versions   []int
	Serving    []int // filled in by the store

	// Schedule and Cancel change the scheduled commands of a [ScheduleStore]
	// in the commit's transaction: first the commands scheduled under the keys
	// in Cancel are removed, then each of Schedule is stored, replacing the
	// one scheduled under its key. A store without schedules refuses a commit
	// that has any.
	Schedule []ScheduledCommand
	Cancel   []string
	// Scheduled says that Command is a scheduled command being executed (its
	// id is the [ScheduledCommand.ID]): the store removes that schedule in the
	// commit's transaction.
	Scheduled bool
}

// StreamWrite is what one unit of work appends to one stream.
type StreamWrite struct {
	StreamID        uuid.UUID
	StreamType      string
	ExpectedVersion int64         // the stream's version when loaded; 0 for a new stream
	Events          []EventRecord // versions ExpectedVersion+1, +2, … in order
	// UniqueKeys, when non-nil, replaces every unique key the stream holds (an empty
	// slice releases them all); nil leaves them as they are.
	UniqueKeys []UniqueKey
	Snapshot   *Snapshot // optional
}

// UniqueKey is a value that at most one stream may hold within its scope, such as an
// author's email address (Sequent's unique_key). A stream holds at most one key per
// scope.
type UniqueKey struct {
	Scope string
	Key   string
}

// Snapshot is an aggregate's encoded state as of a version.
type Snapshot struct {
	StreamID   uuid.UUID
	StreamType string // filled in by the store on load
	Version    int64
	Schema     int // the aggregate type's snapshot schema; others are ignored on load
	Data       []byte
}

// CommandRecord is the audit record of one executed command.
type CommandRecord struct {
	ID            uuid.UUID
	Type          string
	Data          []byte // the command, encoded (JSON)
	Time          time.Time
	UserID        string
	CorrelationID uuid.UUID
	CausationID   uuid.UUID // the event that caused it (workflows) or the command that scheduled it, else zero
	Metadata      map[string]string
}
