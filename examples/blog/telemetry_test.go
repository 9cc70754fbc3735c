package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/otelconsequent"
)

var _ = Describe("the blog's telemetry", func() {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}

	// publish runs the blog's commands with telemetry writing to a buffer, and
	// returns the span names and metric names written.
	publish := func(vars map[string]string) (spans, metrics []string) {
		GinkgoHelper()
		ctx := context.Background()
		var out bytes.Buffer
		t, err := startTelemetry(ctx, &out, env(vars))
		Expect(err).NotTo(HaveOccurred())
		reg := es.NewRegistry()
		blog.Register(reg)
		reg.Use(otelconsequent.Middleware())
		svc, err := es.NewCommandService(ctx, reg, memstore.New(), es.Options{Observer: t.observer})
		Expect(err).NotTo(HaveOccurred())
		id := uuid.New()
		Expect(svc.Execute(ctx, blog.AddPost{PostID: id, Author: "ben", Title: "T", Content: "C"})).To(estest.Committed())
		Expect(svc.Execute(ctx, blog.PublishPost{PostID: id})).To(estest.Committed())
		w, err := es.NewProjectionWorker(reg, svc.Store(), es.WorkerOptions{Service: svc})
		Expect(err).NotTo(HaveOccurred())
		Expect(w.CatchUp(ctx)).To(Succeed()) // the durable publication workflow notifies the author
		Expect(t.shutdown(ctx)).To(Succeed())

		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if line == "" {
				continue
			}
			var v struct {
				Name         string
				ScopeMetrics []struct{ Metrics []struct{ Name string } }
			}
			Expect(json.Unmarshal([]byte(line), &v)).To(Succeed(), line)
			if v.Name != "" {
				spans = append(spans, v.Name)
			}
			for _, sm := range v.ScopeMetrics {
				for _, m := range sm.Metrics {
					metrics = append(metrics, m.Name)
				}
			}
		}
		return spans, metrics
	}

	It("writes traces and metrics to stdout as JSON lines", func() {
		spans, metrics := publish(nil)
		Expect(spans).To(ContainElements("blog.AddPost", "commit blog.AddPost", "blog.PublishPost", "load blog.Post", "blog.NotifyAuthor"))
		Expect(metrics).To(ContainElements("consequent.commands", "consequent.command.duration", "consequent.events.appended"))
	})

	It("leaves out a signal whose exporter is none", func() {
		spans, metrics := publish(map[string]string{"OTEL_TRACES_EXPORTER": "none"})
		Expect(spans).To(BeEmpty())
		Expect(metrics).To(ContainElement("consequent.commands"))
	})

	It("is on by default when the standard variables ask for the console exporter", func() {
		Expect(otelByDefault(env(nil))).To(BeFalse())
		Expect(otelByDefault(env(map[string]string{"OTEL_TRACES_EXPORTER": "console"}))).To(BeTrue())
		Expect(otelByDefault(env(map[string]string{"OTEL_METRICS_EXPORTER": "console"}))).To(BeTrue())
		Expect(otelByDefault(env(map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}))).To(BeFalse())
	})

	It("serves with -otel and -log-level", func() {
		_, stop := serve("-database-url", "", "-otel", "-log-level", "warn")
		stop()
	})
})
