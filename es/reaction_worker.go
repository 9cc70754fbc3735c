package es

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
)

// reactorBatch bounds the events a durable workflow or subscription handles
// between two checkpoints: what it may see again after a crash.
const reactorBatch = 100

// stepReactor handles the next batch of a durable workflow's or a
// subscription's events and returns how many it is done with.
func (w *ProjectionWorker) stepReactor(ctx context.Context, j *projectionJob) (int, error) {
	leased := time.Now()
	held, err := w.store.Lease(ctx, j.name, w.opts.Owner, w.opts.LeaseTTL)
	if err != nil {
		return 0, err
	}
	if !held {
		j.resumed.Store(false)
		return 0, errNotOwner
	}
	st, err := w.store.Projection(ctx, j.name)
	if err != nil {
		return 0, err
	}
	if st.Failed {
		return 0, &ProjectionFailure{Projection: j.name, At: st.FailedAt, Err: errors.New(st.Error)}
	}
	if j.r.resume != nil && !j.resumed.Load() {
		last, err := j.r.resume(ctx)
		if err != nil {
			return 0, fmt.Errorf("es: %s: find where to resume: %w", j.name, err)
		}
		if st.Checkpoint.Before(last) {
			if err := w.checkpoint(ctx, j, last); err != nil {
				return 0, err
			}
			w.log.Info("resumed after the last event the other side holds", "job", j.name, "from", st.Checkpoint, "to", last)
			st.Checkpoint = last
		}
		j.resumed.Store(true)
	}
	recs, err := w.store.ReadPartition(ctx, st.Checkpoint, min(w.opts.BatchSize, reactorBatch), j.part, j.of)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	if j.r.batch != nil {
		return w.reactBatch(ctx, j, recs)
	}
	for i, rec := range recs {
		if !j.r.handles(rec.Type) {
			continue
		}
		if i > 0 && time.Since(leased) > w.opts.LeaseTTL/3 { // slow handlers: keep what is done, and the lease
			if err := w.checkpoint(ctx, j, recs[i-1].Cursor()); err != nil {
				return i, err
			}
			leased = time.Now()
			if held, err := w.store.Lease(ctx, j.name, w.opts.Owner, w.opts.LeaseTTL); err != nil || !held {
				return i, errors.Join(err, errNotOwner)
			}
		}
		herr := w.react(ctx, j, rec)
		if herr == nil {
			continue
		}
		if i > 0 { // the events before it are done
			if err := w.checkpoint(ctx, j, recs[i-1].Cursor()); err != nil {
				return 0, err
			}
		}
		if ctx.Err() != nil {
			return i, ctx.Err()
		}
		if err := w.retryReaction(ctx, j, rec, herr); err != nil {
			return i, err
		}
		return i + 1, nil
	}
	if err := w.checkpoint(ctx, j, recs[len(recs)-1].Cursor()); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// reactBatch hands the events of recs that the job takes to its batch
// handler at once, then moves the checkpoint past what it is done with; the
// first event it is not done with is retried alone.
func (w *ProjectionWorker) reactBatch(ctx context.Context, j *projectionJob, recs []EventRecord) (int, error) {
	var (
		envs   []Envelope
		at     []int // index in recs of each of envs
		failed = -1  // an event that does not decode: the batch stops before it
		herr   error
	)
	for i, rec := range recs {
		if !j.r.handles(rec.Type) {
			continue
		}
		env := Envelope{EventRecord: rec}
		if !j.r.raw {
			if env, herr = w.reg.Decode(rec); herr != nil {
				failed = i
				break
			}
		}
		envs, at = append(envs, env), append(at, i)
	}
	if len(envs) > 0 {
		done, err := w.callBatch(ctx, j, envs)
		if err != nil {
			failed, herr = at[min(max(done, 0), len(at)-1)], err
		}
	}
	if failed < 0 {
		return len(recs), w.checkpoint(ctx, j, recs[len(recs)-1].Cursor())
	}
	if failed > 0 {
		if err := w.checkpoint(ctx, j, recs[failed-1].Cursor()); err != nil {
			return 0, err
		}
	}
	if ctx.Err() != nil {
		return failed, ctx.Err()
	}
	if err := w.retryReaction(ctx, j, recs[failed], herr); err != nil {
		return failed, err
	}
	return failed + 1, nil
}

// callBatch calls a batch handler; a panic becomes a [*PanicError] at the
// batch's first event.
func (w *ProjectionWorker) callBatch(ctx context.Context, j *projectionJob, envs []Envelope) (done int, err error) {
	defer func() {
		if p := recover(); p != nil {
			done, err = 0, fmt.Errorf("%s: a batch from %s of stream %s version %d: %w", j.name, envs[0].Type, envs[0].StreamID, envs[0].Version, &PanicError{Value: p, Stack: debug.Stack()})
		}
	}()
	done, err = j.r.batch(ctx, envs)
	if err == nil && done < len(envs) {
		err = fmt.Errorf("%s: the handler is done with %d of a batch of %d events, and says nothing of the rest", j.name, done, len(envs))
	}
	return done, err
}

// checkpoint moves a reactor job's checkpoint to c, under its lease.
func (w *ProjectionWorker) checkpoint(ctx context.Context, j *projectionJob, c Cursor) error {
	return w.store.Advance(ctx, j.name, w.opts.Owner, c, 1, func(context.Context, Persistor) error { return nil })
}

// react calls a reactor job's handler with one event; a panic becomes a
// [*PanicError].
func (w *ProjectionWorker) react(ctx context.Context, j *projectionJob, rec EventRecord) (err error) {
	env := Envelope{EventRecord: rec}
	if !j.r.raw {
		if env, err = w.reg.Decode(rec); err != nil {
			return err
		}
	}
	if j.r.batch != nil {
		_, err := w.callBatch(ctx, j, []Envelope{env})
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: %s of stream %s version %d: %w", j.name, rec.Type, rec.StreamID, rec.Version, &PanicError{Value: p, Stack: debug.Stack()})
		}
	}()
	return j.r.handle(ctx, env)
}

// retryReaction handles one failing event again with backoff; when it keeps
// failing, the job is stopped at it. On success the checkpoint moves past it.
func (w *ProjectionWorker) retryReaction(ctx context.Context, j *projectionJob, rec EventRecord, err error) error {
	err = w.retryEvent(ctx, j, rec, err, func() (bool, error) {
		if err := w.react(ctx, j, rec); err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			return false, err
		}
		return true, w.checkpoint(ctx, j, rec.Cursor())
	})
	if _, stopped := errors.AsType[*ProjectionFailure](err); stopped {
		j.resumed.Store(false) // after a resume, ask the other side again where it stands
	}
	return err
}

// durableHandler is the handler of a durable workflow's job: it runs the
// workflow on the event, executes the commands it issued, each under its
// derived id (so that one executed before, by an earlier attempt, is done),
// then stores what it scheduled.
func durableHandler(svc *CommandService, wf *Workflow) func(context.Context, Envelope) error {
	return func(ctx context.Context, env Envelope) error {
		r := &Reaction{clock: svc.rt.clock, ids: svc.rt.ids, workflow: wf.name, event: env.ID}
		a, err := wf.plan(ctx, r, env)
		if err != nil {
			return err
		}
		for i, cmd := range a.Commands {
			meta := execMeta{commandID: a.CommandIDs[i], userID: env.UserID, correlation: env.CorrelationID,
				causation: env.ID, metadata: env.Metadata}
			res, err := svc.Execute(ctx, cmd, withMeta(meta))
			switch {
			case errors.Is(err, ErrDuplicateCommand): // an earlier attempt executed it
			case err != nil:
				return &WorkflowError{Workflow: wf.name, Event: env, Command: cmd, Err: err}
			case res.Err() != nil:
				svc.rt.opts.Logger.Warn("a durable workflow's command committed, but what followed it failed",
					"workflow", wf.name, "command", fmt.Sprintf("%T", cmd), "error", res.Err())
			}
		}
		if err := svc.rt.storeSchedules(ctx, env, a); err != nil {
			return &WorkflowError{Workflow: wf.name, Event: env, Err: err}
		}
		return nil
	}
}

func withMeta(m execMeta) ExecOption { return func(dst *execMeta) { *dst = m } }

// schedulerName is the lease under which one worker at a time runs the
// scheduled commands.
const schedulerName = "scheduler"

// runSchedule runs the scheduled commands as they come due, until ctx is done.
func (w *ProjectionWorker) runSchedule(ctx context.Context, wake <-chan struct{}) {
	for ctx.Err() == nil {
		n, err := w.stepSchedule(ctx)
		switch {
		case err != nil && !errors.Is(err, errNotOwner) && ctx.Err() == nil:
			w.log.Warn("scheduled commands: step failed", "error", err)
		case err == nil && n == w.opts.BatchSize:
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(w.opts.PollMax):
		}
	}
}

// stepSchedule executes the scheduled commands due now on the service's
// clock, at most a batch, and returns how many it ran or parked.
func (w *ProjectionWorker) stepSchedule(ctx context.Context) (int, error) {
	leased := time.Now()
	held, err := w.store.Lease(ctx, schedulerName, w.opts.Owner, w.opts.LeaseTTL)
	if err != nil {
		return 0, err
	}
	if !held {
		return 0, errNotOwner
	}
	svc := w.opts.Service
	due, err := w.sched.Scheduled(ctx, ScheduleQuery{DueBy: svc.rt.clock.Now(), Limit: w.opts.BatchSize})
	if err != nil {
		return 0, err
	}
	for i, sc := range due {
		if time.Since(leased) > w.opts.LeaseTTL/3 { // a long batch: keep the lease
			leased = time.Now()
			if held, err := w.store.Lease(ctx, schedulerName, w.opts.Owner, w.opts.LeaseTTL); err != nil || !held {
				return i, errors.Join(err, errNotOwner)
			}
		}
		cmd, err := w.reg.DecodeCommand(CommandRecord{ID: sc.ID, Type: sc.Type, Data: sc.Data})
		if err == nil {
			err = w.runScheduled(ctx, sc, cmd)
			backoff := w.opts.RetryBackoff
			for range w.opts.Retries {
				if err == nil || ctx.Err() != nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff *= 2
				err = w.runScheduled(ctx, sc, cmd)
			}
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err != nil {
			w.log.Error("a scheduled command keeps failing: parked", "command", sc.Type, "key", sc.Key, "id", sc.ID, "error", err)
			if err := w.sched.SetScheduleFailure(ctx, sc.ID, err.Error()); err != nil {
				return 0, err
			}
		}
	}
	return len(due), nil
}

// runScheduled executes one scheduled command under its id; its commit
// removes its schedule.
func (w *ProjectionWorker) runScheduled(ctx context.Context, sc ScheduledCommand, cmd any) error {
	meta := execMeta{commandID: sc.ID, scheduled: true, userID: sc.UserID, correlation: sc.CorrelationID,
		causation: sc.CausationID, metadata: sc.Metadata}
	res, err := w.opts.Service.Execute(ctx, cmd, withMeta(meta))
	switch {
	case errors.Is(err, ErrDuplicateCommand): // it ran before: only its schedule is left
		return w.sched.Unschedule(ctx, sc.ID)
	case err != nil:
		return err
	case res.Err() != nil:
		w.log.Warn("a scheduled command committed, but what followed it failed", "command", sc.Type, "error", res.Err())
	}
	return nil
}

// ResumeScheduled clears the failure of a parked scheduled command, so that
// it runs again.
func (w *ProjectionWorker) ResumeScheduled(ctx context.Context, id uuid.UUID) error {
	if w.sched == nil {
		return errors.New("es: this worker runs no scheduled commands (it has no WorkerOptions.Service, or its store cannot schedule)")
	}
	if err := w.sched.SetScheduleFailure(ctx, id, ""); err != nil {
		return err
	}
	w.Notify()
	return nil
}

// SkipTo moves the checkpoint of every durable workflow and subscription of
// the worker that is before c to c, so that they never handle the events up
// to c: for a new subscription that starts from the present, and for specs
// whose given history must not be reacted to. Async projectors are left
// alone (their tables need every event).
func (w *ProjectionWorker) SkipTo(ctx context.Context, c Cursor) error {
	for _, j := range w.jobs {
		if j.r == nil {
			continue
		}
		for {
			held, err := w.store.Lease(ctx, j.name, w.opts.Owner, w.opts.LeaseTTL)
			if err != nil {
				return err
			}
			if held {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(w.opts.PollMin):
			}
		}
		st, err := w.store.Projection(ctx, j.name)
		if err != nil {
			return err
		}
		if st.Checkpoint.Before(c) {
			if err := w.checkpoint(ctx, j, c); err != nil {
				return err
			}
		}
	}
	return nil
}
