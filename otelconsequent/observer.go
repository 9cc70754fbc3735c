package otelconsequent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/consequent/consequent/es"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/consequent/consequent/otelconsequent"

// Attribute keys, on spans and metrics.
const (
	keyCommandType       = attribute.Key("consequent.command.type")
	keyCommandID         = attribute.Key("consequent.command.id")
	keyCommandOutcome    = attribute.Key("consequent.command.outcome")
	keyCommandConflicts  = attribute.Key("consequent.command.conflicts")
	keyCommandEvents     = attribute.Key("consequent.command.events")
	keyWorkflow          = attribute.Key("consequent.workflow.name")
	keyEventID           = attribute.Key("consequent.event.id")
	keyEventType         = attribute.Key("consequent.event.type")
	keyAggregateType     = attribute.Key("consequent.aggregate.type")
	keyAggregateID       = attribute.Key("consequent.aggregate.id")
	keyAggregateVersion  = attribute.Key("consequent.aggregate.version")
	keyAggregateFound    = attribute.Key("consequent.aggregate.found")
	keyLoadEvents        = attribute.Key("consequent.load.events")
	keyLoadSnapshot      = attribute.Key("consequent.load.snapshot")
	keyCommitStreams     = attribute.Key("consequent.commit.streams")
	keyCommitEvents      = attribute.Key("consequent.commit.events")
	keyProjector         = attribute.Key("consequent.projector.name")
	keyProjectorVersion  = attribute.Key("consequent.projector.version")
	keyProjection        = attribute.Key("consequent.projection.name")
	keyRebuildPhase      = attribute.Key("consequent.rebuild.phase")
	keyRebuildDone       = attribute.Key("consequent.rebuild.done")
	keyRebuildTotal      = attribute.Key("consequent.rebuild.total")
	keyErrorType         = attribute.Key("error.type")                    // semantic conventions
	keyBatchMessageCount = attribute.Key("messaging.batch.message_count") // semantic conventions
	keyOperationType     = attribute.Key("messaging.operation.type")      // semantic conventions
)

// Observer is an [es.Observer] that records spans and metrics with
// OpenTelemetry; it implements every optional interface of es ([es.LoadObserver],
// [es.CommitObserver], [es.BatchObserver], [es.RebuildObserver]). Build it with
// [New]. It is safe for concurrent use.
type Observer struct {
	tracer trace.Tracer

	commands  metric.Int64Counter
	duration  metric.Float64Histogram
	conflicts metric.Int64Counter
	appended  metric.Int64Counter
	projected metric.Int64Counter

	mu       sync.Mutex
	rebuilds map[rebuildKey]es.RebuildProgress // the last progress of each rebuild
}

type rebuildKey struct {
	projector string
	version   int
}

var _ interface {
	es.Observer
	es.LoadObserver
	es.CommitObserver
	es.BatchObserver
	es.RebuildObserver
} = (*Observer)(nil)

// New returns an Observer that records spans with tp and metrics with mp (nil:
// the global providers, otel.GetTracerProvider and otel.GetMeterProvider).
// Set it in [es.Options.Observer] and [es.WorkerOptions.Observer], and add
// [Middleware] to the registry so that the spans of projector batches and
// workflow commands link to the trace of the command that recorded their
// events. An instrument that cannot be created is reported to otel.Handle;
// the others work.
func New(tp trace.TracerProvider, mp metric.MeterProvider) *Observer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &Observer{tracer: tp.Tracer(ScopeName), rebuilds: map[rebuildKey]es.RebuildProgress{}}
	m := mp.Meter(ScopeName)
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	o.commands, err = m.Int64Counter("consequent.commands", metric.WithUnit("{command}"),
		metric.WithDescription("Commands executed, by type and outcome (committed, refused, failed)."))
	add(err)
	o.duration, err = m.Float64Histogram("consequent.command.duration", metric.WithUnit("s"),
		metric.WithDescription("How long commands took to execute: middleware, handler, commit, conflict retries."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	add(err)
	o.conflicts, err = m.Int64Counter("consequent.command.conflicts", metric.WithUnit("{conflict}"),
		metric.WithDescription("Commits that failed with a concurrency conflict, by command type."))
	add(err)
	o.appended, err = m.Int64Counter("consequent.events.appended", metric.WithUnit("{event}"),
		metric.WithDescription("Events stored by commands, by event type."))
	add(err)
	o.projected, err = m.Int64Counter("consequent.projector.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events applied by async projectors, by projection."))
	add(err)
	add(o.observeRebuilds(m))
	if err := errors.Join(errs...); err != nil {
		otel.Handle(err)
	}
	return o
}

// StartCommand starts the span of one command, named by its type, and
// records its metrics when it ends. A command a workflow issued links to the
// span of the command that recorded the event it reacts to.
func (o *Observer) StartCommand(ctx context.Context, c es.CommandStart) (context.Context, func(es.CommandEnd)) {
	start := time.Now()
	typ := keyCommandType.String(c.Type)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(typ)}
	if c.Cause != nil {
		opts = append(opts, trace.WithAttributes(keyWorkflow.String(c.Workflow),
			keyEventID.String(c.Cause.ID.String()), keyEventType.String(c.Cause.Type)))
		if sc := Recorded(c.Cause.Metadata); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{
				keyEventID.String(c.Cause.ID.String()), keyEventType.String(c.Cause.Type)}}))
		}
	}
	ctx, span := o.tracer.Start(ctx, c.Type, opts...)
	return ctx, func(e es.CommandEnd) {
		outcome := keyCommandOutcome.String(string(e.Outcome))
		attrs := []attribute.KeyValue{typ, outcome}
		if e.Outcome == es.OutcomeFailed {
			attrs = append(attrs, keyErrorType.String(errorType(e.Err)))
		}
		if span.IsRecording() {
			span.SetAttributes(outcome, keyCommandEvents.Int(len(e.Events)), keyCommandConflicts.Int(e.Conflicts))
			if e.ID != uuid.Nil {
				span.SetAttributes(keyCommandID.String(e.ID.String()))
			}
			if e.Err != nil {
				span.RecordError(e.Err)
				if e.Outcome != es.OutcomeRefused { // a refusal is the command's answer, not a fault
					span.SetAttributes(keyErrorType.String(errorType(e.Err)))
					span.SetStatus(codes.Error, e.Err.Error())
				}
			}
		}
		span.End()

		set := metric.WithAttributeSet(attribute.NewSet(attrs...))
		o.commands.Add(ctx, 1, set)
		o.duration.Record(ctx, time.Since(start).Seconds(), set)
		if e.Conflicts > 0 {
			o.conflicts.Add(ctx, int64(e.Conflicts), metric.WithAttributes(typ))
		}
		o.countEvents(ctx, e.Events)
	}
}

// countEvents adds events to the appended counter, one addition per type.
func (o *Observer) countEvents(ctx context.Context, events []es.Envelope) {
	for i, e := range events {
		seen := false
		for _, f := range events[:i] {
			if f.Type == e.Type {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		n := 0
		for _, f := range events[i:] {
			if f.Type == e.Type {
				n++
			}
		}
		o.appended.Add(ctx, int64(n), metric.WithAttributes(keyEventType.String(e.Type)))
	}
}

// StartLoad starts a span "load <aggregate type>" for an aggregate rebuilt from
// the store. A missing aggregate is not an error of the span: it is how
// handlers find out that they create one.
func (o *Observer) StartLoad(ctx context.Context, l es.LoadStart) (context.Context, func(es.LoadEnd)) {
	ctx, span := o.tracer.Start(ctx, "load "+l.AggregateType, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(keyAggregateType.String(l.AggregateType), keyAggregateID.String(l.ID.String())))
	return ctx, func(e es.LoadEnd) {
		if span.IsRecording() {
			span.SetAttributes(keyLoadEvents.Int(e.Events), keyAggregateVersion.Int64(e.Version))
			if e.Snapshot > 0 {
				span.SetAttributes(keyLoadSnapshot.Int64(e.Snapshot))
			}
			switch {
			case errors.Is(e.Err, es.ErrAggregateNotFound):
				span.SetAttributes(keyAggregateFound.Bool(false))
			case e.Err != nil:
				fail(span, e.Err)
			}
		}
		span.End()
	}
}

// StartCommit starts a span "commit <command type>" for one commit of a
// command's unit of work (inline projectors run in it).
func (o *Observer) StartCommit(ctx context.Context, c *es.Commit) (context.Context, func(es.CommitEnd)) {
	events := 0
	for _, s := range c.Streams {
		events += len(s.Events)
	}
	ctx, span := o.tracer.Start(ctx, "commit "+c.Command.Type, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(keyCommandType.String(c.Command.Type), keyCommandID.String(c.Command.ID.String()),
			keyCommitStreams.Int(len(c.Streams)), keyCommitEvents.Int(events)))
	return ctx, func(e es.CommitEnd) {
		if e.Err != nil {
			fail(span, e.Err)
		}
		span.End()
	}
}

// maxLinks bounds the links of a batch's span (the SDK's default limit).
const maxLinks = 128

// StartBatch starts a span "project <projector>" for one batch of an async
// projector, a consumer span linked to the span of each distinct command
// whose events it applies (through the trace context [Middleware] stored in
// the events' metadata).
func (o *Observer) StartBatch(ctx context.Context, b es.BatchStart) (context.Context, func(es.BatchEnd)) {
	var links []trace.Link
	for _, rec := range b.Events {
		if len(links) == maxLinks {
			break
		}
		sc := Recorded(rec.Metadata)
		if !sc.IsValid() || linked(links, sc) {
			continue
		}
		links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{keyCommandID.String(rec.CommandID.String())}})
	}
	ctx, span := o.tracer.Start(ctx, "project "+b.Projector, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
		trace.WithAttributes(keyProjector.String(b.Projector), keyProjection.String(b.Projection), keyProjectorVersion.Int(b.Version),
			keyBatchMessageCount.Int(len(b.Events)), keyOperationType.String("process")))
	return ctx, func(e es.BatchEnd) {
		if e.Err != nil {
			fail(span, e.Err)
		} else {
			o.projected.Add(ctx, int64(len(b.Events)), metric.WithAttributes(keyProjector.String(b.Projector), keyProjection.String(b.Projection)))
		}
		span.End()
	}
}

func linked(links []trace.Link, sc trace.SpanContext) bool {
	for _, l := range links {
		if l.SpanContext.Equal(sc) {
			return true
		}
	}
	return false
}

// StartRebuild starts a span "rebuild <projector>", the parent of its phases'.
func (o *Observer) StartRebuild(ctx context.Context, p es.RebuildProgress) (context.Context, func(es.RebuildEnd)) {
	ctx, span := o.tracer.Start(ctx, "rebuild "+p.Projector, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(keyProjector.String(p.Projector), keyProjectorVersion.Int(p.Version)))
	return ctx, func(e es.RebuildEnd) {
		o.RebuildProgressed(e.Progress)
		endRebuildSpan(span, e)
	}
}

// StartRebuildPhase starts a span "<phase> <projector>" (replay, index,
// catch-up, swap).
func (o *Observer) StartRebuildPhase(ctx context.Context, p es.RebuildProgress) func(es.RebuildEnd) {
	_, span := o.tracer.Start(ctx, p.Phase+" "+p.Projector, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(keyProjector.String(p.Projector), keyProjectorVersion.Int(p.Version), keyRebuildPhase.String(p.Phase)))
	return func(e es.RebuildEnd) { endRebuildSpan(span, e) }
}

func endRebuildSpan(span trace.Span, e es.RebuildEnd) {
	span.SetAttributes(keyRebuildDone.Int64(e.Progress.Done), keyRebuildTotal.Int64(e.Progress.Total))
	if e.Err != nil {
		fail(span, e.Err)
	}
	span.End()
}

// RebuildProgressed keeps the rebuild's progress for the rebuild gauges.
func (o *Observer) RebuildProgressed(p es.RebuildProgress) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rebuilds[rebuildKey{p.Projector, p.Version}] = p
}

// observeRebuilds registers the rebuild gauges: each rebuild this process ran
// reports its last progress.
func (o *Observer) observeRebuilds(m metric.Meter) error {
	progress, err1 := m.Float64ObservableGauge("consequent.rebuild.progress", metric.WithUnit("1"),
		metric.WithDescription("How far the rebuilds of projectors' tables are: events done / events to apply (1 when done)."))
	done, err2 := m.Int64ObservableGauge("consequent.rebuild.events.done", metric.WithUnit("{event}"),
		metric.WithDescription("Events a rebuild applied so far."))
	total, err3 := m.Int64ObservableGauge("consequent.rebuild.events.total", metric.WithUnit("{event}"),
		metric.WithDescription("Events a rebuild has to apply (it grows while the rebuild catches up)."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	_, err := m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		for k, p := range o.rebuilds {
			set := metric.WithAttributeSet(attribute.NewSet(keyProjector.String(k.projector), keyProjectorVersion.Int(k.version)))
			ratio := 0.0
			switch {
			case p.Phase == es.PhaseDone:
				ratio = 1
			case p.Total > 0:
				ratio = float64(p.Done) / float64(p.Total)
			}
			obs.ObserveFloat64(progress, ratio, set)
			obs.ObserveInt64(done, p.Done, set)
			obs.ObserveInt64(total, p.Total, set)
		}
		return nil
	}, progress, done, total)
	return err
}

// fail marks span as failed with err.
func fail(span trace.Span, err error) {
	span.RecordError(err)
	span.SetAttributes(keyErrorType.String(errorType(err)))
	span.SetStatus(codes.Error, err.Error())
}

// errorType names the class of a failure, for error.type: a short,
// low-cardinality value.
func errorType(err error) string {
	if _, ok := errors.AsType[*es.PanicError](err); ok {
		return "panic"
	}
	if _, ok := errors.AsType[*es.UniqueKeyError](err); ok {
		return "unique_key"
	}
	if _, ok := errors.AsType[*es.ValidationError](err); ok {
		return "validation"
	}
	switch {
	case errors.Is(err, es.ErrConcurrencyConflict):
		return "conflict"
	case errors.Is(err, es.ErrNoHandler):
		return "no_handler"
	case errors.Is(err, es.ErrLeaseLost):
		return "lease_lost"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	if _, ok := errors.AsType[*es.ProjectionFailure](err); ok {
		return "projection"
	}
	return "_OTHER"
}
