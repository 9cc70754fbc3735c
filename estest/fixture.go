package estest

import (
	"context"
	"fmt"
	"reflect"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

// Backend makes a fresh, empty event store for one scenario. [Memory] is the
// default; pgstore/pgtest provides one on PostgreSQL.
//
// A store that holds resources of its own, which must go when the scenario
// ends (a database or schema made for it, a connection pool), implements
// [io.Closer]: the scenario owns the store its backend made, and closes it
// (after its command service) when the spec ends, through Ginkgo's
// DeferCleanup, or the Cleanup of the *testing.T given to [Fixture.WithT]; a
// Close error fails the spec. projectortest does the same, and
// [TestEventStore] closes each store after its case. A backend whose stores
// share something that outlives them (pgtest's process database, reset for the
// next scenario) returns stores without a Close method.
//
//	func perScenarioDB(ctx context.Context) (es.EventStore, error) {
//		pool, drop, err := makeDatabase(ctx) // a migrated database of its own
//		if err != nil {
//			return nil, err
//		}
//		store, err := pgstore.New(pool, pgstore.Config{})
//		if err != nil {
//			pool.Close()
//			return nil, errors.Join(err, drop())
//		}
//		return closing{store, func() error { pool.Close(); return drop() }}, nil
//	}
//
//	// closing is a pgstore.Store (its methods promoted: it still implements
//	// es.ProjectionStore and the others) with a Close method.
//	type closing struct {
//		*pgstore.Store
//		close func() error
//	}
//
//	func (c closing) Close() error { return c.close() }
type Backend func(ctx context.Context) (es.EventStore, error)

// Memory is the in-memory backend: a new [memstore.Store] per scenario.
func Memory(context.Context) (es.EventStore, error) { return memstore.New(), nil }

// DefaultStart returns where a scenario's clock starts unless [Options.Start]
// says otherwise: 2026-01-01 09:00 UTC.
func DefaultStart() time.Time { return time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC) }

// Options configures a [Fixture]. The zero value works: the in-memory store, a
// manual clock at [DefaultStart], sequential ids, workflows off.
type Options struct {
	Backend Backend   // nil: [Memory]
	Start   time.Time // the scenario clock's start (zero: [DefaultStart])
	// IDs makes the id generator of each scenario (nil: [SpecIDs], which cannot
	// collide with the ids a spec makes with [ID]).
	IDs func() es.IDGenerator
	// Workflows runs workflows after the When command, so Then sees the events of
	// the commands they issue too. Off by default: a command spec is about one
	// command; workflows have specs of their own ([Scenario.WhenEvent]).
	// Durable workflows run too: the scenario drives a worker until they have
	// handled every event (they never react to Given's events).
	Workflows bool
	// WorkflowMode runs every workflow synchronously or durably, whatever its
	// registration says (zero: as registered), so that one set of specs checks
	// a workflow in both modes.
	WorkflowMode WorkflowMode
	// Service holds further command-service options (ConflictRetries, …); its Clock
	// and IDs are replaced by the scenario's.
	Service es.Options
}

// WorkflowMode overrides how the application's workflows run in scenarios.
type WorkflowMode int

const (
	AsRegistered WorkflowMode = iota // each workflow as its registration says
	AllSync                          // every workflow synchronous, after the commit
	AllDurable                       // every workflow durable, from the log
)

// Fixture builds scenarios for one application. It is created once, from the
// application's own registration function, and is safe for concurrent use: each
// scenario gets its own registry, store, clock and command service.
type Fixture struct {
	register func(*es.Registry)
	opts     Options

	checked  sync.Once
	regErr   error       // the registration's mistakes, found once
	reported atomic.Bool // a scenario has reported them in full
}

// registrationError returns the mistakes of the registration function, in full
// for the first scenario that asks and in one line, pointing back, for the
// others: a mistake in Register fails every spec, and should be read once.
func (f *Fixture) registrationError() error {
	f.checked.Do(func() {
		r := es.NewRegistry()
		f.register(r)
		if err := r.Err(); err != nil {
			name := goruntime.FuncForPC(reflect.ValueOf(f.register).Pointer()).Name()
			name = name[strings.LastIndex(name, "/")+1:]
			f.regErr = fmt.Errorf("estest: %s has registration mistakes:\n%w", name, err)
		}
	})
	if f.regErr == nil || f.reported.CompareAndSwap(false, true) {
		return f.regErr
	}
	first, _, _ := strings.Cut(f.regErr.Error(), "\n")
	return fmt.Errorf("%s (reported in full by the first spec that ran; fix them first)", first)
}

// New returns a fixture for the application wired by register, the function that
// production code also calls.
//
//	var blogSpec = estest.New(blog.Register)
func New(register func(*es.Registry), opts ...Options) *Fixture {
	f := &Fixture{register: register}
	if len(opts) > 0 {
		f.opts = opts[0]
	}
	if f.opts.Backend == nil {
		f.opts.Backend = Memory
	}
	if f.opts.Start.IsZero() {
		f.opts.Start = DefaultStart()
	}
	if f.opts.IDs == nil {
		f.opts.IDs = func() es.IDGenerator { return new(SpecIDs) }
	}
	return f
}

// Scenario returns a new, empty scenario whose failures go to Ginkgo (through
// Gomega's default fail handler).
func (f *Fixture) Scenario() *Scenario { return f.newScenario(gomega.Default, nil) }

// WithT returns a new, empty scenario whose failures go to t, for plain go test:
//
//	blogSpec.WithT(t).Given(postID, blog.PostAdded{}).When(cmd).Then(…)
func (f *Fixture) WithT(t types.GomegaTestingT) *Scenario {
	return f.newScenario(gomega.NewWithT(t), t)
}

// WithContext returns a new, empty scenario whose store, commands and workflows
// run under ctx (failures go to Ginkgo): pass the spec's context, so that its
// timeout or interruption bounds them too.
//
//	It("publishes", func(ctx SpecContext) {
//		blogSpec.WithContext(ctx).Given(postID, added...).When(blog.PublishPost{PostID: postID}).Then(…)
//	})
func (f *Fixture) WithContext(ctx context.Context) *Scenario {
	return f.newScenario(gomega.Default, nil).WithContext(ctx)
}

// WithGomega returns a new, empty scenario that reports failures through g, for
// example the Gomega an Eventually callback receives.
func (f *Fixture) WithGomega(g gomega.Gomega) *Scenario { return f.newScenario(g, nil) }

// Given starts a scenario with events already stored in a stream; see [Scenario.Given].
func (f *Fixture) Given(streamID uuid.UUID, events ...any) *Scenario {
	return f.Scenario().given(2, streamID, events)
}

// GivenCommands starts a scenario with commands already executed; see
// [Scenario.GivenCommands].
func (f *Fixture) GivenCommands(cmds ...any) *Scenario {
	return f.Scenario().givenCommands(2, cmds)
}

// When starts a scenario with nothing given; see [Scenario.When].
func (f *Fixture) When(cmd any, opts ...es.ExecOption) *Scenario {
	return f.Scenario().when(2, cmd, opts)
}

// WhenEvent starts a workflow scenario with nothing given; see [Scenario.WhenEvent].
func (f *Fixture) WhenEvent(streamID uuid.UUID, event any) *Scenario {
	return f.Scenario().whenEvent(2, streamID, event)
}
