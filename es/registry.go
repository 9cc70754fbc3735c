package es

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// Registry holds an application's wiring: aggregate and event types under stable
// names, command handlers, middleware, projectors, workflows and after-commit hooks.
// An application fills one in a registration function (func Register(*es.Registry))
// that production code and specs share, then hands it to [NewCommandService].
//
// Registration mistakes (a name used twice, a second handler for a command) do not
// panic: they are collected and reported, each with its fix, by NewCommandService.
// A Registry is not safe for concurrent registration; once a command service is
// built from it, it must not change.
type Registry struct {
	aggregates   map[reflect.Type]*AggregateType
	aggByName    map[string]*AggregateType
	events       map[reflect.Type]*eventType
	eventsByName map[string]*eventType
	handlers     map[reflect.Type]*commandHandler
	commandNames map[string]reflect.Type
	middleware   []Middleware
	projectors   []*Projector
	workflows    []*Workflow
	subs         []*Subscription
	hookMu       sync.Mutex // hooks may be added while services run (a worker's wake-up)
	afterCommit  []func(context.Context, []Envelope)
	errs         []error
	rejected     map[reflect.Type]bool // event types whose registration failed
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		aggregates:   map[reflect.Type]*AggregateType{},
		aggByName:    map[string]*AggregateType{},
		events:       map[reflect.Type]*eventType{},
		eventsByName: map[string]*eventType{},
		handlers:     map[reflect.Type]*commandHandler{},
		commandNames: map[string]reflect.Type{},
	}
}

// Err reports every registration mistake so far, joined, or nil: the ones
// [NewCommandService] would refuse to start with.
func (r *Registry) Err() error { return r.check() }

// fail records a registration mistake, with the file and line of the
// application's call that made it.
func (r *Registry) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("es: "+callerOutside()+format, args...))
}

// reject records a mistake in registering the event type t: later mistakes
// that only follow from it (a projector handling t) are not reported.
func (r *Registry) reject(t reflect.Type, format string, args ...any) {
	if r.rejected == nil {
		r.rejected = map[reflect.Type]bool{}
	}
	r.rejected[t] = true
	r.fail(format, args...)
}

// AggregateType is a registered aggregate type; events are registered on it.
type AggregateType struct {
	reg          *Registry
	name         string
	goType       reflect.Type
	newAggregate func() Aggregate
	snapshot     snapshotPolicy
}

// Name returns the type's registered name.
func (t *AggregateType) Name() string { return t.name }

type snapshotPolicy struct {
	every  int64 // take a snapshot when this many events followed the last one (0: never)
	schema int
}

// AggregateOption configures an aggregate type.
type AggregateOption func(*AggregateType)

// SnapshotEvery makes the runtime store a snapshot of the aggregate, in the same
// commit, once n events have followed the previous one. The aggregate must implement
// [Snapshotter]. schema is the version of the snapshot's shape: bump it when the
// shape changes, and snapshots of other schemas are ignored (the aggregate is
// rebuilt from its events and a new snapshot taken).
func SnapshotEvery(n, schema int) AggregateOption {
	return func(t *AggregateType) { t.snapshot = snapshotPolicy{every: int64(n), schema: schema} }
}

// RegisterAggregate registers the aggregate type A under a stable name, with a
// function that makes a new, empty instance.
//
//	post := es.RegisterAggregate(r, "blog.Post", func() *Post { return new(Post) })
//	es.RegisterEvent[PostAdded](post, "blog.PostAdded")
func RegisterAggregate[A Aggregate](r *Registry, name string, newA func() A, opts ...AggregateOption) *AggregateType {
	t := &AggregateType{reg: r, name: name, goType: reflect.TypeFor[A](),
		newAggregate: func() Aggregate { return newA() }}
	for _, o := range opts {
		o(t)
	}
	switch {
	case name == "":
		r.fail("RegisterAggregate[%s]: empty name", t.goType)
	case r.aggByName[name] != nil && r.aggByName[name].goType == t.goType:
		r.fail("aggregate %s (%q) registered twice: remove the second RegisterAggregate", t.goType, name)
	case r.aggByName[name] != nil:
		r.fail("aggregate name %q registered twice (for %s and %s): give each type its own name", name, r.aggByName[name].goType, t.goType)
	case r.aggregates[t.goType] != nil:
		r.fail("aggregate type %s registered twice", t.goType)
	}
	if t.snapshot.every > 0 {
		if _, ok := any(newA()).(Snapshotter); !ok {
			r.fail("aggregate %s uses SnapshotEvery but %s does not implement es.Snapshotter", name, t.goType)
		}
	}
	r.aggregates[t.goType] = t
	r.aggByName[name] = t
	return t
}

type eventType struct {
	name      string
	goType    reflect.Type
	aggregate *AggregateType
	upcasters []Upcaster
}

// schema is the current payload schema: 1, plus one for each upcaster.
func (e *eventType) schema() int { return 1 + len(e.upcasters) }

// Upcaster turns the payload of an older schema of an event into the next schema,
// by editing its decoded JSON object in place; numbers in it are [json.Number], so
// none loses precision. Stored rows never change: upcasters run on every read.
type Upcaster func(fields map[string]any) error

// RegisterEvent registers the event type E, recorded by aggregates of type agg,
// under a stable name: the name is stored with every event and must never change.
// E must be a struct type; events are recorded and delivered as values.
//
// Upcasters describe the history of E's shape: a payload stored with schema 1 is
// passed through upcasters[0], [1], … in turn, so with n upcasters the current
// schema is n+1. Add an upcaster, never edit one, when E's shape changes.
func RegisterEvent[E any](agg *AggregateType, name string, upcasters ...Upcaster) {
	r := agg.reg
	t := reflect.TypeFor[E]()
	switch {
	case t.Kind() != reflect.Struct:
		r.reject(t, "RegisterEvent[%s]: events must be struct types", t)
		return
	case name == "":
		r.reject(t, "RegisterEvent[%s]: empty name", t)
		return
	case r.eventsByName[name] != nil && r.eventsByName[name].goType == t:
		r.fail("event %s (%q) registered twice: remove the second RegisterEvent", t, name)
		return
	case r.eventsByName[name] != nil:
		r.fail("event name %q registered twice (for %s and %s): give each type its own name", name, r.eventsByName[name].goType, t)
		return
	case r.events[t] != nil:
		r.fail("event type %s registered twice (as %q and %q): register it once, under one name", t, r.events[t].name, name)
		return
	}
	e := &eventType{name: name, goType: t, aggregate: agg, upcasters: upcasters}
	r.events[t] = e
	r.eventsByName[name] = e
}

// EventName returns the registered name of an event value's type.
func (r *Registry) EventName(event any) (string, bool) {
	e, ok := r.events[reflect.TypeOf(event)]
	if !ok {
		return "", false
	}
	return e.name, true
}

// AggregateOf returns the aggregate type that records events like event.
func (r *Registry) AggregateOf(event any) (*AggregateType, bool) {
	e, ok := r.events[reflect.TypeOf(event)]
	if !ok {
		return nil, false
	}
	return e.aggregate, true
}

// CommandName returns the registered name of a command value's type.
func (r *Registry) CommandName(cmd any) (string, bool) {
	h, ok := r.handlers[reflect.TypeOf(cmd)]
	if !ok {
		return "", false
	}
	return h.name, true
}

// Use adds command middleware. Middleware runs in the order added, around
// validation, the handler and the commit of every command, including commands that
// workflows execute.
func (r *Registry) Use(m ...Middleware) { r.middleware = append(r.middleware, m...) }

// AddProjector registers a projector. An inline projector (the default) runs
// inside the commit of every unit of work whose events it handles, so its tables
// are never behind the events; an [Projector.Async] one runs in a
// [ProjectionWorker].
func (r *Registry) AddProjector(p *Projector) {
	if p.partitions > 1 && !p.async {
		r.fail("projector %q is partitioned but not async: partitions apply to async projectors", p.name)
	}
	if checkJob(r, "projector", p.name, p.partitions, r.projectors, func(q *Projector) string { return q.name }) {
		r.projectors = append(r.projectors, p)
	}
}

// checkJob checks what a projector, workflow or subscription must be to be
// registered: 1 to 256 partitions, and a name no other of its kind has. It
// reports whether to register it (not a second time).
func checkJob[T any](r *Registry, kind, name string, partitions int, others []T, nameOf func(T) string) bool {
	if partitions < 0 || partitions > 256 {
		r.fail("%s %q: %d partitions: use 1 to 256", kind, name, partitions)
	}
	for _, q := range others {
		if nameOf(q) == name {
			r.fail("%s %q registered twice", kind, name)
			return false
		}
	}
	return true
}

// AddWorkflow registers a workflow: it reacts to events after their commit.
func (r *Registry) AddWorkflow(w *Workflow) {
	if w.partitions > 1 && !w.durable {
		r.fail("workflow %q is partitioned but not durable: partitions apply to durable workflows", w.name)
	}
	if checkJob(r, "workflow", w.name, w.partitions, r.workflows, func(q *Workflow) string { return q.name }) {
		r.workflows = append(r.workflows, w)
	}
}

// AddSubscription registers a subscription: a [ProjectionWorker] runs it.
func (r *Registry) AddSubscription(s *Subscription) {
	if s.handle == nil && s.batch == nil {
		r.fail("subscription %q has no handler", s.name)
	}
	if checkJob(r, "subscription", s.name, s.partitions, r.subs, func(q *Subscription) string { return q.name }) {
		r.subs = append(r.subs, s)
	}
}

// Subscriptions returns the registered subscriptions.
func (r *Registry) Subscriptions() []*Subscription { return r.subs }

// AfterCommit registers a hook called after every successful commit with the events
// it stored (possibly none), before workflows run. Hooks must not block for long.
// Unlike the rest of the registry, hooks may be added while services built from it
// run; they are safe for concurrent use.
func (r *Registry) AfterCommit(hook func(ctx context.Context, events []Envelope)) {
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	r.afterCommit = append(slices.Clip(r.afterCommit), hook)
}

// hooks returns the after-commit hooks registered so far.
func (r *Registry) hooks() []func(context.Context, []Envelope) {
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	return r.afterCommit
}

// Projectors returns the registered projectors.
func (r *Registry) Projectors() []*Projector { return r.projectors }

// Workflows returns the registered workflows.
func (r *Registry) Workflows() []*Workflow { return r.workflows }

// check reports registration mistakes found by looking at the whole registry.
// It leaves r as it is, so that each service built from r reports each mistake once.
func (r *Registry) check() error {
	errs := slices.Clone(r.errs)
	for _, p := range r.projectors {
		for _, err := range p.errs {
			errs = append(errs, fmt.Errorf("es: projector %q: table: %w", p.name, err))
		}
		for t := range p.handlers {
			if r.events[t] == nil && !r.rejected[t] {
				errs = append(errs, fmt.Errorf("es: projector %q handles %s, which is not a registered event: register it with es.RegisterEvent", p.name, t))
			}
		}
	}
	for _, w := range r.workflows {
		for t := range w.handlers {
			if r.events[t] == nil && !r.rejected[t] {
				errs = append(errs, fmt.Errorf("es: workflow %q reacts to %s, which is not a registered event: register it with es.RegisterEvent", w.name, t))
			}
		}
	}
	for _, s := range r.subs {
		for _, name := range s.types {
			if r.eventsByName[name] == nil {
				errs = append(errs, fmt.Errorf("es: subscription %q takes events of type %q, which is not a registered event name", s.name, name))
			}
		}
	}
	return errors.Join(errs...)
}

// encodeEvent turns an event into its stored form: type, schema and JSON payload.
func (r *Registry) encodeEvent(event any) (*eventType, []byte, error) {
	t := reflect.TypeOf(event)
	e, ok := r.events[t]
	if !ok {
		if t != nil && t.Kind() == reflect.Pointer && r.events[t.Elem()] != nil {
			return nil, nil, fmt.Errorf("event %s: record events as values, not pointers", t)
		}
		return nil, nil, fmt.Errorf("event %v is not registered: register it with es.RegisterEvent", t)
	}
	data, err := json.Marshal(event)
	if err != nil {
		return nil, nil, fmt.Errorf("encode event %s: %w", e.name, err)
	}
	return e, data, nil
}

// Encode turns an event into its stored form: its registered type name, its
// current payload schema and its JSON payload.
func (r *Registry) Encode(event any) (typ string, schema int, data []byte, err error) {
	e, data, err := r.encodeEvent(event)
	if err != nil {
		return "", 0, nil, fmt.Errorf("es: %w", err)
	}
	return e.name, e.schema(), data, nil
}

// Decode turns a stored record back into an envelope with its Go event value,
// upcasting older payloads. It returns a [*DecodeError] naming the stream, version
// and type when that is impossible.
func (r *Registry) Decode(rec EventRecord) (Envelope, error) {
	fail := func(err error) (Envelope, error) {
		return Envelope{}, &DecodeError{StreamID: rec.StreamID, Version: rec.Version, Type: rec.Type, Err: err}
	}
	e, ok := r.eventsByName[rec.Type]
	if !ok {
		return fail(ErrUnknownEventType)
	}
	data := rec.Data
	if rec.Schema < e.schema() {
		if rec.Schema < 1 {
			return fail(fmt.Errorf("schema %d is not a valid payload schema", rec.Schema))
		}
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // numbers stay exact, however large
		if err := dec.Decode(&fields); err != nil {
			return fail(fmt.Errorf("payload is not a JSON object: %w", err))
		}
		if fields == nil { // null: upcasters get a map they can write to, or nothing
			return fail(errors.New("payload is not a JSON object: null"))
		}
		for s := rec.Schema; s < e.schema(); s++ {
			if err := upcast(e.upcasters[s-1], fields); err != nil {
				return fail(fmt.Errorf("upcast from schema %d: %w", s, err))
			}
		}
		var err error
		if data, err = json.Marshal(fields); err != nil {
			return fail(err)
		}
	} else if rec.Schema > e.schema() {
		return fail(fmt.Errorf("payload schema %d is newer than this program's %d", rec.Schema, e.schema()))
	}
	v := reflect.New(e.goType)
	if err := json.Unmarshal(data, v.Interface()); err != nil {
		return fail(err)
	}
	return Envelope{EventRecord: rec, Event: v.Elem().Interface()}, nil
}

// upcast runs one upcaster. One that panics on a payload it did not expect
// fails that event's decoding, as an error would, instead of the process.
func upcast(u Upcaster, fields map[string]any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("upcaster panicked: %v", p)
		}
	}()
	return u(fields)
}

// Envelope is a stored event with its decoded payload.
type Envelope struct {
	EventRecord
	Event any // the event value, of its registered Go type
}
