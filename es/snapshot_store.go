package es

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// SnapshotStore is the optional capability of an [EventStore] that snapshot
// tools need (a command line's "snapshots take|prune|status"): it lists the
// streams of a type and stores, counts and prunes snapshots outside commits.
// The runtime's own snapshots ([SnapshotEvery]) need none of it: they are
// written by [EventStore.Commit]. memstore and pgstore implement it, and
// estest.TestEventStore checks them. Implementations must be safe for
// concurrent use.
type SnapshotStore interface {
	EventStore

	// StreamIDs returns the ids of up to limit streams of type typ whose id is
	// greater than after (in byte order), in that order: page through every
	// stream of a type by passing the last id of a page as after.
	StreamIDs(ctx context.Context, typ string, after uuid.UUID, limit int) ([]uuid.UUID, error)

	// SaveSnapshot stores snap (its StreamType is ignored) unless a snapshot of
	// the same stream, schema and version is stored already. It returns an error
	// wrapping [ErrAggregateNotFound] when the stream does not exist, and an
	// error when its version is past the stream's. It does not wait for commits
	// of other streams; a concurrent [EventStore.DeleteStream] of the stream
	// leaves no snapshot behind.
	SaveSnapshot(ctx context.Context, snap Snapshot) error

	// PruneSnapshots deletes the snapshots of the streams of type typ, except,
	// for each stream, the keep newest of schema schema, and returns how many it
	// deleted. Snapshots of other schemas, which loads ignore, are all deleted.
	PruneSnapshots(ctx context.Context, typ string, schema, keep int) (int64, error)

	// SnapshotStats counts the streams of type typ and their snapshots of
	// schema schema.
	SnapshotStats(ctx context.Context, typ string, schema int) (SnapshotStats, error)
}

// SnapshotStats is what a [SnapshotStore] counts of the streams of one type.
type SnapshotStats struct {
	Streams     int64 // streams of the type
	Events      int64 // their events
	Snapshotted int64 // streams with a snapshot of the schema
	Snapshots   int64 // snapshots of the schema
	Other       int64 // snapshots of other schemas (loads ignore them)
	// Replayed counts the events a load of every stream applies: those after
	// each stream's newest snapshot of the schema, or all of a stream without one.
	Replayed int64
}

// AggregateTypes returns the registered aggregate types, by name.
func (r *Registry) AggregateTypes() []*AggregateType {
	out := make([]*AggregateType, 0, len(r.aggByName))
	for _, t := range r.aggByName {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *AggregateType) int { return strings.Compare(a.name, b.name) })
	return out
}

// AggregateType returns the aggregate type registered under name.
func (r *Registry) AggregateType(name string) (*AggregateType, bool) {
	t, ok := r.aggByName[name]
	return t, ok
}

// EventTypes returns the names of the events registered for the type, sorted.
func (t *AggregateType) EventTypes() []string {
	var out []string
	for name, e := range t.reg.eventsByName {
		if e.aggregate == t {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Snapshots returns the type's [SnapshotEvery] policy: a snapshot every n
// events, of schema schema; n is 0 when the type takes no snapshots.
func (t *AggregateType) Snapshots() (n, schema int) {
	return int(t.snapshot.every), t.snapshot.schema
}

// ErrNoSnapshots: an aggregate type is not registered with [SnapshotEvery].
var ErrNoSnapshots = errors.New("the aggregate type takes no snapshots")

// TakeSnapshot stores a snapshot of the aggregate with id as of its current
// version, however few events followed its last one: for tools that snapshot
// every aggregate of a type at once ("snapshots take"), after a deploy that
// bumped the snapshot schema, say. It loads the aggregate as a command would
// (from its newest snapshot), and returns the snapshot stored, or nil when the
// newest one is of the current version already.
//
// The stream's type must be registered with [SnapshotEvery] (else the error
// wraps [ErrNoSnapshots]); a stream that does not exist is an error wrapping
// [ErrAggregateNotFound]. store must implement [SnapshotStore].
func TakeSnapshot(ctx context.Context, reg *Registry, store EventStore, id uuid.UUID) (*Snapshot, error) {
	ss, ok := store.(SnapshotStore)
	if !ok {
		return nil, fmt.Errorf("es: snapshot %s: the store %T does not implement es.SnapshotStore", id, store)
	}
	info, err := store.StreamInfo(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("es: snapshot %s: %w", id, err)
	}
	t, ok := reg.aggByName[info.Type]
	if !ok {
		return nil, fmt.Errorf("es: snapshot %s: its type %s is not a registered aggregate type", id, info.Type)
	}
	if t.snapshot.every == 0 {
		return nil, fmt.Errorf("es: snapshot %s: %s: %w (register it with es.SnapshotEvery)", id, t.name, ErrNoSnapshots)
	}
	rt := &runtime{reg: reg, store: store}
	a, err := rt.load(ctx, t, id, StreamQuery{}, true)
	if err != nil {
		return nil, fmt.Errorf("es: snapshot: %w", err)
	}
	r := a.root()
	if r.snapshotAt == r.version {
		return nil, nil
	}
	data, err := a.(Snapshotter).MarshalSnapshot()
	if err != nil {
		return nil, fmt.Errorf("es: snapshot %s %s: %w", t.name, id, err)
	}
	snap := &Snapshot{StreamID: id, StreamType: t.name, Version: r.version, Schema: t.snapshot.schema, Data: data}
	if err := ss.SaveSnapshot(ctx, *snap); err != nil {
		return nil, fmt.Errorf("es: snapshot %s %s: %w", t.name, id, err)
	}
	return snap, nil
}
