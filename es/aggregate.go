package es

import (
	"fmt"
	"reflect"

	"github.com/google/uuid"
)

// Aggregate is implemented by embedding [AggregateRoot] in a struct and adding an
// On method. Command methods check invariants and call [Record]; On only changes
// state, because it also runs when the aggregate is loaded from its history.
//
//	type Post struct {
//		es.AggregateRoot
//		published bool
//	}
//
//	func (p *Post) On(event any) {
//		switch event.(type) {
//		case PostPublished:
//			p.published = true
//		}
//	}
type Aggregate interface {
	// On applies one event to the aggregate's state. It must not fail or check
	// anything: the event has happened.
	On(event any)
	root() *AggregateRoot
}

// AggregateRoot carries what the runtime tracks for every aggregate: its id,
// version and the events recorded but not yet committed. Embed it; do not copy it.
// An aggregate belongs to one unit of work and is not safe for concurrent use.
type AggregateRoot struct {
	id         uuid.UUID
	typ        *AggregateType
	version    int64 // version of the last event applied
	stored     int64 // version in the store when loaded
	snapshotAt int64 // version of the snapshot it was loaded from, or last taken
	pending    []any
}

func (a *AggregateRoot) root() *AggregateRoot { return a }

// ID returns the aggregate's id.
func (a *AggregateRoot) ID() uuid.UUID { return a.id }

// Version returns the version of the last event applied, committed or not.
func (a *AggregateRoot) Version() int64 { return a.version }

// Pending returns the events recorded since the aggregate was loaded or created.
func (a *AggregateRoot) Pending() []any { return append([]any(nil), a.pending...) }

// Record applies event to the aggregate (by calling its On method) and queues it to
// be stored when the unit of work commits. The aggregate must come from [Load] or
// [Create], and event must be registered for its type.
func Record(a Aggregate, event any) error {
	r := a.root()
	if r.typ == nil {
		return fmt.Errorf("es.Record %T: aggregate is not attached to a unit of work: get it from es.Create or es.Load", event)
	}
	t := reflect.TypeOf(event)
	e, ok := r.typ.reg.events[t]
	switch {
	case !ok && t != nil && t.Kind() == reflect.Pointer && r.typ.reg.events[t.Elem()] != nil:
		return fmt.Errorf("es.Record: %s recorded %s: record events as values, not pointers", r.typ.name, t)
	case !ok:
		return fmt.Errorf("es.Record: %s recorded %T, which is not a registered event: register it with es.RegisterEvent", r.typ.name, event)
	case e.aggregate != r.typ:
		return fmt.Errorf("es.Record: %s recorded %s, which is registered for %s", r.typ.name, e.name, e.aggregate.name)
	}
	a.On(event)
	r.version++
	r.pending = append(r.pending, event)
	return nil
}

// Snapshotter is implemented by aggregates registered with [SnapshotEvery]: they
// encode their state, and restore it from what they encoded. The runtime restores
// id and version itself.
type Snapshotter interface {
	MarshalSnapshot() ([]byte, error)
	UnmarshalSnapshot(data []byte) error
}

// UniqueKeyer is implemented by aggregates that hold unique keys (at most one per
// scope). After each change the runtime stores the keys UniqueKeys returns and
// releases those it no longer returns; a key held by another aggregate makes the
// commit fail with a [*UniqueKeyError]. A key whose Key is empty is not claimed,
// as NULL is not in a unique column: aggregates that have no value yet (an author
// without an email address) do not collide.
type UniqueKeyer interface {
	UniqueKeys() []UniqueKey
}
