package es

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/uuid"
)

// What tools (the event browser, the command line) read of a registry: its type
// names, stored commands decoded, aggregates rebuilt from given events.

// EventTypes returns the names of the registered event types, sorted.
func (r *Registry) EventTypes() []string {
	out := make([]string, 0, len(r.eventsByName))
	for name := range r.eventsByName {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// DecodeCommand turns a stored command record back into a value of its
// registered Go type. A type no handler is registered for (such as the records
// of [CommandService.Append]) fails with an error wrapping [ErrNoHandler].
func (r *Registry) DecodeCommand(rec CommandRecord) (any, error) {
	t, ok := r.commandNames[rec.Type]
	if !ok {
		return nil, fmt.Errorf("es: decode command %s %s: no handler is registered for this type: %w", rec.Type, rec.ID, ErrNoHandler)
	}
	v := reflect.New(t)
	if err := json.Unmarshal(rec.Data, v.Interface()); err != nil {
		return nil, fmt.Errorf("es: decode command %s %s: %w", rec.Type, rec.ID, err)
	}
	return v.Elem().Interface(), nil
}

// Rehydrate returns a new aggregate of the registered type streamType, with id,
// that has applied events in order: the state of a stream as of its last given
// event, as [LoadAt] rebuilds it, from events a caller already has. Like LoadAt's
// result it belongs to no unit of work ([Record] on it fails).
func (r *Registry) Rehydrate(streamType string, id uuid.UUID, events []Envelope) (Aggregate, error) {
	t, ok := r.aggByName[streamType]
	if !ok {
		return nil, fmt.Errorf("es: rehydrate %s %s: the aggregate type is not registered", streamType, id)
	}
	a := t.newAggregate()
	root := a.root()
	root.id = id
	for _, e := range events {
		a.On(e.Event)
		root.version = e.Version
	}
	root.stored = root.version
	return a, nil
}

// PartitionName returns the name under which a [ProjectionStore] keeps the state
// (checkpoint, lease, failure) of partition part of projector p; for a projector
// of one partition, its name.
func (p *Projector) PartitionName(part int) string { return partitionName(p, part) }
