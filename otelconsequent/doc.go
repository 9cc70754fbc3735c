// Package otelconsequent traces and measures a Consequent application with
// OpenTelemetry. Package es imports no telemetry library: it calls an
// [es.Observer], and this package's [Observer] turns those calls into spans
// and metrics. It uses the OpenTelemetry API only; the application chooses the
// SDK and exporters.
//
// # Setup
//
// Build one Observer from a tracer and a meter provider, give it to the
// command service and to projection workers, and add [Middleware] to the
// registry:
//
//	obs := otelconsequent.New(tracerProvider, meterProvider)
//	reg := es.NewRegistry()
//	blog.Register(reg)
//	reg.Use(otelconsequent.Middleware())
//	svc, err := es.NewCommandService(ctx, reg, store, es.Options{Observer: obs})
//	worker, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Observer: obs})
//	lag, err := otelconsequent.ObserveLag(meterProvider.Meter("blog"), worker)
//
// Without an Observer, es calls nothing and allocates nothing for telemetry.
//
// # Spans
//
// Names are low-cardinality: a command's type, a projector's or an aggregate
// type's name.
//
//	<command type>            one command: middleware, handler, commit, retries
//	                          (consequent.command.type, .id, .outcome, .events, .conflicts)
//	  load <aggregate type>   an aggregate rebuilt from the store (consequent.aggregate.type, .id,
//	                          .version, consequent.load.events, consequent.load.snapshot)
//	  commit <command type>   one commit, inline projectors included (consequent.commit.streams, .events)
//	project <projector>       one batch of an async projector (consumer; consequent.projector.name,
//	                          consequent.projection.name, messaging.batch.message_count)
//	rebuild <projector>       a rebuild of a projector's tables, with one child per phase:
//	  replay|index|catch-up|swap <projector>
//
// A command that a workflow issued is a command span like the others, with
// consequent.workflow.name and the event it reacted to (consequent.event.id,
// consequent.event.type). A failed operation has status Error and error.type
// (conflict, panic, no_handler, canceled, …); a refused command (invalid
// input, a rule of the domain) records the refusal as an event, and its
// status stays unset: it is the command's answer, not a fault.
//
// # Linking across processes
//
// A projector batch or a workflow command may run long after the command
// that recorded its events, in another process: it cannot be a child of that
// command's span. [Middleware] stores the command span's W3C trace context
// (traceparent, tracestate) in the command's metadata ([es.SetMetadata]), so
// the command record and every event carry it; the batch's span links
// (trace.Link) to the span of each command whose events it applies, and a
// workflow command's span to the command that recorded the event it reacts
// to. [Recorded] reads the stored context back, for code of one's own.
//
// # Metrics
//
//	consequent.commands                 counter {command}: by consequent.command.type, .outcome (and error.type when failed)
//	consequent.command.duration         histogram, s: the same attributes
//	consequent.command.conflicts        counter {conflict}: by consequent.command.type
//	consequent.events.appended          counter {event}: by consequent.event.type
//	consequent.projector.events         counter {event}: applied by async projectors, by projector and projection
//	consequent.projector.lag.events     gauge {event}: see [ObserveLag]
//	consequent.projector.lag.duration   gauge, s: see [ObserveLag]
//	consequent.rebuild.progress         gauge, 1: done/total of each rebuild this process ran, by projector and version
//	consequent.rebuild.events.done      gauge {event}
//	consequent.rebuild.events.total     gauge {event}
//
// OpenTelemetry's semantic conventions have no names for commands and
// projections, so these are consequent.*; error.type and the messaging batch
// attributes follow the conventions.
package otelconsequent
