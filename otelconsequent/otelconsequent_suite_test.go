package otelconsequent_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/otelconsequent"
)

func TestOtelconsequent(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "otelconsequent")
}

// The specs run on the test domain's bank, with two additions of their own: an
// async projector keeps balances, and a workflow (when registered) gives new
// accounts a bonus.

type unhandled struct{} // a command without a handler

type Balance struct {
	ID      uuid.UUID
	Amount  int64
	Version int64
}

var balances = es.NewTable[Balance]("balances", "id")

func register(withBonus bool) func(*es.Registry) {
	return func(r *es.Registry) {
		RegisterBank(r)

		p := es.NewProjector("balances", balances).Async()
		es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, _ AccountOpened) error {
			return balances.Upsert(ctx, v, Balance{ID: e.StreamID, Version: e.Version})
		})
		es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Deposited) error {
			_, err := balances.Update(ctx, v, es.Where{"id": e.StreamID}, func(b *Balance) {
				if e.Version > b.Version {
					b.Amount, b.Version = b.Amount+ev.Amount, e.Version
				}
			})
			return err
		})
		r.AddProjector(p)

		if withBonus {
			w := es.NewWorkflow("welcome")
			es.React(w, func(_ context.Context, r *es.Reaction, e es.Envelope, _ AccountOpened) error {
				r.Execute(Deposit{ID: e.StreamID, Amount: 10})
				return nil
			})
			r.AddWorkflow(w)
		}
	}
}

// telemetry is an SDK that keeps spans and metrics in memory, and an Observer on it.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	obs    *otelconsequent.Observer
}

func newTelemetry() *telemetry {
	t := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	t.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(t.spans))
	t.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(t.reader))
	t.obs = otelconsequent.New(t.tp, t.mp)
	return t
}

// named returns the ended spans called name, in the order they ended.
func (t *telemetry) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range t.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// span returns the one ended span called name.
func (t *telemetry) span(name string) sdktrace.ReadOnlySpan {
	GinkgoHelper()
	spans := t.named(name)
	Expect(spans).To(HaveLen(1), "spans named %q among %v", name, t.names())
	return spans[0]
}

func (t *telemetry) names() []string {
	var out []string
	for _, s := range t.spans.Ended() {
		out = append(out, s.Name())
	}
	return out
}

// attrs returns a span's attributes as a map.
func attrs(s sdktrace.ReadOnlySpan) map[string]any {
	out := map[string]any{}
	for _, kv := range s.Attributes() {
		out[string(kv.Key)] = kv.Value.AsInterface()
	}
	return out
}

// point returns the value of the data point of metric name whose attributes
// are exactly attrs: an int64 or float64 for sums and gauges, the count for
// histograms; nil when there is none.
func (t *telemetry) point(name string, attrs ...attribute.KeyValue) any {
	GinkgoHelper()
	var rm metricdata.ResourceMetrics
	Expect(t.reader.Collect(context.Background(), &rm)).To(Succeed())
	want := attribute.NewSet(attrs...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if p.Attributes.Equals(&want) {
						return p.Value
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if p.Attributes.Equals(&want) {
						return p.Value
					}
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					if p.Attributes.Equals(&want) {
						return p.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if p.Attributes.Equals(&want) {
						return p.Count
					}
				}
			default:
				Fail(fmt.Sprintf("metric %s has data of type %T", name, m.Data))
			}
		}
	}
	return nil
}

// bank is a command service on a memory store, observed by t.
type bank struct {
	ctx   context.Context
	store *flakyStore
	reg   *es.Registry
	svc   *es.CommandService
	t     *telemetry
}

func newBank(withBonus bool, opts es.Options) *bank {
	GinkgoHelper()
	b := &bank{ctx: context.Background(), store: &flakyStore{Store: memstore.New()}, reg: es.NewRegistry(), t: newTelemetry()}
	register(withBonus)(b.reg)
	b.reg.Use(otelconsequent.Middleware())
	opts.Observer = b.t.obs
	opts.Logger = slog.New(slog.DiscardHandler)
	var err error
	b.svc, err = es.NewCommandService(b.ctx, b.reg, b.store, opts)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// worker returns a projection worker on the bank's store, as another process
// would run it: its own registry, and its own telemetry.
func (b *bank) worker() (*es.ProjectionWorker, *telemetry) {
	GinkgoHelper()
	t := newTelemetry()
	reg := es.NewRegistry()
	register(false)(reg)
	w, err := es.NewProjectionWorker(reg, b.store.Store, es.WorkerOptions{Observer: t.obs, Logger: slog.New(slog.DiscardHandler)})
	Expect(err).NotTo(HaveOccurred())
	return w, t
}

// flakyStore is a memory store whose next commit conflicts when asked to (not
// safe for concurrent use).
type flakyStore struct {
	*memstore.Store
	conflict bool
}

func (s *flakyStore) Commit(ctx context.Context, c *es.Commit, inTx func(context.Context, es.Persistor) error) error {
	if s.conflict {
		s.conflict = false
		return fmt.Errorf("test: %w", es.ErrConcurrencyConflict)
	}
	return s.Store.Commit(ctx, c, inTx)
}
