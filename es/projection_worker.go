package es

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// WorkerOptions configures a [ProjectionWorker]. The zero value works.
type WorkerOptions struct {
	// Owner names this worker in leases (default: host, process id and a random
	// suffix). Two workers must never share one.
	Owner string
	// LeaseTTL is how long a lease lasts without renewal: the time another worker
	// waits before taking over from one that died (default 10s).
	LeaseTTL time.Duration
	// BatchSize is how many events one transaction applies at most (default 500).
	BatchSize int
	// PollMin and PollMax bound the wait between polls of the log when idle; the
	// wait doubles from PollMin to PollMax and resets on work or [ProjectionWorker.Notify]
	// (defaults 10ms and 1s).
	PollMin, PollMax time.Duration
	// Retries is how often a failing event is retried, with doubling backoff from
	// RetryBackoff, before the projector stops at it (defaults 5 and 50ms;
	// a negative Retries: no retries).
	Retries      int
	RetryBackoff time.Duration
	// Progress, when set, is told how a rebuild advances.
	Progress func(RebuildProgress)
	// RebuildChunk is how many events a rebuild applies per write to its shadow
	// tables (default 50000).
	RebuildChunk int
	// Logger receives failures and takeovers (nil: slog.Default()).
	Logger *slog.Logger
	// Observer, when set, is told of each batch and rebuild when it implements
	// [BatchObserver] and [RebuildObserver]: see [Observer].
	Observer Observer
	// Projectors, when set, are run instead of the registry's async projectors:
	// to run one projector in a process of its own, or in a spec. They run
	// asynchronously whether or not they are marked Async.
	Projectors []*Projector
	// Service is the command service that executes the commands of durable
	// workflows and scheduled commands; without it the worker runs neither.
	Service *CommandService
	// Jobs selects what the worker runs (zero: everything the registry has,
	// or only Projectors when that is set).
	Jobs WorkerJobs
}

// WorkerJobs selects the kinds of job a [ProjectionWorker] runs.
type WorkerJobs uint8

const (
	RunProjectors    WorkerJobs = 1 << iota // async projectors
	RunWorkflows                            // durable workflows (needs WorkerOptions.Service)
	RunSubscriptions                        // subscriptions
	RunScheduled                            // scheduled commands, when due (needs WorkerOptions.Service and a ScheduleStore)
	RunAll           = RunProjectors | RunWorkflows | RunSubscriptions | RunScheduled
)

// ProjectionWorker runs what follows the global log apart from commits: the
// async projectors of a registry, its durable workflows and its subscriptions
// (each a job with a checkpoint, a lease, retries and a stop at a failing
// event), and the scheduled commands once due. An async projector commits its
// table writes together with the new checkpoint, so each event takes effect
// once, even across crashes; a durable workflow's commands take effect once by
// their ids; a subscription's handler sees each event at least once. Each job
// (or partition of one) is owned by one worker at a time through a lease; when
// a worker dies, another takes over once the lease has expired. A projector
// whose version is newer than its tables' is rebuilt first; one whose tables a
// newer version built (a rolling deploy) is left to that version.
//
// A worker is safe for concurrent use. It wakes on every commit made through its
// store value ([CommitNotifier]); across processes it polls with backoff.
type ProjectionWorker struct {
	reg   *Registry
	store ProjectionStore
	opts  WorkerOptions
	jobs  []*projectionJob
	sched ScheduleStore // nil: scheduled commands are not run
	wake  chan struct{}
	log   *slog.Logger
	obs   observers
}

// projectionJob is one thing that follows the log: an async projector (p), or
// a durable workflow or subscription (r); or one partition of it.
type projectionJob struct {
	p        *Projector
	r        *reactor
	part, of int
	name     string
	resumed  atomic.Bool // r.resume was consulted under the current lease
}

// reactor is a job that reacts to events instead of writing view tables.
type reactor struct {
	handles func(typ string) bool
	raw     bool // no decoding
	handle  func(ctx context.Context, e Envelope) error
	batch   func(ctx context.Context, events []Envelope) (int, error) // instead of handle
	resume  func(ctx context.Context) (Cursor, error)
}

// NewProjectionWorker returns a worker for what reg has to run from the log, on
// store, which must implement [ProjectionStore]: its async projectors, its
// subscriptions and, given the command service ([WorkerOptions.Service]), its
// durable workflows and the scheduled commands (on a store that implements
// [ScheduleStore]); [WorkerOptions.Jobs] narrows that down. A registry with
// durable workflows and no service fails with the fix. It leaves reg as it is;
// it listens to the store's commits ([CommitNotifier]) to wake up.
func NewProjectionWorker(reg *Registry, store EventStore, opts WorkerOptions) (*ProjectionWorker, error) {
	ps, ok := store.(ProjectionStore)
	if !ok {
		return nil, fmt.Errorf("es: async projectors need a store that implements es.ProjectionStore; %T does not", store)
	}
	opts.Owner = ownerName(opts.Owner)
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.PollMin <= 0 {
		opts.PollMin = 10 * time.Millisecond
	}
	if opts.PollMax < opts.PollMin {
		opts.PollMax = max(time.Second, opts.PollMin)
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	} else if opts.Retries == 0 {
		opts.Retries = 5
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 50 * time.Millisecond
	}
	w := &ProjectionWorker{reg: reg, store: ps, opts: opts, wake: make(chan struct{}, 1), log: opts.Logger, obs: observersOf(opts.Observer)}
	if w.log == nil {
		w.log = slog.Default()
	}
	jobs := opts.Jobs
	if jobs == 0 {
		jobs = RunAll
		if opts.Projectors != nil {
			jobs = RunProjectors
		}
	}
	if jobs&RunProjectors != 0 {
		projectors := opts.Projectors
		if projectors == nil {
			for _, p := range reg.projectors {
				if p.async {
					projectors = append(projectors, p)
				}
			}
		}
		for _, p := range projectors {
			for part := range p.Partitions() {
				w.jobs = append(w.jobs, &projectionJob{p: p, part: part, of: p.Partitions(), name: partitionName(p, part)})
			}
		}
	}
	if jobs&RunWorkflows != 0 {
		for _, wf := range reg.workflows {
			if !wf.durable {
				continue
			}
			if opts.Service == nil {
				return nil, fmt.Errorf("es: durable workflow %q executes commands: give the worker the command service that runs them (WorkerOptions.Service), or leave workflows to another worker (WorkerOptions.Jobs)", wf.name)
			}
			r := &reactor{handles: func(string) bool { return true }, handle: durableHandler(opts.Service, wf)}
			w.addReactor("workflow:"+wf.name, wf.Partitions(), r)
		}
	}
	if jobs&RunSubscriptions != 0 {
		for _, sub := range reg.subs {
			r := &reactor{handles: sub.handles, raw: sub.raw, handle: sub.handle, batch: sub.batch}
			if sub.Partitions() == 1 {
				r.resume = sub.resume
			}
			w.addReactor("subscription:"+sub.name, sub.Partitions(), r)
		}
	}
	if jobs&RunScheduled != 0 {
		ss, ok := store.(ScheduleStore)
		switch {
		case opts.Jobs&RunScheduled != 0 && opts.Service == nil:
			return nil, errors.New("es: scheduled commands are executed by a command service: give the worker one (WorkerOptions.Service)")
		case opts.Jobs&RunScheduled != 0 && !ok:
			return nil, errNoSchedules(store)
		case ok && opts.Service != nil:
			w.sched = ss
		}
	}
	if n, ok := store.(CommitNotifier); ok { // the registry is left as it is
		n.OnCommit(w.Notify)
	}
	return w, nil
}

func (w *ProjectionWorker) addReactor(name string, partitions int, r *reactor) {
	for part := range partitions {
		n := name
		if partitions > 1 {
			n = fmt.Sprintf("%s#%d/%d", name, part, partitions)
		}
		w.jobs = append(w.jobs, &projectionJob{r: r, part: part, of: partitions, name: n})
	}
}

// Owner returns the name this worker holds leases under.
func (w *ProjectionWorker) Owner() string { return w.opts.Owner }

// Notify wakes the worker to look for new events now.
func (w *ProjectionWorker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run processes the worker's jobs until ctx is done, then releases its leases
// and returns ctx's error. A job that fails at an event is stopped and logged;
// the others keep running. Scheduled commands are looked for on every commit
// of this process and every PollMax.
func (w *ProjectionWorker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wakes := make([]chan struct{}, len(w.jobs)+1) // the last: the scheduler's
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
	}
	for i, j := range w.jobs {
		wg.Go(func() { w.follow(ctx, j, wakes[i]) })
	}
	if w.sched != nil {
		wg.Go(func() { w.runSchedule(ctx, wakes[len(w.jobs)]) })
	}
	wg.Go(func() { // fan the wake-up out to every job
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
				for _, c := range wakes {
					select {
					case c <- struct{}{}:
					default:
					}
				}
			}
		}
	})
	wg.Wait()
	release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, j := range w.jobs {
		_ = w.store.Release(release, j.name, w.opts.Owner)
	}
	if w.sched != nil {
		_ = w.store.Release(release, schedulerName, w.opts.Owner)
	}
	return ctx.Err()
}

// follow runs one job until ctx is done.
func (w *ProjectionWorker) follow(ctx context.Context, j *projectionJob, wake <-chan struct{}) {
	wait := w.opts.PollMin
	var reported error // the stop or stand-aside last logged, so each is logged once
	// After a wake-up the commit's events may stay below the watermark for a while
	// (a transaction in flight elsewhere holds it back): until expect, look again
	// soon, whatever the poll interval.
	var expect time.Time
	for ctx.Err() == nil {
		n, err := w.step(ctx, j)
		var failure *ProjectionFailure
		switch {
		case errors.As(err, &failure):
			if reported == nil || !errors.As(reported, new(*ProjectionFailure)) {
				w.log.Error("stopped at a failing event", "job", j.name, "error", err)
			}
			reported, wait = err, w.opts.PollMax
		case errors.Is(err, errNotOwner): // another worker has it: look again later
			wait = w.opts.PollMax
		case errors.Is(err, errNewerVersion):
			if reported == nil || !errors.Is(reported, errNewerVersion) {
				w.log.Warn("async projector left to a newer version", "projection", j.name, "error", err)
			}
			reported, wait = err, w.opts.PollMax
		case err != nil && ctx.Err() == nil:
			w.log.Warn("step failed", "job", j.name, "error", err)
			wait = w.opts.PollMax
		case n == w.opts.BatchSize:
			reported, wait = nil, w.opts.PollMin
			continue
		case n > 0:
			reported, wait, expect = nil, w.opts.PollMin, time.Time{}
		default:
			reported = nil
			if time.Now().Before(expect) {
				wait = min(wait, settleWait)
			}
		}
		select {
		case <-ctx.Done():
		case <-wake:
			wait, expect = w.opts.PollMin, time.Now().Add(settleFor)
		case <-time.After(wait):
			wait = min(wait*2, w.opts.PollMax)
		}
	}
}

// How soon, and for how long, a worker looks again for a commit it was told of but
// cannot see yet.
const (
	settleWait = 10 * time.Millisecond
	settleFor  = 10 * time.Second
)

var (
	// errNotOwner: another worker holds the lease; not a failure.
	errNotOwner = errors.New("lease held by another worker")
	// errNewerVersion: the projection's tables belong to a newer projector version.
	errNewerVersion = errors.New("a newer projector version owns the projection")
)

// CatchUp processes every job until it has handled every event below the
// watermark, then runs the scheduled commands that are due, and returns: nil,
// or the failures joined. Jobs whose lease another worker holds are waited for
// until ctx is done. It serves tests and tools (projectortest's async mode and
// estest's durable workflows wait with it).
func (w *ProjectionWorker) CatchUp(ctx context.Context) error {
	var errs []error
	for _, j := range w.jobs {
		for {
			n, err := w.step(ctx, j)
			if errors.Is(err, errNotOwner) {
				if err := w.pause(ctx); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				errs = append(errs, err)
				break
			}
			if n == 0 {
				break
			}
		}
	}
	for w.sched != nil {
		n, err := w.stepSchedule(ctx)
		if errors.Is(err, errNotOwner) {
			if err := w.pause(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
		if err != nil || n == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// step applies the next batch of one job and returns how many events it applied.
func (w *ProjectionWorker) step(ctx context.Context, j *projectionJob) (int, error) {
	if j.r != nil {
		return w.stepReactor(ctx, j)
	}
	// The version that built the live tables is recorded on the first partition.
	head, err := w.store.Projection(ctx, partitionName(j.p, 0))
	if err != nil {
		return 0, err
	}
	if head.Version == 0 { // a projector that never ran: check or create its tables
		if head.Version, err = prepareProjector(ctx, w.store, j.p); err != nil {
			return 0, err
		}
	}
	if head.Version > j.p.Version() { // a rolling deploy: leave it to the newer version
		_ = w.store.Release(ctx, j.name, w.opts.Owner)
		return 0, fmt.Errorf("es: projection %s: its tables were built by version %d of the projector, newer than this program's version %d: this worker leaves it to the newer deployment: %w",
			j.name, head.Version, j.p.Version(), errNewerVersion)
	}
	if head.Version < j.p.Version() {
		if err := w.rebuild(ctx, j); err != nil {
			return 0, err
		}
		return w.step(ctx, j) // the new tables serve: go on from the swap
	}
	held, err := w.store.Lease(ctx, j.name, w.opts.Owner, w.opts.LeaseTTL)
	if err != nil {
		return 0, err
	}
	if !held {
		return 0, errNotOwner
	}
	st, err := w.store.Projection(ctx, j.name)
	if err != nil {
		return 0, err
	}
	if st.Failed {
		return 0, &ProjectionFailure{Projection: j.name, At: st.FailedAt, Err: errors.New(st.Error)}
	}
	recs, err := w.store.ReadPartition(ctx, st.Checkpoint, w.opts.BatchSize, j.part, j.of)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	failed, err := w.apply(ctx, j, recs)
	if err == nil {
		return len(recs), nil
	}
	if failed < 0 { // not the events' fault: a lease lost, a connection dropped
		return 0, err
	}
	if failed > 0 { // keep what came before the failing event
		if _, err := w.apply(ctx, j, recs[:failed]); err != nil {
			return 0, err
		}
	}
	if err := w.retry(ctx, j, recs[failed], err); err != nil {
		return failed, err
	}
	return failed + 1, nil // the retry applied the failing event too
}

// apply applies recs in one transaction with the checkpoint; on failure it returns
// the index of the event that failed, or -1 when no event is to blame.
func (w *ProjectionWorker) apply(ctx context.Context, j *projectionJob, recs []EventRecord) (failed int, err error) {
	if w.obs.batch != nil {
		var end func(BatchEnd)
		ctx, end = w.obs.batch.StartBatch(ctx, BatchStart{Projector: j.p.name, Projection: j.name, Version: j.p.Version(), Events: recs})
		defer func() { end(BatchEnd{Err: err}) }()
	}
	failed = -1
	err = w.store.Advance(ctx, j.name, w.opts.Owner, recs[len(recs)-1].Cursor(), j.p.Version(), func(ctx context.Context, views Persistor) error {
		for i, rec := range recs {
			env, err := w.reg.Decode(rec)
			if err == nil {
				err = j.p.Apply(ctx, views, env)
			}
			if err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	if err == nil {
		return 0, nil
	}
	return failed, err
}

// pause waits Options.PollMin, for a lease another worker holds; it returns
// ctx's error when ctx ends first.
func (w *ProjectionWorker) pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(w.opts.PollMin):
		return nil
	}
}

// retry applies one failing event again with backoff; when it keeps failing, the
// projection is stopped at it.
func (w *ProjectionWorker) retry(ctx context.Context, j *projectionJob, rec EventRecord, err error) error {
	return w.retryEvent(ctx, j, rec, err, func() (bool, error) {
		failed, err := w.apply(ctx, j, []EventRecord{rec})
		return err == nil || failed < 0, err // failed < 0: not the event's fault
	})
}

// retryEvent tries a job's failing event again, up to Options.Retries times
// with a backoff that doubles; when it keeps failing, it stops the job at the
// event with a *ProjectionFailure (the error names the event already). try
// reports done when there is no point in trying again (it succeeded, or failed
// for another reason than the event), and its error.
func (w *ProjectionWorker) retryEvent(ctx context.Context, j *projectionJob, rec EventRecord, err error, try func() (done bool, err error)) error {
	backoff := w.opts.RetryBackoff
	for range w.opts.Retries {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
		var done bool
		if done, err = try(); done {
			return err
		}
	}
	f := &ProjectionFailure{Projection: j.name, At: rec.Cursor(), StreamID: rec.StreamID, Version: rec.Version, Type: rec.Type, Err: err}
	if serr := w.store.SetFailure(ctx, j.name, rec.Cursor(), err.Error()); serr != nil {
		return errors.Join(f, serr)
	}
	return f
}

// Resume clears a stopped job's failure, so the worker tries its event again.
// name is the projector's name, "workflow:" or "subscription:" and the
// workflow's or subscription's name, or a partition's ("name#2/4").
func (w *ProjectionWorker) Resume(ctx context.Context, name string) error {
	if err := w.store.SetFailure(ctx, name, Cursor{}, ""); err != nil {
		return err
	}
	w.Notify()
	return nil
}

// Lag is how far one async projection is behind the log.
type Lag struct {
	Projection string
	Partition  int           // of the projector's Partitions
	Events     int64         // events readable and not applied yet
	OldestAge  time.Duration // age of the oldest of them (0 when none)
	// Held counts events committed but not readable yet: the log's watermark
	// holds them back while a transaction that began before them is in flight
	// (on PostgreSQL, in any database of the server). HeldBy is that
	// transaction, when the store can tell ([WatermarkStore]).
	Held   int64
	HeldBy *LogHolder
	State  ProjectionState
}

// Lag reports how far behind each async projection (each partition) is.
func (w *ProjectionWorker) Lag(ctx context.Context) ([]Lag, error) {
	var out []Lag
	for _, j := range w.jobs {
		st, err := w.store.Projection(ctx, j.name)
		if err != nil {
			return nil, err
		}
		n, oldest, err := w.store.Behind(ctx, st.Checkpoint, j.part, j.of)
		if err != nil {
			return nil, err
		}
		l := Lag{Projection: j.name, Partition: j.part, Events: n, State: st}
		if n > 0 {
			l.OldestAge = time.Since(oldest)
		}
		if ws, ok := w.store.(WatermarkStore); ok {
			if l.Held, l.HeldBy, err = ws.HeldBack(ctx, st.Checkpoint, j.part, j.of); err != nil {
				return nil, err
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// ownerName returns name, or when it is empty a name for this process in
// leases: host, process id and a random suffix.
func ownerName(name string) string {
	if name != "" {
		return name
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hostPID() + "-" + hex.EncodeToString(b[:])
}

// hostPID is "host-pid", looked up once: the two system calls cost more than
// the rest of building an in-memory CommandService (an estest spec builds one
// or two per scenario).
var hostPID = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
})
