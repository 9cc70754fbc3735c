package es

import (
	"context"
	"errors"
	"time"
)

// ErrTableChanged: a view table exists with other columns or another key than
// its definition. The runtime turns it into the fix: raise the projector's
// [Projector.Versioned], so that its tables are rebuilt.
var ErrTableChanged = errors.New("exists with other columns or another key")

// ReadModelStore is the optional capability of a [ProjectionStore] that evolves
// read models: it streams the log by event type and rebuilds a projector's tables
// beside the live ones, then swaps them in. The runtime drives it (the replay,
// its batching, failures and progress live in es, once); a store only offers the
// narrow session below, the way a database/sql driver offers connections. The
// memory store (memstore) and pgstore implement it, and
// estest.TestEventStore checks them.
//
// Versions. The state of a projector's first partition ([ProjectionStore.Projection]
// with its name) records the version its live tables were built with: the
// serving version. Commits read it under the lock described at [Commit.ReadModels],
// so that a swap and the commits that write a projector's tables inline exclude
// each other.
type ReadModelStore interface {
	ProjectionStore

	// StreamLog calls fn with every event after the cursor of one of the given
	// types (every type when types is empty), in log order, as it reads them,
	// under one watermark taken when it starts (see [EventStore.ReadLog]); it
	// stops at the first error fn returns and returns it. limit > 0 stops after
	// that many events.
	StreamLog(ctx context.Context, after Cursor, types []string, limit int, fn func(EventRecord) error) error

	// CountLog counts the events after the cursor of the given types (every type
	// when types is empty), below the watermark; with committed, every committed
	// one, also those the watermark still holds back.
	CountLog(ctx context.Context, after Cursor, types []string, committed bool) (int64, error)

	// ClaimVersion records version as the serving version of projection name
	// unless one is recorded already, and returns the serving version.
	ClaimVersion(ctx context.Context, name string, version int) (int, error)

	// OpenRebuild starts the rebuild described by spec, or resumes an interrupted
	// one of the same version: it creates the shadow tables (empty, without
	// secondary indexes) or keeps the ones that rebuild left. The caller holds
	// the lease spec.Lease and keeps it; every write of the session is fenced by
	// it ([ErrLeaseLost]).
	OpenRebuild(ctx context.Context, spec RebuildSpec) (RebuildSession, error)

	// Rebuild returns the recorded state of the rebuild of projector name; ok is
	// false when none is under way.
	Rebuild(ctx context.Context, name string) (state RebuildState, ok bool, err error)
}

// RebuildSpec describes one rebuild to a [ReadModelStore].
type RebuildSpec struct {
	Projector string     // the projector's name: its serving version is recorded under it
	Version   int        // the version being built
	Tables    []TableDef // the new version's tables
	// Partitions are the projection states (checkpoints) of an async projector,
	// set to the last event applied at the swap; empty for an inline projector.
	Partitions []string
	Lease      string // the lease that fences the rebuild
	Owner      string // who holds it
}

// RowChange is one row a rebuild changed since its last write: the row as it now
// is, or nil when it was deleted. Replace says that the shadow table holds a row
// with this key from an earlier write, which the change replaces or deletes.
type RowChange struct {
	Table   string
	Key     Where
	Row     Row
	Replace bool
}

// RebuildMark is the progress a rebuild records with each write.
type RebuildMark struct {
	Cursor Cursor // the last event the shadow tables hold
	Done   int64  // events applied, over every run of this rebuild
	Total  int64  // Done plus the events still to apply, as last counted
	Phase  string
}

// RebuildState is the recorded state of a rebuild under way.
type RebuildState struct {
	Projector string
	Version   int
	RebuildMark
	Started time.Time // when this version's rebuild began
	Updated time.Time // the last write
	Error   string    // why it stopped, if it did
}

// RebuildSession is one rebuild in a [ReadModelStore]. It is used by one
// goroutine; every method that writes is fenced by the rebuild's lease.
type RebuildSession interface {
	// Resumed returns the progress an interrupted rebuild of the same version
	// had recorded (zero on a fresh start).
	Resumed() RebuildMark

	// Rows calls fn with every row of the shadow table of table, to resume.
	Rows(ctx context.Context, table string, fn func(Row) error) error

	// Write writes changes to the shadow tables and records mark, in one
	// transaction.
	Write(ctx context.Context, changes []RowChange, mark RebuildMark) error

	// Index builds the shadow tables' indexes: the secondary ones, and the
	// primary key where the store defers it while the rows are copied in.
	Index(ctx context.Context) error

	// Swap finishes the rebuild in one short transaction. It takes the
	// projector's lock exclusively (commits that write its tables inline wait
	// for the swap, see [Commit.ReadModels]), reads the events of the given
	// types after the mark's cursor (for an inline projector every committed
	// one, since no commit that could write one is in flight; for an async one,
	// those below the watermark) and hands them to catchUp, writes the changes
	// it returns, puts the shadow tables in place of the live ones (dropping
	// those), records spec.Version as the serving version and, for an async
	// projector, moves every partition's checkpoint to the last event applied
	// and clears their failures. It returns that cursor.
	Swap(ctx context.Context, types []string, mark RebuildMark, catchUp func(ctx context.Context, recs []EventRecord) ([]RowChange, error)) (Cursor, error)

	// Fail records why the rebuild stopped, for its status; the shadow tables
	// stay, so that it resumes.
	Fail(ctx context.Context, msg string) error

	// Abort drops the shadow tables and forgets the rebuild.
	Abort(ctx context.Context) error
}
