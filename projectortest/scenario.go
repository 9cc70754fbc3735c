package projectortest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/internal/cleanup"
	"github.com/google/uuid"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

// Scenario is one projector spec: its own store, the events given, the rows then.
// It is for one goroutine.
type Scenario struct {
	f        *Fixture
	g        gomega.Gomega
	t        types.GomegaTestingT // from WithT, for the release of the store; else nil
	ctx      context.Context
	reg      *es.Registry
	store    es.EventStore
	ready    bool
	history  []es.Envelope
	replayed bool
	versions map[uuid.UUID]int64
	seq      uint64
}

func (f *Fixture) newScenario(g gomega.Gomega, t types.GomegaTestingT) *Scenario {
	return &Scenario{f: f, g: g, t: t, ctx: context.Background(), versions: map[uuid.UUID]int64{}}
}

// offset points failures at the spec line: spec → exported method → step → Expect.
const offset = 2

// setup builds the scenario on first use; off is the caller's offset to the spec.
func (s *Scenario) setup(off int) bool {
	if s.ready {
		return true
	}
	s.reg = es.NewRegistry()
	s.f.register(s.reg)
	if !s.g.Expect(s.reg.Err()).WithOffset(off + 1).To(estest.NoError("projectortest: the registration function has mistakes")) {
		return false
	}
	var err error
	s.store, err = s.f.opts.Backend(s.ctx)
	if !s.g.Expect(err).WithOffset(off + 1).To(estest.NoError("projectortest: the backend could not make a store")) {
		return false
	}
	if c, ok := s.store.(io.Closer); ok { // the scenario owns the store: it goes when the spec ends
		released := cleanup.At(s.t, func() error {
			if err := c.Close(); err != nil {
				return fmt.Errorf("projectortest: releasing the scenario's store (%T): %w", s.store, err)
			}
			return nil
		})
		if !released {
			_ = c.Close()
			s.g.Expect(fmt.Errorf("the backend's store (%T) must be closed when the scenario ends, but the scenario runs neither in a Ginkgo spec nor under a *testing.T: use Fixture.WithT(t)", s.store)).
				WithOffset(off + 1).To(estest.NoError("projectortest: misuse"))
			return false
		}
	}
	err = s.store.Views().CreateTables(s.ctx, s.f.projector.Tables()...)
	s.ready = s.g.Expect(err).WithOffset(off + 1).To(estest.NoError("projectortest: creating the projector's tables"))
	return s.ready
}

// WithContext makes the scenario's store calls run under ctx; call it first,
// before Given. It returns s.
func (s *Scenario) WithContext(ctx context.Context) *Scenario {
	s.ctx = ctx
	return s
}

// Views returns the scenario's view tables, for checks of one's own (nil when the
// scenario could not be set up; that failure is reported).
func (s *Scenario) Views() es.Persistor {
	if !s.setup(offset - 1) {
		return nil
	}
	return s.store.Views()
}

// Given stores events in stream streamID (its type follows from the events'
// registration) and runs the projector on them in the same transaction, as the
// command service does for inline projectors.
func (s *Scenario) Given(streamID uuid.UUID, events ...any) *Scenario {
	return s.given(streamID, events)
}

func (s *Scenario) given(streamID uuid.UUID, events []any) *Scenario {
	if !s.setup(offset) {
		return s
	}
	err := s.commit(streamID, events)
	s.g.Expect(err).WithOffset(offset).To(estest.NoError(fmt.Sprintf("projectortest: Given(%s)", streamID)))
	return s
}

func (s *Scenario) commit(streamID uuid.UUID, events []any) error {
	if len(events) == 0 {
		return fmt.Errorf("no events: list the stream's events after its id")
	}
	agg, ok := s.reg.AggregateOf(events[0])
	if !ok {
		return fmt.Errorf("%T is not a registered event: register it with es.RegisterEvent", events[0])
	}
	s.seq++
	cmd := es.CommandRecord{ID: estest.ID(1_000_000 + s.seq), Type: "projectortest.Given", Data: []byte("{}"), Time: estest.DefaultStart()}
	w := es.StreamWrite{StreamID: streamID, StreamType: agg.Name(), ExpectedVersion: s.versions[streamID]}
	for i, e := range events {
		typ, schema, data, err := s.reg.Encode(e)
		if err != nil {
			return err
		}
		s.seq++
		w.Events = append(w.Events, es.EventRecord{ID: estest.ID(1_000_000 + s.seq), StreamID: streamID, StreamType: agg.Name(),
			Version: w.ExpectedVersion + int64(i) + 1, Type: typ, Schema: schema, Data: data,
			Meta: es.Meta{Time: estest.DefaultStart(), CommandID: cmd.ID, CorrelationID: cmd.ID, CausationID: cmd.ID}})
	}
	c := &es.Commit{Command: cmd, Streams: []es.StreamWrite{w}}
	var envs []es.Envelope
	inline := func(ctx context.Context, views es.Persistor) error {
		envs = nil
		for _, rec := range c.Streams[0].Events {
			env, err := s.reg.Decode(rec)
			if err != nil {
				return err
			}
			if err := s.f.projector.Apply(ctx, views, env); err != nil {
				return err
			}
			envs = append(envs, env)
		}
		return nil
	}
	if s.f.opts.Async {
		inline = nil
	}
	if err := s.store.Commit(s.ctx, c, inline); err != nil {
		return err
	}
	if s.f.opts.Async {
		for _, rec := range c.Streams[0].Events {
			env, err := s.reg.Decode(rec)
			if err != nil {
				return err
			}
			envs = append(envs, env)
		}
	}
	s.versions[streamID] += int64(len(events))
	s.history = append(s.history, envs...)
	return nil
}

// catchUp lets an async projector apply what was given, when the fixture asks
// for async.
func (s *Scenario) catchUp() error {
	if !s.f.opts.Async {
		return nil
	}
	w, err := es.NewProjectionWorker(s.reg, s.store, es.WorkerOptions{Projectors: []*es.Projector{s.f.projector}, Retries: -1})
	if err != nil {
		return err
	}
	// A store's log may show a commit only a little later (PostgreSQL's shows
	// what committed before every transaction in flight began): catch up until
	// the projector has applied the last given event of every partition.
	deadline := time.Now().Add(catchUpTimeout)
	for {
		if err := w.CatchUp(s.ctx); err != nil {
			return err
		}
		done, err := s.caughtUp(w)
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("projectortest: the async projector had not applied the given events after %v: a transaction in flight on the server may be holding back the log", catchUpTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// catchUpTimeout bounds the wait for the log to show the given events.
const catchUpTimeout = 30 * time.Second

// caughtUp reports whether the projector's checkpoint of every partition has
// reached the last given event of that partition.
func (s *Scenario) caughtUp(w *es.ProjectionWorker) (bool, error) {
	p := s.f.projector
	last := make([]es.Cursor, p.Partitions())
	for _, e := range s.history {
		part := es.PartitionOf(e.StreamID, p.Partitions())
		if last[part].Before(e.Cursor()) {
			last[part] = e.Cursor()
		}
	}
	lags, err := w.Lag(s.ctx)
	if err != nil {
		return false, err
	}
	for _, l := range lags {
		if l.State.Checkpoint.Before(last[l.Partition]) {
			return false, nil
		}
	}
	return true, nil
}

// replay checks, when the fixture asks for it, that the projector is
// idempotent: every suffix of the history (the last event, the last two, …, all
// of them) is applied again over the rows it made, and must leave them as they
// are, as a redelivery of those events would.
func (s *Scenario) replay() error {
	if !s.f.opts.ReplayTwice || s.replayed {
		return nil
	}
	s.replayed = true
	views := s.store.Views()
	want, err := s.rows(views)
	if err != nil {
		return err
	}
	for k := len(s.history) - 1; k >= 0; k-- {
		for _, env := range s.history[k:] {
			if err := s.f.projector.Apply(s.ctx, views, env); err != nil {
				return notIdempotent(fmt.Sprintf("applying events %d to %d again", k+1, len(s.history)), err)
			}
		}
		got, err := s.rows(views)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			e := s.history[k]
			return fmt.Errorf("projectortest: the projector is not idempotent: applying events %d to %d again (from %s of stream %s version %d) changed its rows:\n  before %v\n  after  %v",
				k+1, len(s.history), e.Type, e.StreamID, e.Version, want, got)
		}
	}
	return nil
}

// rows reads every table of the projector.
func (s *Scenario) rows(views es.Persistor) ([][]es.Row, error) {
	var out [][]es.Row
	for _, d := range s.f.projector.Tables() {
		rows, err := views.Find(s.ctx, d.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("projectortest: reading %s: %w", d.Name, err)
		}
		out = append(out, rows)
	}
	return out, nil
}

// notIdempotent explains a failure of ReplayTwice's second application; a
// duplicate record says the usual fix.
func notIdempotent(what string, err error) error {
	if errors.Is(err, es.ErrDuplicateRecord) {
		return fmt.Errorf("projectortest: the projector is not idempotent: %s failed: %w\n(ReplayTwice) write the row with Upsert, not Insert, so that a second application replaces it", what, err)
	}
	return fmt.Errorf("projectortest: the projector is not idempotent: %s failed: %w", what, err)
}
