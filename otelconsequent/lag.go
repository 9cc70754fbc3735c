package otelconsequent

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/consequent/consequent/es"
)

// ObserveLag registers two gauges on meter that report, at each collection,
// how far behind each async projection of worker (each partition) is, from
// [es.ProjectionWorker.Lag]:
//
//   - consequent.projector.lag.events ({event}): events readable and not applied yet;
//   - consequent.projector.lag.duration (s): the age of the oldest of them (0 when none).
//
// Both carry consequent.projector.name and consequent.projection.name (the
// partition's name: "search#2/4"). Lag reads the store, so each collection
// costs a few queries per projection. A failing read is returned to the
// meter's reader, which reports it; Unregister the returned registration to
// stop.
//
//	reg, err := otelconsequent.ObserveLag(meterProvider.Meter("blog"), worker)
func ObserveLag(meter metric.Meter, worker interface {
	Lag(context.Context) ([]es.Lag, error)
}) (metric.Registration, error) {
	events, err1 := meter.Int64ObservableGauge("consequent.projector.lag.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events an async projection has not applied yet."))
	age, err2 := meter.Float64ObservableGauge("consequent.projector.lag.duration", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest event an async projection has not applied yet (0 when it is up to date)."))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		lags, err := worker.Lag(ctx)
		if err != nil {
			return err
		}
		for _, l := range lags {
			set := metric.WithAttributeSet(attribute.NewSet(keyProjector.String(projectorOf(l)), keyProjection.String(l.Projection)))
			o.ObserveInt64(events, l.Events, set)
			o.ObserveFloat64(age, l.OldestAge.Seconds(), set)
		}
		return nil
	}, events, age)
}

// projectorOf returns the name of the projector a lag is of: its projection's
// name without the partition's suffix ("name#2/4").
func projectorOf(l es.Lag) string {
	name, part, ok := cutLast(l.Projection, "#")
	if !ok {
		return l.Projection
	}
	var i, n int
	if _, err := fmt.Sscanf(part, "%d/%d", &i, &n); err != nil || fmt.Sprintf("%d/%d", i, n) != part {
		return l.Projection
	}
	return name
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
