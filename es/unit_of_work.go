package es

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// UnitOfWork is what a command handler works with: it loads and creates aggregates,
// keeping one instance per id (the identity map), and commits all their new events
// together when the handler returns without error. It is not safe for concurrent use.
type UnitOfWork struct {
	rt       *runtime
	byID     map[uuid.UUID]Aggregate
	order    []Aggregate
	loaded   map[uuid.UUID][]UniqueKey // unique keys when loaded, to spot changes
	missing  map[uuid.UUID]bool        // ids Load found no stream for
	schedule []ScheduledCommand        // to store with the commit
	cancel   []string                  // schedules to remove with the commit
}

func newUnitOfWork(rt *runtime) *UnitOfWork {
	return &UnitOfWork{rt: rt, byID: map[uuid.UUID]Aggregate{}, loaded: map[uuid.UUID][]UniqueKey{}, missing: map[uuid.UUID]bool{}}
}

// Now returns the current time on the service's clock.
func (u *UnitOfWork) Now() time.Time { return u.rt.clock.Now() }

// NewID returns a fresh id from the service's id generator.
func (u *UnitOfWork) NewID() uuid.UUID { return u.rt.ids.NewID() }

// Load returns the aggregate with the given id, of type A, from the unit of work if
// it holds it already, else from the store (its newest snapshot, then the events
// after it). It returns an error wrapping [ErrAggregateNotFound] when no such
// stream exists and [ErrAggregateType] when the stream belongs to another type.
func Load[A Aggregate](ctx context.Context, u *UnitOfWork, id uuid.UUID) (A, error) {
	var zero A
	t, err := u.rt.aggregateType(reflect.TypeFor[A]())
	if err != nil {
		return zero, err
	}
	if a, ok := u.byID[id]; ok {
		typed, ok := a.(A)
		if !ok {
			return zero, fmt.Errorf("load %s %s: the unit of work holds it as %s: %w", t.name, id, a.root().typ.name, ErrAggregateType)
		}
		return typed, nil
	}
	a, err := u.rt.load(ctx, t, id, StreamQuery{}, true)
	if err != nil {
		if errors.Is(err, ErrAggregateNotFound) {
			u.missing[id] = true
		}
		return zero, err
	}
	u.attach(a)
	return a.(A), nil
}

// Create adds a new aggregate of type A with the given id to the unit of work and
// returns it, empty, for the handler to record its first events. It returns an
// error wrapping [ErrAggregateExists] when the unit of work holds the id already.
// That the store has no such stream is checked by the commit, at no extra cost:
// the command then fails with [ErrAggregateExists] — or, when a Load in the same
// unit of work had found no stream (a load-or-create race), with
// [ErrConcurrencyConflict], which [Options.ConflictRetries] resolves.
func Create[A Aggregate](ctx context.Context, u *UnitOfWork, id uuid.UUID) (A, error) {
	var zero A
	t, err := u.rt.aggregateType(reflect.TypeFor[A]())
	if err != nil {
		return zero, err
	}
	if id == uuid.Nil {
		return zero, fmt.Errorf("create %s: the nil uuid is not an aggregate id", t.name)
	}
	if _, ok := u.byID[id]; ok {
		return zero, fmt.Errorf("create %s %s: %w", t.name, id, ErrAggregateExists)
	}
	a := t.newAggregate()
	r := a.root()
	r.id, r.typ = id, t
	u.attach(a)
	return a.(A), nil
}

func (u *UnitOfWork) attach(a Aggregate) {
	id := a.root().id
	u.byID[id] = a
	u.order = append(u.order, a)
	if k, ok := a.(UniqueKeyer); ok && a.root().stored > 0 {
		u.loaded[id], _ = checkKeys(a.root(), k.UniqueKeys())
	}
}

// aggregateType finds the registration of a Go aggregate type.
func (rt *runtime) aggregateType(t reflect.Type) (*AggregateType, error) {
	at, ok := rt.reg.aggregates[t]
	if !ok {
		return nil, fmt.Errorf("es: aggregate type %s is not registered: register it with es.RegisterAggregate", t)
	}
	return at, nil
}

// load rebuilds an aggregate from the store; useSnapshot allows starting from a
// snapshot no newer than q.ToVersion.
func (rt *runtime) load(ctx context.Context, t *AggregateType, id uuid.UUID, q StreamQuery, useSnapshot bool) (_ Aggregate, err error) {
	var snapshot, version int64
	var applied int
	if rt.obs.load != nil {
		var end func(LoadEnd)
		ctx, end = rt.obs.load.StartLoad(ctx, LoadStart{AggregateType: t.name, ID: id})
		defer func() { end(LoadEnd{Snapshot: snapshot, Events: applied, Version: version, Err: err}) }()
	}
	a := t.newAggregate()
	r := a.root()
	r.id, r.typ = id, t
	streamType := ""
	if useSnapshot && t.snapshot.every > 0 {
		snap, err := rt.store.LoadSnapshot(ctx, id, t.snapshot.schema, q.ToVersion)
		if err != nil {
			return nil, fmt.Errorf("load %s %s: snapshot: %w", t.name, id, err)
		}
		if snap != nil {
			if err := a.(Snapshotter).UnmarshalSnapshot(snap.Data); err != nil {
				return nil, fmt.Errorf("load %s %s: restore snapshot of version %d: %w", t.name, id, snap.Version, err)
			}
			r.version, r.snapshotAt, streamType = snap.Version, snap.Version, snap.StreamType
			snapshot = snap.Version
			q.FromVersion = snap.Version + 1
		}
	}
	recs, err := rt.store.LoadStream(ctx, id, q)
	if err != nil {
		return nil, fmt.Errorf("load %s %s: %w", t.name, id, err)
	}
	if len(recs) > 0 {
		streamType = recs[0].StreamType
	}
	if r.version == 0 && len(recs) == 0 {
		return nil, fmt.Errorf("load %s %s: %w", t.name, id, ErrAggregateNotFound)
	}
	if streamType != t.name {
		return nil, fmt.Errorf("load %s %s: the stream belongs to a %s: %w", t.name, id, streamType, ErrAggregateType)
	}
	for _, rec := range recs {
		env, err := rt.reg.Decode(rec)
		if err != nil {
			return nil, fmt.Errorf("load %s %s: %w", t.name, id, err)
		}
		a.On(env.Event)
		r.version = rec.Version
	}
	r.stored, version, applied = r.version, r.version, len(recs)
	return a, nil
}

// Get returns the current state of the aggregate of type A with id, outside
// any command: the way to read an aggregate where no read model answers (a
// check before a command, a tool, a spec). It loads through snapshots as a
// command does. The result belongs to no unit of work, and [Record] on it
// fails: change an aggregate through a command. A stream that does not exist
// gives an error wrapping [ErrAggregateNotFound].
//
//	post, err := es.Get[*blog.Post](ctx, svc, id)
func Get[A Aggregate](ctx context.Context, s *CommandService, id uuid.UUID) (A, error) {
	return LoadAt[A](ctx, s, id, StreamQuery{})
}

// LoadAt rebuilds the aggregate of type A as it was at a point in its history: up
// to q.ToVersion and/or as recorded until q.Until (time travel). The result is
// read-only in spirit: it belongs to no unit of work, and [Record] on it fails.
// Snapshots are used only when no time limit is given.
func LoadAt[A Aggregate](ctx context.Context, s *CommandService, id uuid.UUID, q StreamQuery) (A, error) {
	var zero A
	t, err := s.rt.aggregateType(reflect.TypeFor[A]())
	if err != nil {
		return zero, err
	}
	q.FromVersion = 0
	a, err := s.rt.load(ctx, t, id, q, q.Until.IsZero())
	if err != nil {
		return zero, err
	}
	a.root().typ = nil
	return a.(A), nil
}
