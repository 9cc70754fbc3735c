package es

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Options configures a [CommandService]. The zero value works: the system clock,
// UUIDv7 ids, no retries.
type Options struct {
	Clock Clock       // nil: [SystemClock]
	IDs   IDGenerator // nil: [UUIDv7]
	// ConflictRetries is how many times a command that failed with
	// [ErrConcurrencyConflict] is run again from scratch (handler and all) before
	// the conflict is returned.
	ConflictRetries int
	// MaxCascade bounds how many commands one Execute may run in all, counting those
	// that workflows issue, to stop workflows that trigger each other forever
	// (0: 1000).
	MaxCascade int
	// DisableWorkflows stops workflows from running after commits: for maintenance
	// jobs that must not trigger side effects, and for command specs that look at
	// one command's events only.
	DisableWorkflows bool

	// ManualRebuilds leaves the rebuilds of inline projectors whose tables an
	// older version built to [CommandService.Rebuild] (a command-line tool, say);
	// by default the service runs them in the background until [CommandService.Close].
	ManualRebuilds bool
	// Owner names this process in the leases of rebuilds (default: host,
	// process id and a random suffix).
	Owner string
	// LeaseTTL is how long a rebuild's lease lasts without renewal: how long
	// another process waits before it takes over from one that died (default 10s).
	LeaseTTL time.Duration
	// RebuildChunk is how many events a rebuild applies per write to its shadow
	// tables: the unit it resumes from after an interruption (default 50000).
	RebuildChunk int
	// RepairAfter is how long the commits of processes still running an older
	// version of an inline projector must have stopped (they do not write the
	// tables a newer version serves) before this service rebuilds those tables
	// again, so that they hold their events too (default 10s).
	RepairAfter time.Duration
	// RebuildProgress, when set, is told how background rebuilds advance.
	RebuildProgress func(RebuildProgress)
	// Logger receives a line per command (debug), conflicts retried (warn),
	// failures (error), and one line per rebuild phase; never a payload
	// (nil: slog.Default()).
	Logger *slog.Logger
	// Observer, when set, is told of each command, and of loads, commits and
	// rebuilds when it implements their interfaces: see [Observer].
	Observer Observer
}

// runtime is what the service, its units of work and its loads share.
type runtime struct {
	reg      *Registry
	inline   []*Projector // the projectors that run inside commits
	names    []string     // their names and versions, for Commit.ReadModels
	versions []int
	store    EventStore
	clock    Clock
	ids      IDGenerator
	opts     Options
	obs      observers
}

// CommandService executes commands: middleware, validation, the handler with a
// unit of work, the atomic commit of everything the handler recorded together with
// the inline projectors' writes, then workflows. It is safe for concurrent use.
type CommandService struct {
	rt       *runtime
	rebuilds *rebuilder
}

// NewCommandService builds the service for the application wired in reg, on store.
// It reports every registration mistake at once, and creates the view tables of
// the registered projectors that do not exist yet.
//
// A projector whose tables an older version built (a higher
// [Projector.Versioned] was deployed) does not stop the start: its live tables
// keep serving reads while it is rebuilt into shadow tables, in the background
// of this service unless [Options.ManualRebuilds] (on a store that implements
// [ReadModelStore]; one process of the deployment at a time), and swapped in.
// Until the swap, this service does not write them; processes still running the
// older version keep them current. Tables that changed without a version bump
// fail the start with the fix. Call [CommandService.Close] to stop background
// rebuilds.
func NewCommandService(ctx context.Context, reg *Registry, store EventStore, opts Options) (*CommandService, error) {
	if err := reg.check(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.IDs == nil {
		opts.IDs = UUIDv7{}
	}
	if opts.MaxCascade <= 0 {
		opts.MaxCascade = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Owner = ownerName(opts.Owner)
	rt := &runtime{reg: reg, store: store, clock: opts.Clock, ids: opts.IDs, opts: opts, obs: observersOf(opts.Observer)}
	var stale []*Projector // inline projectors an older version built
	for _, p := range reg.projectors {
		served, err := prepareProjector(ctx, store, p)
		if err != nil {
			return nil, err
		}
		if served > p.Version() {
			opts.Logger.Warn("projector tables built by a newer version: this program leaves them alone",
				"projector", p.name, "version", p.Version(), "serving", served)
		}
		if p.async {
			continue
		}
		rt.inline, rt.names, rt.versions = append(rt.inline, p), append(rt.names, p.name), append(rt.versions, p.Version())
		if served < p.Version() {
			opts.Logger.Info("projector tables built by an older version: they serve until the rebuild swaps the new ones in",
				"projector", p.name, "version", p.Version(), "serving", served)
			stale = append(stale, p)
		}
	}
	s := &CommandService{rt: rt}
	if rms, ok := store.(ReadModelStore); ok {
		s.rebuilds = newRebuilder(reg, rms, rebuildOptionsOf(opts, opts.Logger))
		if !opts.ManualRebuilds {
			s.rebuilds.start(stale)
		}
	}
	return s, nil
}

// Close stops the service's background rebuilds and waits for them to stop; an
// interrupted rebuild resumes where it stopped, in whichever process runs it
// next. Commands may still be executed after Close.
func (s *CommandService) Close() error {
	if s.rebuilds != nil {
		s.rebuilds.close()
	}
	return nil
}

// Rebuild rebuilds the tables of the projector named name now and returns when
// they serve (or it failed): into shadow tables, swapped in as the background
// rebuilds are. Tables that serve the projector's version already are rebuilt
// too (to repair them). It needs a store that implements [ReadModelStore]; while
// another process rebuilds the projector, it returns an error that says so.
func (s *CommandService) Rebuild(ctx context.Context, name string, progress func(RebuildProgress)) error {
	var p *Projector
	for _, q := range s.rt.reg.projectors {
		if q.name == name {
			p = q
		}
	}
	if p == nil {
		return fmt.Errorf("es: rebuild %s: %w", name, ErrUnknownProjector)
	}
	if s.rebuilds == nil {
		return fmt.Errorf("es: rebuild %s: the store %T cannot rebuild tables (it does not implement es.ReadModelStore)", name, s.rt.store)
	}
	opts := s.rebuilds.opts
	opts.force = true
	if progress != nil {
		opts.progress = progress
	}
	err := rebuildProjector(ctx, s.rt.reg, s.rebuilds.store, p, opts)
	if errors.Is(err, errRebuildElsewhere) {
		return fmt.Errorf("es: rebuild %s: %w (wait for it, or for its lease to expire)", name, err)
	}
	return err
}

// Registry returns the registry the service was built from.
func (s *CommandService) Registry() *Registry { return s.rt.reg }

// Store returns the service's event store.
func (s *CommandService) Store() EventStore { return s.rt.store }

// Views returns the view tables, for queries.
func (s *CommandService) Views() Persistor { return s.rt.store.Views() }

// Clock returns the service's clock.
func (s *CommandService) Clock() Clock { return s.rt.clock }

// NewID returns a fresh id from the service's id generator, for new aggregates.
func (s *CommandService) NewID() uuid.UUID { return s.rt.ids.NewID() }

// History returns every event of a stream, decoded, oldest first.
func (s *CommandService) History(ctx context.Context, id uuid.UUID) ([]Envelope, error) {
	recs, err := s.rt.store.LoadStream(ctx, id, StreamQuery{})
	if err != nil {
		return nil, err
	}
	out := make([]Envelope, 0, len(recs))
	for _, r := range recs {
		env, err := s.rt.reg.Decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}

type queued struct {
	cmd      any
	meta     execMeta
	workflow string    // the workflow that issued it, if any
	cause    *Envelope // the event it reacts to, if any
}

// Execute runs cmd to completion: middleware, validation, its handler, the commit,
// inline projectors, and then the workflows that react to its events, with the
// commands they issue (first in, first out).
//
// A non-nil error means that nothing of the command was stored, as with
// database/sql: a [*ValidationError] for invalid input, an error wrapping
// [ErrNoHandler], [ErrAggregateNotFound], [ErrAggregateExists],
// [ErrConcurrencyConflict] (after [Options.ConflictRetries]),
// [ErrDuplicateCommand] (its [WithCommandID] id ran before) or a
// [*UniqueKeyError], the handler's own error, a [*PanicError], or the store's
// failure, always naming the command. The Result is nil then.
//
// Once the command committed, the error is nil and the [*Result] says what
// happened: the command record's id, the events stored with their versions and
// log positions, the commands synchronous workflows issued and how each ended,
// and what failed after the commit ([Result.Failures]: a [*WorkflowError], an
// [*AfterCommitError], [ErrCascadeLimit]). Those failures leave the command
// stored; executing it again would store it again. [Result.Err] joins them, for
// callers that want them as an error.
func (s *CommandService) Execute(ctx context.Context, cmd any, opts ...ExecOption) (*Result, error) {
	var meta execMeta
	for _, o := range opts {
		o(&meta)
	}
	first, err := s.executeOne(ctx, queued{cmd: cmd, meta: meta})
	if first.id == uuid.Nil {
		return nil, err
	}
	res := &Result{CommandID: first.id, Events: first.envs, Failures: first.failures}
	queue := s.react(ctx, res, meta, first.envs)
	for n := 1; len(queue) > 0; n++ {
		if n == s.rt.opts.MaxCascade {
			res.Failures = append(res.Failures, fmt.Errorf("es: %T: %d commands ran and workflows issued %d more, not run; is there a cycle? %w",
				cmd, n, len(queue), ErrCascadeLimit))
			break
		}
		q := queue[0]
		queue = queue[1:]
		out, err := s.executeOne(ctx, q)
		f := FollowUp{Workflow: q.workflow, Cause: *q.cause, Command: q.cmd, CommandID: out.id, Events: out.envs}
		if out.id == uuid.Nil {
			f.Err = err
			res.Failures = append(res.Failures, &WorkflowError{Workflow: q.workflow, Event: *q.cause, Command: q.cmd, Err: err})
		}
		res.Failures = append(res.Failures, out.failures...)
		res.FollowUps = append(res.FollowUps, f)
		if out.id != uuid.Nil {
			queue = append(queue, s.react(ctx, res, q.meta, out.envs)...)
		}
	}
	return res, nil
}

// react runs the synchronous workflows on the events a command stored (its
// metadata meta): it stores what they schedule and returns the commands they
// issue, to run next. Their failures go to res.
func (s *CommandService) react(ctx context.Context, res *Result, meta execMeta, envs []Envelope) []queued {
	if s.rt.opts.DisableWorkflows {
		return nil
	}
	var next []queued
	for i := range envs {
		env := &envs[i]
		for _, w := range s.rt.reg.workflows {
			if w.durable { // a worker runs it from the log
				continue
			}
			a, err := w.Plan(ctx, s.rt.clock, s.rt.ids, *env)
			if err == nil {
				err = s.rt.storeSchedules(ctx, *env, a)
			}
			if err != nil {
				res.Failures = append(res.Failures, &WorkflowError{Workflow: w.name, Event: *env, Err: err})
				continue
			}
			for _, c := range a.Commands {
				m := execMeta{userID: meta.userID, correlation: env.CorrelationID, causation: env.ID, metadata: meta.metadata}
				next = append(next, queued{cmd: c, meta: m, workflow: w.name, cause: env})
			}
		}
	}
	return next
}

// storeSchedules stores what a workflow reacting to env scheduled and cancelled.
func (rt *runtime) storeSchedules(ctx context.Context, env Envelope, a Actions) error {
	if len(a.Schedule) == 0 && len(a.Cancel) == 0 {
		return nil
	}
	ss, ok := rt.store.(ScheduleStore)
	if !ok {
		return errNoSchedules(rt.store)
	}
	add := make([]ScheduledCommand, 0, len(a.Schedule))
	for _, sc := range a.Schedule {
		rec, err := rt.encodeScheduled(sc.At, sc.Key, sc.Command, sc.Record.ID)
		if err != nil {
			return err
		}
		rec.UserID, rec.CorrelationID, rec.CausationID, rec.Metadata = env.UserID, env.CorrelationID, env.ID, env.Metadata
		add = append(add, rec)
	}
	return ss.Schedule(ctx, add, a.Cancel)
}

// ran is what executeOne stored: the command record's id (zero when nothing
// was stored) and the events, and what failed after the commit.
type ran struct {
	id       uuid.UUID
	envs     []Envelope
	failures []error // after the commit, each an *AfterCommitError
}

// executeOne runs one command through middleware, validation, handler and
// commit. When the commit happened, out.id is set, and out.failures (joined in
// err) is what failed after it: hooks that panicked, middleware that failed (or
// panicked) after its handler committed. Else err says why nothing was stored;
// a panic anywhere on the way (middleware, projector, upcaster) is a
// [*PanicError], and the store's transaction has been rolled back.
func (s *CommandService) executeOne(ctx context.Context, q queued) (out ran, err error) {
	cmd, meta := q.cmd, q.meta
	start := time.Now()
	var name string
	if h, err := s.rt.handlerFor(cmd); err == nil {
		name = h.name
	} else {
		name = fmt.Sprintf("%T", cmd)
	}
	ctx, x := withExecution(ctx)
	var end func(CommandEnd)
	if s.rt.obs.command != nil {
		ctx, end = s.rt.obs.command.StartCommand(ctx, CommandStart{Type: name, Command: cmd, Workflow: q.workflow, Cause: q.cause})
	}
	conflicts := 0
	var envs []Envelope
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("es: command %T: %w", cmd, &PanicError{Value: r, Stack: debug.Stack()})
		}
		if out.id = x.command(); out.id != uuid.Nil {
			out.envs, out.failures = envs, afterCommit(name, err)
			err = errors.Join(out.failures...)
		}
		s.rt.logOutcome(ctx, name, start, out, err)
		if end != nil {
			o := OutcomeCommitted
			if out.id == uuid.Nil {
				o = outcomeOf(err)
			}
			end(CommandEnd{ID: out.id, Outcome: o, Conflicts: conflicts, Events: out.envs, Err: err})
		}
	}()
	if err := s.rt.ranAlready(ctx, cmd, meta); err != nil {
		return ran{}, err
	}
	next := func(ctx context.Context, cmd any) error {
		h, err := s.rt.handlerFor(cmd)
		if err != nil {
			return err
		}
		name = h.name // middleware may have passed on another command
		if err := validate(h.name, cmd); err != nil {
			return err
		}
		for attempt := 0; ; attempt++ {
			envs, err = s.rt.attempt(ctx, h, cmd, meta, x)
			if errors.Is(err, ErrConcurrencyConflict) {
				conflicts++
				// The conflict may be the same command, committed elsewhere.
				if dup := s.rt.ranAlready(ctx, cmd, meta); dup != nil {
					return dup
				}
			}
			if err == nil || !errors.Is(err, ErrConcurrencyConflict) || attempt >= s.rt.opts.ConflictRetries {
				return err
			}
			s.rt.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "command conflict: running it again", slog.String("command", h.name),
				slog.Int("attempt", attempt+1), slog.Int("retries", s.rt.opts.ConflictRetries), slog.Any("error", err))
			select { // a little jitter, so racing retries spread out
			case <-time.After(time.Duration(rand.IntN(1000*(attempt+1))) * time.Microsecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	chain := HandlerFunc(next)
	for i := len(s.rt.reg.middleware) - 1; i >= 0; i-- {
		chain = s.rt.reg.middleware[i](chain)
	}
	return ran{}, chain(ctx, cmd) // the deferred function fills in what was stored
}

// logOutcome logs one executed command, never its payload: at debug when it
// committed or was refused (invalid, a rule of the domain), at error when it
// failed otherwise (the store, a panic, conflicts after the retries) or
// something failed after its commit.
func (rt *runtime) logOutcome(ctx context.Context, name string, start time.Time, out ran, err error) {
	log := rt.opts.Logger
	level, msg := slog.LevelDebug, "command executed"
	switch {
	case err == nil:
	case out.id != uuid.Nil:
		level, msg = slog.LevelError, "command executed, but what followed its commit failed"
	case refused(err):
		msg = "command refused"
	default:
		level, msg = slog.LevelError, "command failed"
	}
	if !log.Enabled(ctx, level) { // a command's hot path: nothing allocated for a line not written
		return
	}
	attrs := []slog.Attr{slog.String("command", name), slog.Duration("duration", time.Since(start))}
	if out.id != uuid.Nil {
		attrs = append(attrs, slog.String("id", out.id.String()), slog.Int("events", len(out.envs)))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("error", err))
	}
	log.LogAttrs(ctx, level, msg, attrs...)
}

// refused reports whether err is the command's own answer (invalid input, a
// rule of the domain, a missing aggregate or a taken key) rather than a failure.
func refused(err error) bool {
	if _, ok := errors.AsType[*ValidationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*UniqueKeyError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*PanicError](err); ok {
		return false
	}
	switch {
	case errors.Is(err, ErrAggregateNotFound), errors.Is(err, ErrAggregateExists):
		return true
	case errors.Is(err, ErrConcurrencyConflict), errors.Is(err, ErrNoHandler), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return false
	}
	if _, ok := errors.AsType[*commitError](err); ok {
		return false
	}
	return true // the handler's own error: ErrAlreadyPublished and the like
}

// commitError marks a failure of the store's commit.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// ranAlready returns an error wrapping ErrDuplicateCommand when cmd has an id
// of its own (WithCommandID) and the store holds a command with that id.
func (rt *runtime) ranAlready(ctx context.Context, cmd any, meta execMeta) error {
	if meta.commandID == uuid.Nil {
		return nil
	}
	done, err := rt.store.Commands(ctx, meta.commandID)
	if err != nil {
		return fmt.Errorf("es: command %T: look up its id %s: %w", cmd, meta.commandID, err)
	}
	if len(done) > 0 {
		return fmt.Errorf("es: command %T with id %s: %w", cmd, meta.commandID, ErrDuplicateCommand)
	}
	return nil
}

// attempt runs the handler in a fresh unit of work and commits what it recorded.
// x is the command's execution, nil for [CommandService.Append].
func (rt *runtime) attempt(ctx context.Context, h *commandHandler, cmd any, meta execMeta, x *execution) ([]Envelope, error) {
	u := newUnitOfWork(rt)
	if err := callHandler(ctx, h, u, cmd); err != nil {
		return nil, fmt.Errorf("es: command %s: %w", h.name, err)
	}
	meta.metadata = x.metadataOver(meta.metadata)
	c, err := rt.buildCommit(u, h.name, cmd, meta)
	if err != nil {
		return nil, fmt.Errorf("es: command %s: %w", h.name, err)
	}
	// The codec round trip a later load makes: an event that does not survive it
	// fails the command before anything is written.
	envs, err := rt.decodeCommit(c)
	if err != nil {
		return nil, fmt.Errorf("es: command %s: %w", h.name, err)
	}
	var inTx func(context.Context, Persistor) error
	if len(rt.inline) > 0 && len(envs) > 0 { // else one round trip, no transaction block
		c.ReadModels, c.Versions = rt.names, rt.versions
		inTx = func(ctx context.Context, views Persistor) error {
			refill(envs, c)
			for _, env := range envs {
				for i, p := range rt.inline {
					if c.Serving != nil && c.Serving[i] != p.Version() {
						continue // tables of another version: rebuilt, or left to it
					}
					if err := p.Apply(ctx, views, env); err != nil {
						return err
					}
				}
			}
			return nil
		}
	}
	if err := rt.commit(ctx, c, inTx); err != nil {
		if errors.Is(err, ErrConcurrencyConflict) {
			if exists := rt.createdExisting(ctx, u); exists != nil {
				return nil, fmt.Errorf("es: command %s: %w", h.name, exists)
			}
		}
		return nil, fmt.Errorf("es: command %s: %w", h.name, &commitError{err})
	}
	refill(envs, c)
	x.committed(c.Command.ID)
	if err := rt.runHooks(ctx, h.name, envs); err != nil {
		return envs, err
	}
	return envs, nil
}

// commit has the store commit c, under the observer's eye.
func (rt *runtime) commit(ctx context.Context, c *Commit, inTx func(context.Context, Persistor) error) error {
	if rt.obs.commit == nil {
		return rt.store.Commit(ctx, c, inTx)
	}
	ctx, end := rt.obs.commit.StartCommit(ctx, c)
	err := rt.store.Commit(ctx, c, inTx)
	end(CommitEnd{Err: err})
	return err
}

// AfterCommitError reports that a command committed, its events are stored, but
// something that ran after its commit failed: an after-commit hook panicked, or
// middleware returned an error (or panicked) after its handler committed.
// Executing the command again would store it again. [CommandService.Execute]
// reports it in [Result.Failures].
type AfterCommitError struct {
	Command string // the command's registered name (its Go type when it has none)
	Err     error  // a hook's *PanicError, or what the middleware returned
	hook    bool
}

func (e *AfterCommitError) Error() string {
	what := "middleware failed after the commit"
	if e.hook {
		what = "an after-commit hook failed"
	}
	return fmt.Sprintf("es: command %s committed, but %s: %v", e.Command, what, e.Err)
}

func (e *AfterCommitError) Unwrap() error { return e.Err }

// afterCommit splits what the middleware chain of command name returned after
// its commit into failures, each an *AfterCommitError.
func afterCommit(name string, err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, afterCommit(name, e)...)
		}
		return out
	}
	if _, ok := errors.AsType[*AfterCommitError](err); ok {
		return []error{err}
	}
	return []error{&AfterCommitError{Command: name, Err: err}}
}

// runHooks calls the after-commit hooks; a panicking hook does not stop the others.
func (rt *runtime) runHooks(ctx context.Context, name string, envs []Envelope) error {
	var errs []error
	for _, hook := range rt.reg.hooks() {
		func() {
			defer func() {
				if p := recover(); p != nil {
					errs = append(errs, &AfterCommitError{Command: name, Err: &PanicError{Value: p, Stack: debug.Stack()}, hook: true})
				}
			}()
			hook(ctx, envs)
		}()
	}
	return errors.Join(errs...)
}

// PanicError carries a panic recovered from application code (a handler, a
// projector, a workflow, a hook), with its stack.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

func callHandler(ctx context.Context, h *commandHandler, u *UnitOfWork, cmd any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return h.handle(ctx, u, cmd)
}

// buildCommit turns the unit of work into what the store writes.
func (rt *runtime) buildCommit(u *UnitOfWork, name string, cmd any, meta execMeta) (*Commit, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	id, now := meta.commandID, rt.clock.Now()
	if id == uuid.Nil {
		id = rt.ids.NewID()
	}
	corr := meta.correlation
	if corr == uuid.Nil {
		corr = id
	}
	c := &Commit{Command: CommandRecord{ID: id, Type: name, Data: data, Time: now, UserID: meta.userID,
		CorrelationID: corr, CausationID: meta.causation, Metadata: meta.metadata}}
	for _, a := range u.order {
		r := a.root()
		if len(r.pending) == 0 {
			continue
		}
		w := StreamWrite{StreamID: r.id, StreamType: r.typ.name, ExpectedVersion: r.stored}
		for i, ev := range r.pending {
			et, data, err := rt.reg.encodeEvent(ev)
			if err != nil {
				return nil, err
			}
			w.Events = append(w.Events, EventRecord{ID: rt.ids.NewID(), StreamID: r.id, StreamType: r.typ.name,
				Version: r.stored + int64(i) + 1, Type: et.name, Schema: et.schema(), Data: data,
				Meta: Meta{Time: now, CommandID: id, CorrelationID: corr, CausationID: id, UserID: meta.userID, Metadata: meta.metadata}})
		}
		if k, ok := a.(UniqueKeyer); ok {
			keys, err := checkKeys(r, k.UniqueKeys())
			if err != nil {
				return nil, err
			}
			if !slices.Equal(keys, u.loaded[r.id]) { // a new stream holds none
				w.UniqueKeys = keys
			}
		}
		if p := r.typ.snapshot; p.every > 0 && r.version-r.snapshotAt >= p.every {
			data, err := a.(Snapshotter).MarshalSnapshot()
			if err != nil {
				return nil, fmt.Errorf("snapshot %s %s: %w", r.typ.name, r.id, err)
			}
			w.Snapshot = &Snapshot{StreamID: r.id, StreamType: r.typ.name, Version: r.version, Schema: p.schema, Data: data}
		}
		c.Streams = append(c.Streams, w)
	}
	c.Scheduled = meta.scheduled
	if len(u.schedule) > 0 || len(u.cancel) > 0 || c.Scheduled {
		if _, ok := rt.store.(ScheduleStore); !ok {
			return nil, errNoSchedules(rt.store)
		}
		c.Cancel = u.cancel
		for _, sc := range u.schedule {
			sc.UserID, sc.CorrelationID, sc.CausationID, sc.Metadata = meta.userID, corr, id, meta.metadata
			c.Schedule = append(c.Schedule, sc)
		}
	}
	return c, nil
}

func checkKeys(r *AggregateRoot, keys []UniqueKey) ([]UniqueKey, error) {
	out := make([]UniqueKey, 0, len(keys))
	for _, k := range keys {
		if k.Key == "" { // no value, like NULL in a unique column: nothing to claim
			continue
		}
		if k.Scope == "" {
			return nil, fmt.Errorf("%s %s: unique key %q has no scope", r.typ.name, r.id, k.Key)
		}
		if slices.ContainsFunc(out, func(o UniqueKey) bool { return o.Scope == k.Scope }) {
			return nil, fmt.Errorf("%s %s: two unique keys in scope %s: an aggregate holds one key per scope", r.typ.name, r.id, k.Scope)
		}
		out = append(out, k)
	}
	return out, nil
}

// refill copies what the store filled in (positions, times) into the envelopes
// decoded from c.
func refill(envs []Envelope, c *Commit) {
	i := 0
	for _, w := range c.Streams {
		for _, rec := range w.Events {
			envs[i].EventRecord = rec
			i++
		}
	}
}

// createdExisting explains a conflict on a stream the unit of work created: it
// exists, so the command fails with ErrAggregateExists, unless a Load in the unit
// of work found it missing (then it is a race, and the conflict stands).
func (rt *runtime) createdExisting(ctx context.Context, u *UnitOfWork) error {
	for _, a := range u.order {
		r := a.root()
		if r.stored != 0 || len(r.pending) == 0 || u.missing[r.id] {
			continue
		}
		if info, err := rt.store.StreamInfo(ctx, r.id); err == nil {
			return fmt.Errorf("create %s %s: a %s with this id exists: %w", r.typ.name, r.id, info.Type, ErrAggregateExists)
		}
	}
	return nil
}

// decodeCommit decodes the stored events of c: the same round trip a later load
// makes, so an event that does not survive its codec fails the command now.
func (rt *runtime) decodeCommit(c *Commit) ([]Envelope, error) {
	var envs []Envelope
	for _, w := range c.Streams {
		for _, rec := range w.Events {
			env, err := rt.reg.Decode(rec)
			if err != nil {
				return nil, err
			}
			envs = append(envs, env)
		}
	}
	return envs, nil
}
