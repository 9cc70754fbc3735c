package otelconsequent_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/otelconsequent"
)

var (
	typeIs    = attribute.Key("consequent.command.type").String
	outcomeIs = attribute.Key("consequent.command.outcome").String
)

// traceparent is the W3C traceparent of a span context.
func traceparent(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

var _ = Describe("the Observer", func() {
	It("traces a command under the caller's span, with its loads and its commit as children", func() {
		b := newBank(false, es.Options{})
		id := uuid.New()
		ctx, request := b.t.tp.Tracer("spec").Start(b.ctx, "POST /deposits")
		Expect(b.svc.Execute(ctx, OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"})).To(estest.Committed())
		Expect(b.svc.Execute(ctx, Deposit{ID: id, Amount: 5})).To(estest.Committed())
		request.End()

		history, err := b.svc.History(b.ctx, id)
		Expect(err).NotTo(HaveOccurred())
		deposit := b.t.span("bank.Deposit")
		Expect(deposit.Parent().SpanID()).To(Equal(request.SpanContext().SpanID()))
		Expect(deposit.SpanKind()).To(Equal(trace.SpanKindInternal))
		Expect(attrs(deposit)).To(Equal(map[string]any{
			"consequent.command.type":      "bank.Deposit",
			"consequent.command.id":        history[1].CommandID.String(),
			"consequent.command.outcome":   "committed",
			"consequent.command.events":    int64(1),
			"consequent.command.conflicts": int64(0),
		}))
		Expect(deposit.Status().Code).To(Equal(codes.Unset))

		load := b.t.span("load bank.Account")
		Expect(load.Parent().SpanID()).To(Equal(deposit.SpanContext().SpanID()))
		Expect(attrs(load)).To(HaveKeyWithValue("consequent.aggregate.id", id.String()))
		Expect(attrs(load)).To(HaveKeyWithValue("consequent.aggregate.version", int64(1)))
		Expect(attrs(load)).To(HaveKeyWithValue("consequent.load.events", int64(1)))

		commit := b.t.span("commit bank.Deposit")
		Expect(commit.Parent().SpanID()).To(Equal(deposit.SpanContext().SpanID()))
		Expect(attrs(commit)).To(HaveKeyWithValue("consequent.commit.events", int64(1)))
		Expect(b.t.span("commit bank.OpenAccount").Parent().SpanID()).To(Equal(b.t.span("bank.OpenAccount").SpanContext().SpanID()))
	})

	It("stores the command span's trace context in the command record and its events, through the middleware", func() {
		b := newBank(false, es.Options{})
		id := uuid.New()
		Expect(b.svc.Execute(b.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"}, es.WithMetadata("tenant", "acme"))).To(estest.Committed())
		want := traceparent(b.t.span("bank.OpenAccount").SpanContext())

		history, err := b.svc.History(b.ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(history[0].Metadata).To(Equal(map[string]string{"traceparent": want, "tenant": "acme"}))
		cmds, err := b.store.Commands(b.ctx, history[0].CommandID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds[0].Metadata).To(HaveKeyWithValue("traceparent", want))
		Expect(otelconsequent.Recorded(history[0].Metadata)).To(Equal(trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: b.t.span("bank.OpenAccount").SpanContext().TraceID(), SpanID: b.t.span("bank.OpenAccount").SpanContext().SpanID(),
			TraceFlags: trace.FlagsSampled, Remote: true,
		})))
		Expect(otelconsequent.Recorded(nil).IsValid()).To(BeFalse())
	})

	It("tells refusals from failures, and counts commands, their durations, conflicts and events", func() {
		b := newBank(false, es.Options{ConflictRetries: 1})
		id := uuid.New()
		b.store.conflict = true
		Expect(b.svc.Execute(b.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"})).To(estest.Committed())
		Expect(b.svc.Execute(b.ctx, Deposit{ID: id, Amount: 5})).To(estest.Committed())
		Expect(b.svc.Execute(b.ctx, Deposit{ID: id, Amount: 6})).To(estest.Committed())
		Expect(b.svc.Execute(b.ctx, Deposit{ID: id, Amount: -1})).Error().NotTo(Succeed())
		Expect(b.svc.Execute(b.ctx, Deposit{ID: uuid.New(), Amount: 1})).Error().NotTo(Succeed())
		Expect(b.svc.Execute(b.ctx, unhandled{})).Error().NotTo(Succeed())

		open := b.t.span("bank.OpenAccount")
		Expect(attrs(open)).To(HaveKeyWithValue("consequent.command.conflicts", int64(1)))
		commits := b.t.named("commit bank.OpenAccount")
		Expect(commits).To(HaveLen(2))
		Expect(commits[0].Status().Code).To(Equal(codes.Error))
		Expect(attrs(commits[0])).To(HaveKeyWithValue("error.type", "conflict"))
		Expect(commits[1].Status().Code).To(Equal(codes.Unset))

		deposits := b.t.named("bank.Deposit")
		Expect(deposits).To(HaveLen(4))
		invalid := deposits[2]
		Expect(attrs(invalid)).To(HaveKeyWithValue("consequent.command.outcome", "refused"))
		Expect(invalid.Status().Code).To(Equal(codes.Unset), "a refusal is no fault")
		Expect(invalid.Events()).To(HaveLen(1))
		Expect(invalid.Events()[0].Name).To(Equal("exception"))
		Expect(attrs(deposits[3])).To(HaveKeyWithValue("consequent.command.outcome", "refused"), "no such account")

		failed := b.t.span("otelconsequent_test.unhandled")
		Expect(attrs(failed)).To(HaveKeyWithValue("consequent.command.outcome", "failed"))
		Expect(attrs(failed)).To(HaveKeyWithValue("error.type", "no_handler"))
		Expect(failed.Status().Code).To(Equal(codes.Error))
		Expect(failed.Status().Description).To(ContainSubstring("no handler registered"))

		Expect(b.t.point("consequent.commands", typeIs("bank.OpenAccount"), outcomeIs("committed"))).To(Equal(int64(1)))
		Expect(b.t.point("consequent.commands", typeIs("bank.Deposit"), outcomeIs("committed"))).To(Equal(int64(2)))
		Expect(b.t.point("consequent.commands", typeIs("bank.Deposit"), outcomeIs("refused"))).To(Equal(int64(2)))
		Expect(b.t.point("consequent.commands", typeIs("otelconsequent_test.unhandled"), outcomeIs("failed"),
			attribute.String("error.type", "no_handler"))).To(Equal(int64(1)))
		Expect(b.t.point("consequent.command.duration", typeIs("bank.Deposit"), outcomeIs("committed"))).To(Equal(uint64(2)))
		Expect(b.t.point("consequent.command.conflicts", typeIs("bank.OpenAccount"))).To(Equal(int64(1)))
		Expect(b.t.point("consequent.events.appended", attribute.String("consequent.event.type", "bank.AccountOpened"))).To(Equal(int64(1)))
		Expect(b.t.point("consequent.events.appended", attribute.String("consequent.event.type", "bank.Deposited"))).To(Equal(int64(2)))
	})

	It("links a projector batch, run by another process's worker, to the spans of the commands that recorded its events", func() {
		b := newBank(false, es.Options{})
		id := uuid.New()
		tracer := b.t.tp.Tracer("spec")
		ctx1, req1 := tracer.Start(b.ctx, "POST /accounts")
		Expect(b.svc.Execute(ctx1, OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"})).To(estest.Committed())
		req1.End()
		ctx2, req2 := tracer.Start(b.ctx, "POST /deposits")
		Expect(b.svc.Execute(ctx2, Deposit{ID: id, Amount: 5})).To(estest.Committed())
		Expect(b.svc.Execute(ctx2, Deposit{ID: id, Amount: 6})).To(estest.Committed())
		req2.End()

		worker, other := b.worker()
		Expect(worker.CatchUp(b.ctx)).To(Succeed())

		batch := other.span("project balances")
		Expect(batch.Parent().IsValid()).To(BeFalse(), "a trace of its own")
		Expect(batch.SpanKind()).To(Equal(trace.SpanKindConsumer))
		Expect(attrs(batch)).To(Equal(map[string]any{
			"consequent.projector.name":     "balances",
			"consequent.projection.name":    "balances",
			"consequent.projector.version":  int64(1),
			"messaging.batch.message_count": int64(3),
			"messaging.operation.type":      "process",
		}))
		var linked []string
		for _, l := range batch.Links() {
			Expect(l.SpanContext.IsRemote()).To(BeTrue())
			linked = append(linked, l.SpanContext.TraceID().String()+"/"+l.SpanContext.SpanID().String())
		}
		var commands []string
		for _, s := range append(b.t.named("bank.OpenAccount"), b.t.named("bank.Deposit")...) {
			commands = append(commands, s.SpanContext().TraceID().String()+"/"+s.SpanContext().SpanID().String())
		}
		Expect(linked).To(Equal(commands), "one link per command, in log order")
		Expect(other.point("consequent.projector.events", attribute.String("consequent.projector.name", "balances"),
			attribute.String("consequent.projection.name", "balances"))).To(Equal(int64(3)))
	})

	It("links a workflow's command to the span of the command that recorded the event it reacts to", func() {
		b := newBank(true, es.Options{})
		ctx, request := b.t.tp.Tracer("spec").Start(b.ctx, "POST /accounts")
		Expect(b.svc.Execute(ctx, OpenAccount{ID: uuid.New(), Owner: "Ann", Email: "ann@example.com"})).To(estest.Committed())
		request.End()

		open, bonus := b.t.span("bank.OpenAccount"), b.t.span("bank.Deposit")
		Expect(bonus.Parent().SpanID()).To(Equal(request.SpanContext().SpanID()))
		Expect(bonus.Links()).To(HaveLen(1))
		Expect(bonus.Links()[0].SpanContext.SpanID()).To(Equal(open.SpanContext().SpanID()))
		Expect(attrs(bonus)).To(HaveKeyWithValue("consequent.workflow.name", "welcome"))
		Expect(attrs(bonus)).To(HaveKeyWithValue("consequent.event.type", "bank.AccountOpened"))
	})

	It("traces a rebuild phase by phase, and reports its progress", func() {
		b := newBank(false, es.Options{ManualRebuilds: true})
		id := uuid.New()
		Expect(b.svc.Execute(b.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"})).To(estest.Committed())
		Expect(b.svc.Execute(b.ctx, Deposit{ID: id, Amount: 5})).To(estest.Committed())
		Expect(b.svc.Rebuild(b.ctx, "balances", nil)).To(Succeed())

		rebuild := b.t.span("rebuild balances")
		Expect(attrs(rebuild)).To(HaveKeyWithValue("consequent.rebuild.done", int64(2)))
		var phases []string
		for _, s := range b.t.spans.Ended() {
			if s.Parent().SpanID() == rebuild.SpanContext().SpanID() {
				phases = append(phases, s.Name())
			}
		}
		Expect(phases).To(Equal([]string{"replay balances", "index balances", "catch-up balances", "swap balances"}))

		projector := []attribute.KeyValue{attribute.String("consequent.projector.name", "balances"), attribute.Int("consequent.projector.version", 1)}
		Expect(b.t.point("consequent.rebuild.progress", projector...)).To(Equal(1.0))
		Expect(b.t.point("consequent.rebuild.events.done", projector...)).To(Equal(int64(2)))
		Expect(b.t.point("consequent.rebuild.events.total", projector...)).To(Equal(int64(2)))
	})
})

// lagFunc reports lags of its own.
type lagFunc func(context.Context) ([]es.Lag, error)

func (f lagFunc) Lag(ctx context.Context) ([]es.Lag, error) { return f(ctx) }

var _ = Describe("ObserveLag", func() {
	projection := func(projector, projection string) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("consequent.projector.name", projector), attribute.String("consequent.projection.name", projection)}
	}

	It("reports how far behind a worker's projections are, in events and seconds", func() {
		b := newBank(false, es.Options{})
		id := uuid.New()
		Expect(b.svc.Execute(b.ctx, OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"})).To(estest.Committed())
		Expect(b.svc.Execute(b.ctx, Deposit{ID: id, Amount: 5})).To(estest.Committed())
		worker, _ := b.worker()
		reg, err := otelconsequent.ObserveLag(b.t.mp.Meter("spec"), worker)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(reg.Unregister)

		Expect(b.t.point("consequent.projector.lag.events", projection("balances", "balances")...)).To(Equal(int64(2)))
		Expect(b.t.point("consequent.projector.lag.duration", projection("balances", "balances")...)).To(BeNumerically(">", 0))
		Expect(worker.CatchUp(b.ctx)).To(Succeed())
		Expect(b.t.point("consequent.projector.lag.events", projection("balances", "balances")...)).To(Equal(int64(0)))
		Expect(b.t.point("consequent.projector.lag.duration", projection("balances", "balances")...)).To(Equal(0.0))
	})

	It("names the projector of each partition", func() {
		t := newTelemetry()
		_, err := otelconsequent.ObserveLag(t.mp.Meter("spec"), lagFunc(func(context.Context) ([]es.Lag, error) {
			return []es.Lag{
				{Projection: "search#0/2", Events: 3, OldestAge: 2 * time.Second},
				{Projection: "search#1/2", Events: 1},
				{Projection: "odd#name", Events: 7},
			}, nil
		}))
		Expect(err).NotTo(HaveOccurred())
		Expect(t.point("consequent.projector.lag.events", projection("search", "search#0/2")...)).To(Equal(int64(3)))
		Expect(t.point("consequent.projector.lag.duration", projection("search", "search#0/2")...)).To(Equal(2.0))
		Expect(t.point("consequent.projector.lag.events", projection("search", "search#1/2")...)).To(Equal(int64(1)))
		Expect(t.point("consequent.projector.lag.events", projection("odd#name", "odd#name")...)).To(Equal(int64(7)))
	})
})
