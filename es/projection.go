package es

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ErrLeaseLost: a worker wrote for a projection whose lease it no longer holds
// (it expired and another worker took it). Nothing was written.
var ErrLeaseLost = errors.New("projection lease lost")

// ProjectionStore is the optional capability of an [EventStore] that async
// projectors need: checkpoints, leases and batches applied atomically with their
// checkpoint. A [ProjectionWorker] finds it by type assertion. The in-memory store
// and pgstore implement it. Implementations must be safe for concurrent use, and
// for use from several processes where the store is shared.
type ProjectionStore interface {
	EventStore

	// ReadPartition is [EventStore.ReadLog] restricted to one partition: the
	// streams whose id's last byte modulo of is part ([PartitionOf]). With of = 1
	// it is ReadLog. The same watermark applies: no event committed late is skipped.
	ReadPartition(ctx context.Context, after Cursor, limit int, part, of int) ([]EventRecord, error)

	// Projection returns the stored state of the projection name; one that never
	// ran has the zero state (with Name set).
	Projection(ctx context.Context, name string) (ProjectionState, error)

	// Lease gives owner the lease on projection name until ttl from now when the
	// lease is free, expired or owner's already, and reports whether owner holds it.
	Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)

	// Release ends owner's lease on name; it does nothing when owner does not hold it.
	Release(ctx context.Context, name, owner string) error

	// Advance runs fn with the view tables bound to one transaction, then moves the
	// checkpoint of projection name to to and records version, and commits: the
	// writes and the checkpoint take effect together or not at all. Unless owner
	// holds an unexpired lease on name at commit, it writes nothing and returns an
	// error wrapping [ErrLeaseLost]; an error from fn writes nothing either.
	Advance(ctx context.Context, name, owner string, to Cursor, version int, fn func(ctx context.Context, views Persistor) error) error

	// SetFailure records that projection name stopped at the event at at, with
	// message msg; an empty msg clears the failure (resume).
	SetFailure(ctx context.Context, name string, at Cursor, msg string) error

	// Behind counts the events of a partition after the cursor, below the
	// watermark, and returns the recording time of the oldest of them.
	Behind(ctx context.Context, after Cursor, part, of int) (n int64, oldest time.Time, err error)
}

// ProjectionState is what a store keeps for one async projection (or one partition
// of it).
type ProjectionState struct {
	Name       string
	Checkpoint Cursor // the last event applied
	Version    int    // the projector version its tables were built with (0: never ran)
	Owner      string // the worker holding the lease, if any
	LeaseUntil time.Time
	Failed     bool // stopped at FailedAt, with Error, until resumed
	FailedAt   Cursor
	Error      string
	// Skipped counts the commits of an older version of an inline projector
	// that did not write its tables because a newer version's serve (a rolling
	// deploy, after the swap); the newer version rebuilds them once they stop
	// (see [Options.RepairAfter]). SkippedAt is the last one.
	Skipped   int64
	SkippedAt time.Time
}

// PartitionOf returns the partition of a stream among of partitions: its id's last
// byte modulo of. Stores filter by the same rule.
func PartitionOf(id uuid.UUID, of int) int {
	if of <= 1 {
		return 0
	}
	return int(id[15]) % of
}

// partitionName names the projection state of one partition of p.
func partitionName(p *Projector, part int) string {
	if p.Partitions() == 1 {
		return p.name
	}
	return fmt.Sprintf("%s#%d/%d", p.name, part, p.Partitions())
}

// ProjectionFailure reports that an async projector, a durable workflow
// (Projection "workflow:name") or a subscription ("subscription:name") stopped
// at an event: its handler (or the event's decoding) kept failing after the
// retries. The other jobs keep running; fix the cause and call
// [ProjectionWorker.Resume].
type ProjectionFailure struct {
	Projection string
	At         Cursor
	StreamID   uuid.UUID
	Version    int64
	Type       string
	Err        error
}

func (e *ProjectionFailure) Error() string {
	what := "projection " + e.Projection
	if strings.Contains(e.Projection, ":") { // "workflow:name", "subscription:name"
		what = e.Projection
	}
	if e.Type == "" { // a failure recorded earlier, reported again
		return fmt.Sprintf("es: %s is stopped at log position %d/%d: %v; fix the cause, then resume it with ProjectionWorker.Resume(ctx, %q)",
			what, e.At.TxID, e.At.Position, e.Err, e.Projection)
	}
	return fmt.Sprintf("es: %s stopped at %s of stream %s version %d (log position %d/%d): %v; fix the cause, then resume it with ProjectionWorker.Resume(ctx, %q)",
		what, e.Type, e.StreamID, e.Version, e.At.TxID, e.At.Position, e.Err, e.Projection)
}

func (e *ProjectionFailure) Unwrap() error { return e.Err }
