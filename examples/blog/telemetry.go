package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/consequent/consequent/otelconsequent"
)

// otelByDefault reports whether the standard OpenTelemetry variables ask for
// the console (stdout) exporter, which turns -otel on.
func otelByDefault(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return getenv("OTEL_TRACES_EXPORTER") == "console" || getenv("OTEL_METRICS_EXPORTER") == "console"
}

// telemetry is the OpenTelemetry SDK of the blog: traces and metrics written to
// a writer as JSON, one object per line.
type telemetry struct {
	observer *otelconsequent.Observer
	tp       *sdktrace.TracerProvider
	mp       *sdkmetric.MeterProvider
}

// startTelemetry starts the SDK with the stdout exporters writing to w: spans
// as they end (batched), metrics every minute (OTEL_METRIC_EXPORT_INTERVAL, in
// milliseconds) and at shutdown. OTEL_TRACES_EXPORTER=none or
// OTEL_METRICS_EXPORTER=none leaves that signal out; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES describe the service (default service.name: blog).
func startTelemetry(ctx context.Context, w io.Writer, getenv func(string) string) (*telemetry, error) {
	for _, v := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"} {
		if e := getenv(v); e != "" && e != "console" && e != "none" {
			slog.Warn("the blog has the console exporter only", "variable", v, "value", e)
		}
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "blog")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("otel resource: %w", err)
	}
	t := &telemetry{}
	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if getenv("OTEL_TRACES_EXPORTER") != "none" {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("otel traces: %w", err)
		}
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exp))
	}
	t.tp = sdktrace.NewTracerProvider(traceOpts...)
	metricOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if getenv("OTEL_METRICS_EXPORTER") != "none" {
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("otel metrics: %w", err)
		}
		metricOpts = append(metricOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	t.mp = sdkmetric.NewMeterProvider(metricOpts...)
	t.observer = otelconsequent.New(t.tp, t.mp)
	return t, nil
}

// shutdown writes what is pending (the spans not yet written, the metrics
// once more) and stops the SDK.
func (t *telemetry) shutdown(ctx context.Context) error {
	return errors.Join(t.tp.Shutdown(ctx), t.mp.Shutdown(ctx))
}
