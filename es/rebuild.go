package es

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The phases of a rebuild, as [RebuildProgress.Phase] and the status report them.
const (
	PhaseReplay  = "replay"   // the log is replayed into the shadow tables
	PhaseIndex   = "index"    // their secondary indexes are built
	PhaseCatchUp = "catch-up" // the events committed meanwhile are applied
	PhaseSwap    = "swap"     // the last events and the rename, in one transaction
	PhaseDone    = "done"     // the new tables serve
)

// RebuildProgress reports how far a rebuild is, for tools to draw.
type RebuildProgress struct {
	Projector string
	Version   int     // the version being built
	Done      int64   // events applied so far
	Total     int64   // events to apply (grows while the rebuild catches up)
	Rate      float64 // events per second in this run
	Phase     string  // PhaseReplay … PhaseDone
}

// ETA estimates the time left at the current rate (0 when unknown or done).
func (p RebuildProgress) ETA() time.Duration {
	if p.Rate <= 0 || p.Total <= p.Done {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / p.Rate * float64(time.Second))
}

// rebuildOptions tune one rebuild.
type rebuildOptions struct {
	owner    string
	leaseTTL time.Duration
	// chunk is how many events one write to the shadow tables covers: the
	// unit of resumption after an interruption.
	chunk int
	// swapBudget is how many events at most the swap transaction may have to
	// apply: until fewer are left, the rebuild catches up outside it.
	swapBudget int
	progress   func(RebuildProgress)
	log        *slog.Logger
	// repairAfter is how long commits of an older version must have stopped
	// before the tables they left behind are rebuilt.
	repairAfter time.Duration
	// force rebuilds tables that serve the projector's version already (to
	// repair them); without it, such a rebuild does nothing.
	force bool
	obs   RebuildObserver // nil: none
}

func (o rebuildOptions) withDefaults() rebuildOptions {
	if o.leaseTTL <= 0 {
		o.leaseTTL = 10 * time.Second
	}
	if o.chunk <= 0 {
		o.chunk = 50000
	}
	if o.swapBudget <= 0 {
		o.swapBudget = 500
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.repairAfter <= 0 {
		o.repairAfter = 10 * time.Second
	}
	return o
}

// errRebuildElsewhere: another process holds the rebuild's lease.
var errRebuildElsewhere = errors.New("another process is rebuilding the projector")

// rebuildLease names the lease that one rebuild of p holds.
func rebuildLease(p *Projector) string { return p.name + "#rebuild" }

// rebuild is one run of the replay loop, the same for every store and for
// inline and async projectors: the store only offers a [RebuildSession].
type rebuild struct {
	reg   *Registry
	store ReadModelStore
	p     *Projector
	opts  rebuildOptions
	types []string
	sess  RebuildSession
	tabs  *replayTables
	mark  RebuildMark

	started  time.Time
	applied  int64            // events applied in this run, for the rate
	endPhase func(RebuildEnd) // the observer's, for the phase under way
}

// rebuildProjector rebuilds p's tables to p's version: it replays the log into
// shadow tables (resuming an interrupted rebuild of the same version), builds
// their indexes, catches up until the rest fits a short transaction, then
// swaps them in. It returns errRebuildElsewhere when another process holds the
// rebuild's lease, and a [*ProjectionFailure] when an event fails.
func rebuildProjector(ctx context.Context, reg *Registry, store ReadModelStore, p *Projector, opts rebuildOptions) error {
	opts = opts.withDefaults()
	r := &rebuild{reg: reg, store: store, p: p, opts: opts, types: p.eventTypes(reg), started: time.Now()}
	lease := rebuildLease(p)
	held, err := store.Lease(ctx, lease, opts.owner, opts.leaseTTL)
	if err != nil {
		return fmt.Errorf("es: rebuild %s: %w", p.name, err)
	}
	if !held {
		return errRebuildElsewhere
	}
	if st, err := store.Projection(ctx, partitionName(p, 0)); err != nil {
		return fmt.Errorf("es: rebuild %s: %w", p.name, err)
	} else if st.Version > p.Version() || (st.Version == p.Version() && !opts.force) {
		_ = store.Release(ctx, lease, opts.owner)
		return nil // built meanwhile, here or by a newer version
	}
	if opts.obs != nil {
		var end func(RebuildEnd)
		ctx, end = opts.obs.StartRebuild(ctx, r.progress())
		defer func() {
			r.endPhaseWith(err)
			end(RebuildEnd{Progress: r.progress(), Err: err})
		}()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() { // keep the lease; when it is lost, stop
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(opts.leaseTTL / 3):
			}
			held, err := store.Lease(ctx, lease, opts.owner, opts.leaseTTL)
			if err == nil && !held {
				cancel(fmt.Errorf("es: rebuild %s as %s: %w", p.name, opts.owner, ErrLeaseLost))
				return
			}
		}
	}()
	defer func() {
		cancel(nil)
		<-done
		_ = store.Release(context.WithoutCancel(ctx), lease, opts.owner)
	}()
	err = r.run(ctx)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) && !errors.Is(cause, context.Canceled) {
		err = errors.Join(err, cause)
	}
	return err
}

func (r *rebuild) run(ctx context.Context) error {
	spec := RebuildSpec{Projector: r.p.name, Version: r.p.Version(), Tables: r.p.tables,
		Lease: rebuildLease(r.p), Owner: r.opts.owner}
	if r.p.async {
		for part := range r.p.Partitions() {
			spec.Partitions = append(spec.Partitions, partitionName(r.p, part))
		}
	}
	sess, err := r.store.OpenRebuild(ctx, spec)
	if err != nil {
		return fmt.Errorf("es: rebuild %s: %w", r.p.name, err)
	}
	r.sess, r.mark = sess, sess.Resumed()
	r.tabs = newReplayTables(r.p.tables)
	if r.mark.Done > 0 {
		for _, d := range r.p.tables {
			if err := sess.Rows(ctx, d.Name, func(row Row) error { return r.tabs.load(d.Name, row) }); err != nil {
				return fmt.Errorf("es: rebuild %s: resume: %w", r.p.name, err)
			}
		}
	}
	if err := r.count(ctx); err != nil {
		return err
	}
	if err := r.phase(ctx, PhaseReplay); err != nil {
		return err
	}
	if err := r.follow(ctx); err != nil {
		return err
	}
	if err := r.phase(ctx, PhaseIndex); err != nil {
		return err
	}
	if err := sess.Index(ctx); err != nil {
		return fmt.Errorf("es: rebuild %s: index: %w", r.p.name, err)
	}
	if err := r.phase(ctx, PhaseCatchUp); err != nil {
		return err
	}
	if err := r.catchUp(ctx); err != nil {
		return err
	}
	if err := r.phase(ctx, PhaseSwap); err != nil {
		return err
	}
	if err := r.swap(ctx); err != nil {
		return err
	}
	r.mark.Phase = PhaseDone
	r.endPhaseWith(nil)
	r.logPhase()
	r.report()
	return nil
}

// catchUp follows the log until what is left fits the swap's budget. An
// inline projector's swap applies every committed event, also those the log's
// watermark holds back (a transaction in flight elsewhere on the server): while
// too many are held back, it waits for the watermark, up to swapWait, and then
// swaps all the same.
func (r *rebuild) catchUp(ctx context.Context) error {
	waited := time.Duration(0)
	for {
		before := r.mark.Done
		if err := r.follow(ctx); err != nil {
			return err
		}
		if err := r.count(ctx); err != nil {
			return err
		}
		left := r.mark.Total - r.mark.Done
		if !r.p.async {
			n, err := r.store.CountLog(ctx, r.mark.Cursor, r.types, true)
			if err != nil {
				return fmt.Errorf("es: rebuild %s: %w", r.p.name, err)
			}
			left = n
		}
		if left <= int64(r.opts.swapBudget) {
			return nil
		}
		if r.mark.Done > before {
			continue // progress: go on catching up
		}
		if waited >= swapWait {
			r.opts.log.Warn("rebuild swaps with more events than its budget: the log's watermark is held back by a transaction in flight",
				"projector", r.p.name, "version", r.p.Version(), "events", left, "budget", r.opts.swapBudget)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(swapPoll):
		}
		waited += swapPoll
	}
}

// How long, and how often, a rebuild waits for a watermark held back before it
// swaps with more events than its budget.
const (
	swapWait = 10 * time.Second
	swapPoll = 50 * time.Millisecond
)

// count sets the total: what is done plus what the log holds after the cursor.
func (r *rebuild) count(ctx context.Context) error {
	n, err := r.store.CountLog(ctx, r.mark.Cursor, r.types, false)
	if err != nil {
		return fmt.Errorf("es: rebuild %s: %w", r.p.name, err)
	}
	r.mark.Total = r.mark.Done + n
	return nil
}

// follow applies the log in chunks, each written with its mark, until a chunk
// comes back short: the end of the log, give or take the last moments' events.
//
// Three goroutines share the work, so that the database and both cores are
// busy: a reader reads the log and decodes the events (read), this one applies
// them to the replay tables, and each chunk's write to the shadow tables runs
// while the next chunk is applied. Writes are made one at a time and in order,
// so that the session is used by one goroutine at a time.
func (r *rebuild) follow(ctx context.Context) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ahead := make(chan struct{}, readAhead)
	batches := make(chan replayBatch, readAhead*(r.opts.chunk/readBatch+2))
	free := make(chan []decodedEvent, cap(batches)) // batches applied, for the reader to fill again
	read := make(chan struct{})
	go func() {
		defer close(read)
		r.read(rctx, r.mark.Cursor, ahead, batches, free)
	}()
	var (
		writing chan error  // the result of the write in flight, if any
		written RebuildMark // its mark
		count   int64       // and the events it adds
	)
	finish := func() error { // waits for the write in flight
		if writing == nil {
			return nil
		}
		err := <-writing
		writing = nil
		if p, ok := err.(goroutinePanic); ok {
			panic(p.value)
		}
		if err != nil {
			return fmt.Errorf("es: rebuild %s: write: %w", r.p.name, err)
		}
		r.mark, r.applied = written, r.applied+count
		r.report()
		return nil
	}
	// stop ends the reader and the write in flight; err is what stopped the
	// replay: a failing event or the log's read, recorded, or a write's failure.
	stop := func(err error, record bool) error {
		cancel()
		for range batches { // the reader may be sending
		}
		<-read
		if werr := finish(); werr != nil {
			return errors.Join(err, werr)
		}
		if record {
			return r.failed(ctx, err)
		}
		return err
	}
	next := r.mark // the mark once every chunk applied is written
	n := 0         // events of the current chunk applied
	for b := range batches {
		if b.panic != nil {
			_ = stop(nil, false)
			panic(b.panic.value)
		}
		for i := range b.events {
			e := &b.events[i]
			if err := r.applyDecoded(ctx, e.env, e.err); err != nil {
				return stop(err, true)
			}
		}
		if len(b.events) > 0 {
			next.Cursor = b.events[len(b.events)-1].env.Cursor()
			n += len(b.events)
			select {
			case free <- b.events:
			default:
			}
		}
		if !b.end {
			continue
		}
		<-ahead // the reader may read another chunk
		if b.err != nil {
			return stop(b.err, true)
		}
		if n > 0 {
			next.Done += int64(n)
			next.Total = max(next.Total, next.Done)
			if err := finish(); err != nil {
				return stop(err, false)
			}
			changes := r.tabs.changes()
			writing, written, count = make(chan error, 1), next, int64(n)
			go func(w chan<- error, mark RebuildMark) {
				defer func() {
					if p := recover(); p != nil {
						w <- goroutinePanic{p}
					}
				}()
				w <- r.sess.Write(ctx, rowChanges(changes), mark)
			}(writing, next)
		}
		if b.n < r.opts.chunk {
			return stop(nil, false)
		}
		n = 0
	}
	// The reader stopped in the middle of a chunk: the context ended.
	return stop(context.Cause(rctx), true)
}

// The reader of a rebuild runs ahead of the replay by at most readAhead
// chunks, in batches of readBatch events.
const (
	readAhead = 2
	readBatch = 256
)

// replayBatch is a run of the log as the reader hands it on: decoded events,
// and at the end of a chunk (one read of the log), how it ended.
type replayBatch struct {
	events []decodedEvent
	end    bool  // the chunk ends with this batch
	n      int   // with end: the events of the chunk
	err    error // with end: why reading stopped, if it failed
	// panic is the reader's panic (decoding), for the replay to panic with:
	// a panic in the reader or writer goroutine is raised where the caller of
	// the rebuild can recover it, as it could before they ran apart.
	panic *goroutinePanic
}

// goroutinePanic carries a panic from a goroutine of the replay to its own.
type goroutinePanic struct{ value any }

func (p goroutinePanic) Error() string { return fmt.Sprint("panic: ", p.value) }

// decodedEvent is a record of the log, decoded.
type decodedEvent struct {
	env Envelope // env.EventRecord is the record, also when decoding failed
	err error    // why decoding failed
}

// read reads the log after the cursor in chunks of r.opts.chunk events and
// sends them, decoded, until a chunk comes back short or fails. It takes a
// place in ahead before each chunk (the replay frees it once it has applied
// the chunk), so that the batches of the chunks it reads fit in out: it never
// waits with a read of the log open, which holds a connection. It fills the
// batches the replay hands back in free, if any.
func (r *rebuild) read(ctx context.Context, after Cursor, ahead chan<- struct{}, out chan<- replayBatch, free <-chan []decodedEvent) {
	defer close(out)
	defer func() {
		if p := recover(); p != nil {
			out <- replayBatch{panic: &goroutinePanic{p}} // out has room: see follow
		}
	}()
	batch := func() replayBatch {
		select {
		case events := <-free:
			return replayBatch{events: events[:0]}
		default:
			return replayBatch{events: make([]decodedEvent, 0, readBatch)}
		}
	}
	for {
		select {
		case ahead <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 0
		b := batch()
		err := r.store.StreamLog(ctx, after, r.types, r.opts.chunk, func(rec EventRecord) error {
			env, err := r.reg.Decode(rec)
			if err != nil {
				env = Envelope{EventRecord: rec}
			}
			b.events = append(b.events, decodedEvent{env: env, err: err})
			n++
			after = rec.Cursor()
			if len(b.events) == readBatch {
				out <- b
				b = batch()
			}
			return nil
		})
		b.end, b.n, b.err = true, n, err
		out <- b
		if err != nil || n < r.opts.chunk {
			return
		}
	}
}

// apply runs the projector's handler for one record on the replay tables.
func (r *rebuild) apply(ctx context.Context, rec EventRecord) error {
	env, err := r.reg.Decode(rec)
	if err != nil {
		env = Envelope{EventRecord: rec}
	}
	return r.applyDecoded(ctx, env, err)
}

// applyDecoded runs the projector's handler for one decoded record on the
// replay tables; err is why decoding failed.
func (r *rebuild) applyDecoded(ctx context.Context, env Envelope, err error) error {
	if err == nil {
		err = r.p.Apply(ctx, r.tabs, env)
	}
	if err != nil {
		rec := &env.EventRecord
		return &ProjectionFailure{Projection: r.p.name, At: rec.Cursor(), StreamID: rec.StreamID,
			Version: rec.Version, Type: rec.Type, Err: fmt.Errorf("rebuild to version %d: %w", r.p.Version(), err)}
	}
	return nil
}

// failed records a failing event as the rebuild's error, for its status.
func (r *rebuild) failed(ctx context.Context, err error) error {
	var f *ProjectionFailure
	if !errors.As(err, &f) {
		return fmt.Errorf("es: rebuild %s: read the log: %w", r.p.name, err)
	}
	if serr := r.sess.Fail(context.WithoutCancel(ctx), f.Error()); serr != nil {
		return errors.Join(f, serr)
	}
	r.opts.log.Error("rebuild stopped at a failing event", "projector", r.p.name, "version", r.p.Version(), "error", f)
	return f
}

// swap runs the store's swap; one that fails (a lock that could not be had in
// time) is tried again, with the replay tables as they were before it.
func (r *rebuild) swap(ctx context.Context) error {
	var err error
	for try := range 5 {
		r.tabs.savepoint()
		n := 0
		var to Cursor
		to, err = r.sess.Swap(ctx, r.types, r.mark, func(ctx context.Context, recs []EventRecord) ([]RowChange, error) {
			for _, rec := range recs {
				if err := r.apply(ctx, rec); err != nil {
					return nil, err
				}
			}
			n = len(recs)
			return rowChanges(r.tabs.changes()), nil
		})
		if err == nil {
			r.tabs.release()
			r.mark.Cursor, r.mark.Done = to, r.mark.Done+int64(n)
			r.mark.Total = max(r.mark.Total, r.mark.Done)
			r.applied += int64(n)
			return nil
		}
		r.tabs.rollback()
		if _, failed := errors.AsType[*ProjectionFailure](err); failed {
			return r.failed(ctx, err)
		}
		if errors.Is(err, ErrLeaseLost) || ctx.Err() != nil {
			break
		}
		r.opts.log.Warn("rebuild swap failed, trying again", "projector", r.p.name, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try+1) * 100 * time.Millisecond):
		}
	}
	return fmt.Errorf("es: rebuild %s: swap: %w", r.p.name, err)
}

// phase records that the rebuild enters phase, for its status, and says so.
func (r *rebuild) phase(ctx context.Context, phase string) error {
	r.mark.Phase = phase
	if err := r.sess.Write(ctx, nil, r.mark); err != nil {
		return fmt.Errorf("es: rebuild %s: %w", r.p.name, err)
	}
	if r.opts.obs != nil {
		r.endPhaseWith(nil)
		r.endPhase = r.opts.obs.StartRebuildPhase(ctx, r.progress())
	}
	r.logPhase()
	r.report()
	return nil
}

// logPhase writes the one log line of a phase.
func (r *rebuild) logPhase() {
	r.opts.log.Info("rebuilding projector", "projector", r.p.name, "version", r.p.Version(), "phase", r.mark.Phase,
		"done", r.mark.Done, "total", r.mark.Total, "rate", int64(r.rate()))
}

func (r *rebuild) rate() float64 {
	if secs := time.Since(r.started).Seconds(); secs > 0 {
		return float64(r.applied) / secs
	}
	return 0
}

func (r *rebuild) report() {
	if r.opts.progress != nil {
		r.opts.progress(r.progress())
	}
	if r.opts.obs != nil {
		r.opts.obs.RebuildProgressed(r.progress())
	}
}

func (r *rebuild) progress() RebuildProgress {
	return RebuildProgress{Projector: r.p.name, Version: r.p.Version(), Done: r.mark.Done,
		Total: max(r.mark.Total, r.mark.Done), Rate: r.rate(), Phase: r.mark.Phase}
}

// endPhaseWith tells the observer that the phase under way ended, with err.
func (r *rebuild) endPhaseWith(err error) {
	if r.endPhase != nil {
		r.endPhase(RebuildEnd{Progress: r.progress(), Err: err})
		r.endPhase = nil
	}
}
