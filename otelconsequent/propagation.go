package otelconsequent

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/consequent/consequent/es"
)

// The metadata keys under which [Middleware] stores a command's trace
// context: the W3C Trace Context header names.
const (
	TraceParentKey = "traceparent"
	TraceStateKey  = "tracestate"
)

var w3c propagation.TraceContext

// Middleware returns command middleware that stores the trace context of the
// span in the command's context in the command's metadata ([es.SetMetadata]),
// as the W3C traceparent and tracestate: the command record and each of its
// events carry it. With an [Observer] set, that span is the command's own;
// without one, it is the caller's (an HTTP request's, say), and a command
// without a span stores nothing.
//
// Projector batches and workflow commands then link their spans to the trace
// that recorded the events they handle, even in another process, hours later:
// see [Recorded].
//
//	reg.Use(otelconsequent.Middleware())
func Middleware() es.Middleware {
	return func(next es.HandlerFunc) es.HandlerFunc {
		return func(ctx context.Context, cmd any) error {
			if trace.SpanContextFromContext(ctx).IsValid() {
				w3c.Inject(ctx, metadataCarrier{ctx})
			}
			return next(ctx, cmd)
		}
	}
}

// metadataCarrier writes a propagator's fields into the command's metadata.
type metadataCarrier struct{ ctx context.Context }

func (c metadataCarrier) Get(string) string     { return "" }
func (c metadataCarrier) Set(key, value string) { es.SetMetadata(c.ctx, key, value) }
func (c metadataCarrier) Keys() []string        { return nil }

// Recorded returns the span context that [Middleware] stored in an event's or
// a command record's metadata (remote, for a link), or an invalid one when
// there is none.
func Recorded(metadata map[string]string) trace.SpanContext {
	if metadata[TraceParentKey] == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), propagation.MapCarrier(metadata)))
}
