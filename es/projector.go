package es

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Projector keeps view tables up to date from events. It declares the tables it
// manages; a handler that writes any other table fails with [ErrTableNotManaged].
// Build one with [NewProjector] and [Project], then register it with
// [Registry.AddProjector]. A Projector is immutable once registered and safe for
// concurrent use.
type Projector struct {
	name       string
	tables     []TableDef
	handlers   map[reflect.Type]func(context.Context, Persistor, Envelope) error
	sources    map[reflect.Type]string // where each handler was added, "file:line"
	errs       []error                 // definition mistakes of its tables
	async      bool
	version    int
	partitions int
}

// Tabler is anything that describes a view table, such as a [*Table].
type Tabler interface{ Def() TableDef }

// NewProjector returns a projector named name that manages the given tables.
func NewProjector(name string, tables ...Tabler) *Projector {
	p := &Projector{name: name, handlers: map[reflect.Type]func(context.Context, Persistor, Envelope) error{},
		sources: map[reflect.Type]string{}}
	for _, t := range tables {
		p.tables = append(p.tables, t.Def())
		if e, ok := t.(interface{ Err() error }); ok && e.Err() != nil {
			p.errs = append(p.errs, e.Err())
		}
	}
	return p
}

// Name returns the projector's name.
func (p *Projector) Name() string { return p.name }

// Async makes p an asynchronous projector: instead of running inside every commit,
// it follows the global log from its checkpoint in a [ProjectionWorker], which
// commits its writes together with the new checkpoint. It returns p.
func (p *Projector) Async() *Projector {
	p.async = true
	return p
}

// IsAsync reports whether p runs asynchronously.
func (p *Projector) IsAsync() bool { return p.async }

// Partitioned splits an async projector into n partitions by stream (n ≤ 256),
// each with its own checkpoint and lease, so that n workers can share the load;
// each stream's events stay in order within its partition. Changing n of a
// projector that has run needs a new [Projector.Versioned], so that its tables
// are rebuilt. It returns p.
func (p *Projector) Partitioned(n int) *Projector {
	p.partitions = n
	return p
}

// Partitions returns the number of partitions of an async projector (at least 1).
func (p *Projector) Partitions() int { return max(p.partitions, 1) }

// Versioned sets the projector's version (default 1). A projector's tables
// belong to the version that built them: deploying a higher version, inline or
// async, rebuilds them beside the live ones and swaps them in (see the package
// doc, "Changing a read model"). Raise it whenever the tables or what the
// handlers write into them change. It returns p.
func (p *Projector) Versioned(v int) *Projector {
	p.version = v
	return p
}

// Version returns the projector's version.
func (p *Projector) Version() int { return max(p.version, 1) }

// Tables returns the definitions of the tables the projector manages.
func (p *Projector) Tables() []TableDef { return p.tables }

// Handles reports whether the projector has a handler for events like event.
func (p *Projector) Handles(event any) bool {
	_, ok := p.handlers[reflect.TypeOf(event)]
	return ok
}

// eventTypes returns the registered names of the event types p handles: what a
// rebuild reads of the log.
func (p *Projector) eventTypes(reg *Registry) []string {
	var out []string
	for t := range p.handlers {
		if e, ok := reg.events[t]; ok {
			out = append(out, e.name)
		}
	}
	slices.Sort(out)
	return out
}

// Project adds to p a handler for events of type E. The handler gets the view
// tables (through a guard that allows only p's tables), the envelope and the event.
//
//	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostAdded) error {
//		return PostRecords.Upsert(ctx, v, PostRecord{AggregateID: e.StreamID})
//	})
func Project[E any](p *Projector, handle func(ctx context.Context, views Persistor, e Envelope, event E) error) {
	p.sources[reflect.TypeFor[E]()] = strings.TrimSuffix(callerOutside(), ": ")
	p.handlers[reflect.TypeFor[E]()] = func(ctx context.Context, v Persistor, e Envelope) error {
		return handle(ctx, v, e, e.Event.(E))
	}
}

// Apply runs p's handler for one event, if it has one, against views.
func (p *Projector) Apply(ctx context.Context, views Persistor, e Envelope) error {
	h, ok := p.handlers[reflect.TypeOf(e.Event)]
	if !ok {
		return nil
	}
	if err := h(ctx, managedViews{p: p, Persistor: views}, e); err != nil {
		where := ""
		if src := p.sources[reflect.TypeOf(e.Event)]; src != "" {
			where = " (handler at " + src + ")"
		}
		return fmt.Errorf("projector %s: %s of stream %s version %d%s: %w", p.name, e.Type, e.StreamID, e.Version, where, err)
	}
	return nil
}

// managedViews refuses writes to tables the projector did not declare.
type managedViews struct {
	p *Projector
	Persistor
}

func (m managedViews) check(table string) error {
	if slices.ContainsFunc(m.p.tables, func(d TableDef) bool { return d.Name == table }) {
		return nil
	}
	return fmt.Errorf("projector %s writes table %s: %w (declare it in es.NewProjector)", m.p.name, table, ErrTableNotManaged)
}

func (m managedViews) Insert(ctx context.Context, table string, row Row) error {
	if err := m.check(table); err != nil {
		return err
	}
	return m.Persistor.Insert(ctx, table, row)
}

func (m managedViews) Upsert(ctx context.Context, table string, row Row) error {
	if err := m.check(table); err != nil {
		return err
	}
	return m.Persistor.Upsert(ctx, table, row)
}

func (m managedViews) Update(ctx context.Context, table string, where Where, set Row) (int64, error) {
	if err := m.check(table); err != nil {
		return 0, err
	}
	return m.Persistor.Update(ctx, table, where, set)
}

// Set passes a one-statement update on as the Persistor takes it (see [Setter]).
func (m managedViews) Set(ctx context.Context, table string, where Where, set Row) error {
	if err := m.check(table); err != nil {
		return err
	}
	if s, ok := m.Persistor.(Setter); ok {
		return s.Set(ctx, table, where, set)
	}
	_, err := m.Persistor.Update(ctx, table, where, set)
	return err
}

func (m managedViews) Delete(ctx context.Context, table string, where Where) (int64, error) {
	if err := m.check(table); err != nil {
		return 0, err
	}
	return m.Persistor.Delete(ctx, table, where)
}

func (m managedViews) CreateTables(ctx context.Context, defs ...TableDef) error {
	for _, d := range defs {
		if err := m.check(d.Name); err != nil {
			return err
		}
	}
	return m.Persistor.CreateTables(ctx, defs...)
}
