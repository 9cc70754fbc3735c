package otelconsequent_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/otelconsequent"
)

// An application traced with OpenTelemetry: each command is a span, its loads
// and commit are children, and its events carry its trace context.
func Example() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder() // an application sets an exporter here
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	obs := otelconsequent.New(tp, nil) // nil: the global meter provider

	reg := es.NewRegistry()
	RegisterBank(reg) // the application's aggregates, events and command handlers
	reg.Use(otelconsequent.Middleware())
	store := memstore.New()
	svc, err := es.NewCommandService(ctx, reg, store, es.Options{Observer: obs})
	if err != nil {
		panic(err)
	}
	id := uuid.New()
	_, _ = svc.Execute(ctx, OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"})
	_, _ = svc.Execute(ctx, Deposit{ID: id, Amount: 5})

	for _, s := range spans.Ended() {
		fmt.Printf("%-20s parent: %s\n", s.Name(), parentName(spans.Ended(), s))
	}
	history, _ := svc.History(ctx, id)
	fmt.Println("the deposit's trace:", otelconsequent.Recorded(history[1].Metadata).SpanID() == spans.Ended()[4].SpanContext().SpanID())

	// Output:
	// commit bank.OpenAccount parent: bank.OpenAccount
	// bank.OpenAccount     parent: -
	// load bank.Account    parent: bank.Deposit
	// commit bank.Deposit  parent: bank.Deposit
	// bank.Deposit         parent: -
	// the deposit's trace: true
}

func parentName(spans []sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan) string {
	for _, p := range spans {
		if p.SpanContext().SpanID() == s.Parent().SpanID() {
			return p.Name()
		}
	}
	return "-"
}
