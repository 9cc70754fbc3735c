package estest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/internal/cleanup"
	"github.com/google/uuid"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

// offset makes failures point at the spec line that called a Scenario or Fixture
// method: spec → exported method → unexported step → Expect.
const offset = 2

// Scenario is one Given/When/Then: its own store, command service, clock and id
// generator. Its methods chain and run at once (Given stores, When executes);
// Then and its siblings check. A Scenario is for one goroutine.
type Scenario struct {
	f       *Fixture
	g       gomega.Gomega
	t       types.GomegaTestingT // from WithT, for the release of the store; else nil
	ctx     context.Context
	clock   *es.ManualClock
	ids     es.IDGenerator
	reg     *es.Registry
	svc     *es.CommandService
	worker  *es.ProjectionWorker // durable workflows and scheduled commands; nil when there are none
	ready   bool
	history []es.Envelope
	result  *Result
	collect bool
	stored  []es.Envelope
}

func (f *Fixture) newScenario(g gomega.Gomega, t types.GomegaTestingT) *Scenario {
	return &Scenario{f: f, g: g, t: t, ctx: context.Background(), clock: es.NewManualClock(f.opts.Start), ids: f.opts.IDs()}
}

// setup builds the registry, store and service on first use.
func (s *Scenario) setup(off int) bool {
	if s.ready {
		return true
	}
	if err := s.f.registrationError(); err != nil {
		s.g.Expect(err).WithOffset(off).NotTo(gomega.HaveOccurred())
		return false
	}
	s.reg = es.NewRegistry()
	s.f.register(s.reg)
	durable := false
	for _, w := range s.reg.Workflows() {
		switch s.f.opts.WorkflowMode {
		case AllSync:
			w.Sync()
		case AllDurable:
			w.Durable()
		}
		durable = durable || w.IsDurable()
	}
	s.reg.AfterCommit(func(_ context.Context, events []es.Envelope) {
		if s.collect {
			s.stored = append(s.stored, events...)
		}
	})
	store, err := s.f.opts.Backend(s.ctx)
	if !s.g.Expect(err).WithOffset(off).To(succeed("estest: the backend could not make a store")) {
		return false
	}
	if !s.release(off+1, store) {
		return false
	}
	opts := s.f.opts.Service
	opts.Clock, opts.IDs, opts.DisableWorkflows = s.clock, s.ids, !s.f.opts.Workflows
	s.svc, err = es.NewCommandService(s.ctx, s.reg, store, opts)
	if !s.g.Expect(err).WithOffset(off).To(succeed("estest: building the command service (registration mistakes, or the store could not create the view tables)")) {
		return false
	}
	var jobs es.WorkerJobs
	if _, ok := store.(es.ScheduleStore); ok {
		jobs |= es.RunScheduled
	}
	if durable && s.f.opts.Workflows {
		jobs |= es.RunWorkflows
	}
	if jobs != 0 {
		s.worker, err = es.NewProjectionWorker(s.reg, store, es.WorkerOptions{Service: s.svc, Jobs: jobs, Retries: -1,
			PollMin: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if !s.g.Expect(err).WithOffset(off).To(succeed("estest: building the worker of durable workflows and scheduled commands")) {
			return false
		}
	}
	s.ready = true
	return true
}

// release arranges for the scenario's store to be closed when the spec ends,
// after the command service, when it implements io.Closer (see [Backend]).
func (s *Scenario) release(off int, store es.EventStore) bool {
	c, ok := store.(io.Closer)
	if !ok {
		return true
	}
	released := cleanup.At(s.t, func() error {
		var err error
		if s.svc != nil {
			err = s.svc.Close()
		}
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("estest: releasing the scenario's store (%T): %w", store, cerr))
		}
		return err
	})
	if !released {
		_ = c.Close()
		s.misuse(off, fmt.Sprintf("the backend's store (%T) must be closed when the scenario ends, but the scenario runs neither in a Ginkgo spec nor under a *testing.T: use Fixture.WithT(t)", store))
	}
	return released
}

// WithContext makes the scenario's store, commands and workflows run under ctx;
// call it first, before Given or When. It returns s.
func (s *Scenario) WithContext(ctx context.Context) *Scenario {
	s.ctx = ctx
	return s
}

// Service returns the scenario's command service, for checks the DSL does not
// cover (queries of view tables, loading an aggregate).
func (s *Scenario) Service() *es.CommandService {
	s.setup(offset)
	return s.svc
}

// Clock returns the scenario's clock.
func (s *Scenario) Clock() *es.ManualClock { return s.clock }

// Context returns the context the scenario runs commands with.
func (s *Scenario) Context() context.Context { return s.ctx }

// Given stores events in the stream streamID as its history, as if its aggregate
// had recorded them (see [es.CommandService.Append]): the stream's type follows
// from the events' registration, unique keys are claimed and inline projectors
// run. Call it once per stream, or again to add to a stream.
func (s *Scenario) Given(streamID uuid.UUID, events ...any) *Scenario {
	return s.given(offset, streamID, events)
}

func (s *Scenario) given(off int, streamID uuid.UUID, events []any) *Scenario {
	if !s.setup(off + 1) {
		return s
	}
	if s.result != nil {
		s.misuse(off, "Given after When: put every Given before the When")
		return s
	}
	if len(events) == 0 {
		s.misuse(off, fmt.Sprintf("Given(%s) has no events: list the stream's events after its id", streamID))
		return s
	}
	envs, err := s.svc.Append(s.ctx, streamID, events...)
	if !s.g.Expect(err).WithOffset(off).To(succeed(fmt.Sprintf("estest: Given could not store the events of stream %s", streamID))) {
		return s
	}
	s.history = append(s.history, envs...)
	if s.worker != nil && len(envs) > 0 { // durable workflows do not react to history
		err := s.worker.SkipTo(s.ctx, envs[len(envs)-1].Cursor())
		s.g.Expect(err).WithOffset(off).To(succeed("estest: Given could not move the durable workflows past the history"))
	}
	return s
}

// GivenCommands executes commands as the scenario's history; each must succeed.
// Their events count as given, not as the When command's.
func (s *Scenario) GivenCommands(cmds ...any) *Scenario { return s.givenCommands(offset, cmds) }

func (s *Scenario) givenCommands(off int, cmds []any) *Scenario {
	if !s.setup(off + 1) {
		return s
	}
	if s.result != nil {
		s.misuse(off, "GivenCommands after When: put every Given before the When")
		return s
	}
	for _, cmd := range cmds {
		s.collect, s.stored = true, nil
		res, err := s.svc.Execute(s.ctx, cmd)
		if !s.g.Expect(err).WithOffset(off).To(succeed(fmt.Sprintf("estest: given command %T failed", cmd))) {
			s.collect = false
			return s
		}
		err = errors.Join(res.Err(), s.drive())
		s.collect = false
		if !s.g.Expect(err).WithOffset(off).To(succeed(fmt.Sprintf("estest: given command %T committed, but a follow-up failed", cmd))) {
			return s
		}
		s.history = append(s.history, s.stored...)
	}
	return s
}

// AdvanceClock moves the scenario's clock forward by d, then executes the
// scheduled commands that came due (and what durable workflows do about their
// events, with [Options.Workflows]). Before When, their events join the
// history; after it, the When's events, so that Then sees them:
//
//	blogSpec.When(blog.AddPost{…}).AdvanceClock(7*24*time.Hour).
//		Then(append(added, blog.ReminderQueued{…})...)
func (s *Scenario) AdvanceClock(d time.Duration) *Scenario {
	s.clock.Advance(d)
	if !s.ready || s.worker == nil {
		return s
	}
	s.collect, s.stored = true, nil
	err := s.drive()
	s.collect = false
	if s.result != nil && s.result.Event == nil {
		events, rerr := s.reread(s.stored)
		if !s.g.Expect(rerr).WithOffset(offset - 1).To(succeed("estest: the store could not give back what the scheduled commands stored")) {
			return s
		}
		s.result.Events = append(s.result.Events, events...)
		if s.result.Err == nil {
			s.result.FollowUpErr = errors.Join(s.result.FollowUpErr, err)
		} else {
			s.result.Err = errors.Join(s.result.Err, err)
		}
		s.result.Scheduled = nil
		return s
	}
	if s.g.Expect(err).WithOffset(offset - 1).To(succeed("estest: a scheduled command that came due failed")) {
		s.history = append(s.history, s.stored...)
	}
	return s
}

// SetClock sets the scenario's clock to t, for a When that must run at a given
// time (the specs the event browser copies from a stream run the command at the
// time it ran in production).
func (s *Scenario) SetClock(t time.Time) *Scenario {
	s.clock.Set(t)
	return s
}

// drive runs the worker until durable workflows have handled every event and
// the due scheduled commands have run. On PostgreSQL the newest events may
// stay below the log's watermark for a while: it waits for them.
func (s *Scenario) drive() error {
	if s.worker == nil {
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := s.worker.CatchUp(s.ctx); err != nil {
			return err
		}
		lag, err := s.worker.Lag(s.ctx)
		if err != nil {
			return err
		}
		behind := int64(0)
		for _, l := range lag {
			behind += l.Events + l.Held
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("estest: durable workflows are %d events behind after 30s", behind)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When executes cmd through the application's real command service (validation,
// handler, unique keys, commit, inline projectors) and keeps the outcome for Then.
// With [Options.Workflows], the workflows' follow-up commands run too; what
// fails after the command committed is the result's FollowUpErr, which Then and
// its siblings report unless [Scenario.ThenFollowUpFails] expects it.
func (s *Scenario) When(cmd any, opts ...es.ExecOption) *Scenario { return s.when(offset, cmd, opts) }

func (s *Scenario) when(off int, cmd any, opts []es.ExecOption) *Scenario {
	if !s.setup(off+1) || !s.once(off) {
		return s
	}
	s.collect, s.stored = true, nil
	res, err := s.svc.Execute(s.ctx, cmd, opts...)
	derr := s.drive()
	s.collect = false
	events, rerr := s.reread(s.stored)
	if !s.g.Expect(rerr).WithOffset(off).To(succeed("estest: the store could not give back what the command stored")) {
		return s
	}
	r := &Result{Given: s.history, Command: cmd, Err: err, Execution: res, Events: events, names: s.reg}
	if err != nil {
		r.Err = errors.Join(err, derr)
	} else {
		r.FollowUpErr = errors.Join(res.Err(), derr)
	}
	s.result = r
	return s
}

// WhenEvent stores event in stream streamID (like Given) and runs the registered
// workflows on it, recording the commands they issue without executing them; check
// them with ThenCommands.
func (s *Scenario) WhenEvent(streamID uuid.UUID, event any) *Scenario {
	return s.whenEvent(offset, streamID, event)
}

func (s *Scenario) whenEvent(off int, streamID uuid.UUID, event any) *Scenario {
	if !s.setup(off+1) || !s.once(off) {
		return s
	}
	envs, err := s.svc.Append(s.ctx, streamID, event)
	if !s.g.Expect(err).WithOffset(off).To(succeed("estest: WhenEvent could not store the event")) {
		return s
	}
	env := envs[0]
	r := &Result{Given: s.history, Event: &env, names: s.reg}
	for _, w := range s.reg.Workflows() {
		a, err := w.Plan(s.ctx, s.clock, s.ids, env)
		if err != nil {
			r.Err = err
			break
		}
		r.Commands = append(r.Commands, a.Commands...)
		r.Scheduled = append(r.Scheduled, a.Schedule...)
		r.Cancelled = append(r.Cancelled, a.Cancel...)
	}
	s.result = r
	return s
}

func (s *Scenario) once(off int) bool {
	if s.result != nil {
		s.misuse(off+1, "a second When: a scenario has one When; start another scenario")
		return false
	}
	return true
}

// reread loads the events a command stored back from the store, so Then sees what
// a later load would see, codec and all.
func (s *Scenario) reread(stored []es.Envelope) ([]es.Envelope, error) {
	out := make([]es.Envelope, 0, len(stored))
	for _, e := range stored {
		recs, err := s.svc.Store().LoadStream(s.ctx, e.StreamID, es.StreamQuery{FromVersion: e.Version, ToVersion: e.Version})
		if err != nil {
			return nil, err
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("stream %s version %d: the store returned %d events", e.StreamID, e.Version, len(recs))
		}
		env, err := s.reg.Decode(recs[0])
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}

// Result returns the outcome of When or WhenEvent, for custom Gomega matchers.
func (s *Scenario) Result() *Result {
	if s.needResult(offset - 1) {
		s.loadScheduled()
	}
	return s.result
}

func (s *Scenario) needResult(off int) bool {
	if s.result == nil {
		s.misuse(off+1, "Then before When: call When(cmd) or WhenEvent(id, event) first")
		return false
	}
	return true
}

func (s *Scenario) misuse(off int, msg string) {
	s.g.Expect(errors.New(msg)).WithOffset(off + 1).To(succeed("estest: misuse"))
}

// Then checks that the When command succeeded and stored exactly the expected
// events, in order. Each expected item is an event value, compared by payload
// with every field, or a Gomega matcher, given the event value. Envelope fields
// (ids, streams, versions, positions, times, metadata) are not compared.
func (s *Scenario) Then(expected ...any) {
	if s.needResult(offset - 1) {
		s.g.Expect(s.result).WithOffset(offset - 1).To(HaveEvents(expected...))
	}
}

// ThenNoEvents checks that the When command succeeded and stored no events.
func (s *Scenario) ThenNoEvents() {
	if s.needResult(offset - 1) {
		s.g.Expect(s.result).WithOffset(offset - 1).To(HaveNoEvents())
	}
}

// ThenFails checks that the When command failed, storing nothing. expected is
// an error (matched with errors.Is, so sentinels like es.ErrAggregateNotFound
// work), a string (the error's message must contain it), or a Gomega matcher
// given the error. A command that committed does not fail, whatever failed
// after it: see [Scenario.ThenFollowUpFails].
func (s *Scenario) ThenFails(expected any) {
	if s.needResult(offset - 1) {
		s.g.Expect(s.result).WithOffset(offset - 1).To(FailWith(expected))
	}
}

// ThenFollowUpFails checks that the When command committed and that then a
// follow-up failed: a workflow reacting to its events, a command a workflow
// issued, an after-commit hook (the result's FollowUpErr). expected is as for
// [Scenario.ThenFails]. It returns s: the failure being expected, Then and
// its siblings check the events stored, which they would otherwise refuse to
// do:
//
//	withWorkflows.Given(acc, AccountOpened{}).When(Withdraw{ID: acc, Amount: 1500}).
//		ThenFollowUpFails(ErrMailDown).
//		Then(MoneyWithdrawn{Amount: 1500})
func (s *Scenario) ThenFollowUpFails(expected any) *Scenario {
	if s.needResult(offset - 1) {
		if s.result.Event != nil {
			s.misuse(offset-1, "ThenFollowUpFails after WhenEvent: WhenEvent executes no command; use ThenFails for the workflows' error")
			return s
		}
		if s.g.Expect(s.result).WithOffset(offset - 1).To(FailFollowUpWith(expected)) {
			s.result.followUpsChecked = true
		}
	}
	return s
}

// ThenCommands checks that the workflows, given the WhenEvent event, issued exactly
// the expected commands, in order: command values compared field by field, or
// Gomega matchers given the command.
func (s *Scenario) ThenCommands(expected ...any) {
	if s.needResult(offset - 1) {
		s.g.Expect(s.result).WithOffset(offset - 1).To(HaveCommands(expected...))
	}
}

// ThenScheduled checks the scheduled commands: after When, those pending in
// the store once the command (and what came due after AdvanceClock) ran; after
// WhenEvent, those the workflows scheduled. They are compared in due order,
// exactly: each expected item is [At] (time and command), a command value
// (its time not compared) or a Gomega matcher given the command.
//
//	blogSpec.When(blog.AddPost{PostID: id, …}).
//		ThenScheduled(estest.At(estest.DefaultStart().Add(7*24*time.Hour), blog.RemindAuthor{PostID: id}))
func (s *Scenario) ThenScheduled(expected ...any) {
	if s.needResult(offset - 1) {
		s.loadScheduled()
		s.g.Expect(s.result).WithOffset(offset - 1).To(HaveScheduled(expected...))
	}
}

// ThenNothingScheduled checks that no command is scheduled (see
// [Scenario.ThenScheduled]).
func (s *Scenario) ThenNothingScheduled() {
	if s.needResult(offset - 1) {
		s.loadScheduled()
		s.g.Expect(s.result).WithOffset(offset - 1).To(HaveScheduled())
	}
}

// loadScheduled reads what the store holds scheduled into the result of a When.
func (s *Scenario) loadScheduled() {
	if s.result.Event != nil || s.result.Scheduled != nil {
		return
	}
	sched, err := s.svc.ScheduledCommands(s.ctx)
	if err != nil {
		s.result.Err = errors.Join(s.result.Err, err)
		return
	}
	s.result.Scheduled = append([]es.Scheduled{}, sched...)
}

// ThenNoCommands checks that the workflows issued no command.
func (s *Scenario) ThenNoCommands() {
	if s.needResult(offset - 1) {
		s.g.Expect(s.result).WithOffset(offset - 1).To(HaveCommands())
	}
}
