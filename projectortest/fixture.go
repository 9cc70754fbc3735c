package projectortest

import (
	"context"
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/google/uuid"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

// Options configures a [Fixture]. The zero value works: the in-memory store, each
// event applied once.
type Options struct {
	// Backend makes each scenario's store (nil: estest.Memory); a store that
	// implements io.Closer is closed when the spec ends (see estest.Backend).
	Backend estest.Backend
	// ReplayTwice checks that the projector is idempotent, as at-least-once
	// delivery needs: before the check, every suffix of the given history (the
	// last event, the last two, …, all of them) is applied again over the rows it
	// made, and each must leave them as they are. A projector that inserts fails
	// (with the advice to upsert), and so does one that adds to a running total.
	// (An async projector's worker applies each event once, so an async
	// projector needs it only where its events may be delivered again.)
	ReplayTwice bool
	// Async runs the projector as an async projector would run: Given only stores
	// the events, and ThenRecords first lets an [es.ProjectionWorker] catch up from
	// the projector's checkpoint. The backend's store must implement
	// [es.ProjectionStore].
	Async bool
}

// Fixture builds projector scenarios for one projector of an application. It is
// safe for concurrent use; each scenario gets its own store.
type Fixture struct {
	register  func(*es.Registry)
	projector *es.Projector
	opts      Options
}

// New returns a fixture for projector, with events registered by register (the
// application's registration function). Only projector runs, whatever else
// register adds.
func New(register func(*es.Registry), projector *es.Projector, opts ...Options) *Fixture {
	f := &Fixture{register: register, projector: projector}
	if len(opts) > 0 {
		f.opts = opts[0]
	}
	if f.opts.Backend == nil {
		f.opts.Backend = estest.Memory
	}
	return f
}

// WithT returns an empty scenario whose failures go to t, for plain go test.
func (f *Fixture) WithT(t types.GomegaTestingT) *Scenario {
	return f.newScenario(gomega.NewWithT(t), t)
}

// WithContext returns an empty scenario whose store calls run under ctx
// (failures go to Ginkgo): pass the spec's context, so that its timeout bounds
// them too.
func (f *Fixture) WithContext(ctx context.Context) *Scenario {
	return f.newScenario(gomega.Default, nil).WithContext(ctx)
}

// WithGomega returns an empty scenario that reports failures through g, for
// example the Gomega an Eventually callback receives.
func (f *Fixture) WithGomega(g gomega.Gomega) *Scenario { return f.newScenario(g, nil) }

// Given starts a scenario (failures go to Ginkgo); see [Scenario.Given].
func (f *Fixture) Given(streamID uuid.UUID, events ...any) *Scenario {
	return f.newScenario(gomega.Default, nil).given(streamID, events)
}
