package natspub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/natspub"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkPublish publishes b.N events to an embedded nats-server: through
// the publisher (…/consequent), and by a raw loop of js.PublishMsg of the
// events' payloads (…/raw), the baseline the publisher is held to.
func BenchmarkPublish(b *testing.B) {
	s, err := startServer(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown()
	conn, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	bjs, err := jetstream.New(conn)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	streams := 0
	stream := func(b *testing.B) string {
		streams++
		name := fmt.Sprintf("BENCH%d", streams)
		if _, err := bjs.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{fmt.Sprintf("bench%d.>", streams)},
			Storage: jetstream.MemoryStorage}); err != nil {
			b.Fatal(err)
		}
		return name
	}
	events := func(b *testing.B, n int) (*es.Registry, *memstore.Store, []es.EventRecord) {
		reg, store := es.NewRegistry(), memstore.New()
		register(reg)
		svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += 100 {
			batch := make([]any, 0, 100)
			for j := i; j < min(i+100, n); j++ {
				batch = append(batch, Happened{N: j})
			}
			if _, err := svc.Append(ctx, uuid.New(), batch...); err != nil {
				b.Fatal(err)
			}
		}
		log, err := store.ReadLog(ctx, es.Cursor{}, 0)
		if err != nil {
			b.Fatal(err)
		}
		return reg, store, log
	}
	rate := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	}

	b.Run("consequent", func(b *testing.B) {
		reg, store, _ := events(b, b.N)
		name := stream(b)
		pub, err := natspub.New(ctx, bjs, natspub.Config{Stream: name, Prefix: fmt.Sprintf("bench%d", streams)})
		if err != nil {
			b.Fatal(err)
		}
		reg.AddSubscription(pub.Subscription())
		w, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Jobs: es.RunSubscriptions, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		if err := w.CatchUp(ctx); err != nil {
			b.Fatal(err)
		}
		rate(b, start)
	})
	b.Run("raw", func(b *testing.B) {
		_, _, log := events(b, b.N)
		prefix := fmt.Sprintf("bench%d.", streams+1)
		stream(b)
		msgs := make([]*nats.Msg, len(log))
		for i, rec := range log {
			msgs[i] = &nats.Msg{Subject: prefix + rec.Type, Data: rec.Data, Header: nats.Header{}}
		}
		b.ResetTimer()
		start := time.Now()
		for i, m := range msgs {
			if _, err := bjs.PublishMsg(ctx, m, jetstream.WithMsgID(log[i].ID.String())); err != nil {
				b.Fatal(err)
			}
		}
		rate(b, start)
	})
}
