package natspub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/natspub"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The specs' domain: things that happen, many times.
type (
	Happened struct{ N int }
	Noted    struct{ Text string }
	Thing    struct{ es.AggregateRoot }
)

func (*Thing) On(any) {}

func register(r *es.Registry) {
	thing := es.RegisterAggregate(r, "test.Thing", func() *Thing { return new(Thing) })
	es.RegisterEvent[Happened](thing, "test.Happened")
	es.RegisterEvent[Noted](thing, "test.Noted")
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newStream creates a memory JetStream stream named name on events.>, with the
// given duplicate window.
func newStream(ctx context.Context, name string, dupes time.Duration) jetstream.Stream {
	GinkgoHelper()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name) + ".>"},
		Storage: jetstream.MemoryStorage, Duplicates: dupes})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) { _ = js.DeleteStream(ctx, name) })
	return s
}

// app is an application that writes things into a memory store.
type app struct {
	reg   *es.Registry
	store *memstore.Store
	svc   *es.CommandService
}

func newApp(ctx context.Context) *app {
	GinkgoHelper()
	a := &app{reg: es.NewRegistry(), store: memstore.New()}
	register(a.reg)
	var err error
	a.svc, err = es.NewCommandService(ctx, a.reg, a.store, es.Options{})
	Expect(err).NotTo(HaveOccurred())
	return a
}

// write stores n events, 100 per stream, and returns the log.
func (a *app) write(ctx context.Context, n int) []es.EventRecord {
	GinkgoHelper()
	for i := 0; i < n; i += 100 {
		id := uuid.New()
		events := make([]any, 0, 100)
		for j := i; j < min(i+100, n); j++ {
			events = append(events, Happened{N: j})
		}
		_, err := a.svc.Append(ctx, id, events...)
		Expect(err).NotTo(HaveOccurred())
	}
	log, err := a.store.ReadLog(ctx, es.Cursor{}, 0)
	Expect(err).NotTo(HaveOccurred())
	return log
}

// publisher returns a worker that runs only a publisher to stream, through
// pubJS, with a registry of its own (as a fresh process has).
func (a *app) publisher(ctx context.Context, pubJS jetstream.JetStream, stream string) *es.ProjectionWorker {
	GinkgoHelper()
	pub, err := natspub.New(ctx, pubJS, natspub.Config{Stream: stream, Prefix: strings.ToLower(stream)})
	Expect(err).NotTo(HaveOccurred())
	reg := es.NewRegistry()
	register(reg)
	reg.AddSubscription(pub.Subscription())
	w, err := es.NewProjectionWorker(reg, a.store, es.WorkerOptions{Owner: "publisher", Jobs: es.RunSubscriptions, Logger: quiet,
		PollMin: time.Millisecond, PollMax: 20 * time.Millisecond})
	Expect(err).NotTo(HaveOccurred())
	return w
}

// readAll reads every message of stream in order.
func readAll(ctx context.Context, stream jetstream.Stream) []jetstream.Msg {
	GinkgoHelper()
	info, err := stream.Info(ctx)
	Expect(err).NotTo(HaveOccurred())
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	Expect(err).NotTo(HaveOccurred())
	var out []jetstream.Msg
	for uint64(len(out)) < info.State.Msgs {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		Expect(err).NotTo(HaveOccurred())
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		Expect(batch.Error()).NotTo(HaveOccurred())
		Expect(n).To(BeNumerically(">", 0), "the stream holds %d messages, %d read", info.State.Msgs, len(out))
	}
	return out
}

// killingJS stops a publisher abruptly after a number of publishes: it cancels
// the worker's context, as a crash would stop it, in the middle of a batch.
type killingJS struct {
	jetstream.JetStream
	after  int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (k *killingJS) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	ack, err := k.JetStream.PublishMsgAsync(msg, opts...)
	if err == nil && k.n.Add(1) == k.after {
		k.cancel()
	}
	return ack, err
}

// flakyJS fails the sends of some messages once each.
type flakyJS struct {
	jetstream.JetStream
	n      atomic.Int64
	failAt map[int64]bool
}

func (f *flakyJS) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if n := f.n.Add(1); f.failAt[n] {
		return nil, fmt.Errorf("send %d: connection reset", n)
	}
	return f.JetStream.PublishMsgAsync(msg, opts...)
}

var _ = Describe("the JetStream publisher", func() {
	It("retries from a send that failed in the middle of a batch, leaving no gap", func(ctx SpecContext) {
		stream := newStream(ctx, "FLAKY", 0)
		a := newApp(ctx)
		log := a.write(ctx, 500)
		flaky := &flakyJS{JetStream: js, failAt: map[int64]bool{50: true, 51: true, 260: true}}
		w := a.publisher(ctx, flaky, "FLAKY")
		Expect(w.CatchUp(ctx)).To(Succeed())
		msgs := readAll(ctx, stream)
		Expect(msgs).To(HaveLen(500))
		for i, m := range msgs {
			Expect(m.Headers().Get(natspub.HeaderEventID)).To(Equal(log[i].ID.String()), "message %d", i+1)
		}
	})

	It("publishes each event to the subject of its type, with its envelope in headers, and the consumer decodes it", func(ctx SpecContext) {
		stream := newStream(ctx, "HEADERS", 0)
		a := newApp(ctx)
		id := uuid.New()
		corr := uuid.New()
		Expect(a.svc.Execute(ctx, struct{}{})).Error().To(MatchError(es.ErrNoHandler)) // nothing stored
		_, err := a.svc.Append(ctx, id, Happened{N: 1}, Noted{Text: "hi"})
		Expect(err).NotTo(HaveOccurred())
		_ = corr
		w := a.publisher(ctx, js, "HEADERS")
		Expect(w.CatchUp(ctx)).To(Succeed())
		msgs := readAll(ctx, stream)
		Expect(msgs).To(HaveLen(2))
		log, err := a.store.ReadLog(ctx, es.Cursor{}, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(msgs[0].Subject()).To(Equal("headers.test.Happened"))
		Expect(msgs[1].Subject()).To(Equal("headers.test.Noted"))
		h := msgs[1].Headers()
		Expect(h.Get("Nats-Msg-Id")).To(Equal(log[1].ID.String()))
		Expect(h.Get(natspub.HeaderEventID)).To(Equal(log[1].ID.String()))
		Expect(h.Get(natspub.HeaderEventType)).To(Equal("test.Noted"))
		Expect(h.Get(natspub.HeaderStreamID)).To(Equal(id.String()))
		Expect(h.Get(natspub.HeaderVersion)).To(Equal("2"))
		Expect(h.Get(natspub.HeaderCorrelationID)).To(Equal(log[1].CorrelationID.String()))
		Expect(h.Get(natspub.HeaderCausationID)).To(Equal(log[1].CausationID.String()))

		consumer := es.NewRegistry()
		register(consumer)
		env, err := natspub.Decode(consumer, msgs[1].Headers(), msgs[1].Data())
		Expect(err).NotTo(HaveOccurred())
		Expect(env.Event).To(Equal(Noted{Text: "hi"}))
		Expect(env.EventRecord).To(Equal(log[1]))
		_, err = natspub.Decode(consumer, nats.Header{}, []byte(`{}`))
		Expect(err).To(MatchError(ContainSubstring("not published by natspub")))
	})

	It("holds each of 10,000 events once, in log order, when the publisher is killed mid-way and restarted after the duplicate window", func(ctx SpecContext) {
		const total, killAt = 10000, 3050
		stream := newStream(ctx, "KILLED", 200*time.Millisecond) // a short duplicate window: only the resume keeps duplicates out
		a := newApp(ctx)
		log := a.write(ctx, total)
		Expect(log).To(HaveLen(total))

		By("publishing until the publisher is stopped abruptly, in the middle of a batch")
		runCtx, cancel := context.WithCancel(ctx)
		killer := &killingJS{JetStream: js, after: killAt, cancel: cancel}
		first := a.publisher(ctx, killer, "KILLED")
		var wg sync.WaitGroup
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = first.Run(runCtx) }()
		Eventually(stopped).WithTimeout(time.Minute).Should(BeClosed())
		var published uint64
		Eventually(ctx, func(ctx context.Context) (uint64, error) { // what was sent before the stop lands
			info, err := stream.Info(ctx)
			if err != nil {
				return 0, err
			}
			settled := info.State.Msgs == published
			published = info.State.Msgs
			if !settled {
				return 0, nil
			}
			return published, nil
		}).WithPolling(100 * time.Millisecond).Should(BeNumerically(">=", killAt))
		Expect(published).To(BeNumerically("<", total))
		st, err := a.store.Projection(ctx, "subscription:natspub")
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Checkpoint.Before(log[published-1].Cursor())).To(BeTrue(), "the checkpoint lags behind what the stream holds")
		checkpointed := st.Checkpoint.Position

		By("restarting once the duplicate window has passed")
		time.Sleep(300 * time.Millisecond)
		second := a.publisher(ctx, js, "KILLED")
		runCtx, cancel = context.WithCancel(ctx)
		wg.Go(func() { _ = second.Run(runCtx) })
		Eventually(ctx, func(ctx context.Context) (uint64, error) {
			info, err := stream.Info(ctx)
			if err != nil {
				return 0, err
			}
			return info.State.Msgs, nil
		}).WithTimeout(time.Minute).WithPolling(50 * time.Millisecond).Should(BeNumerically("==", total))
		Consistently(ctx, func(ctx context.Context) (uint64, error) {
			info, err := stream.Info(ctx)
			return info.State.Msgs, err
		}).WithTimeout(200 * time.Millisecond).Should(BeNumerically("==", total))
		cancel()
		wg.Wait()

		msgs := readAll(ctx, stream)
		Expect(msgs).To(HaveLen(total))
		consumer := es.NewRegistry()
		register(consumer)
		for i, m := range msgs {
			env, err := natspub.Decode(consumer, m.Headers(), m.Data())
			Expect(err).NotTo(HaveOccurred())
			Expect(env.ID).To(Equal(log[i].ID), "message %d is event %d of the log", i+1, i+1)
			Expect(env.Event).To(Equal(Happened{N: i}))
		}
		AddReportEntry("publisher killed mid-way", fmt.Sprintf("stopped after %d of %d sends, the stream holding %d (checkpoint at %d); restarted after the duplicate window: the stream holds %d messages, each event once, in log order",
			killAt, total, published, checkpointed, len(msgs)))
	})

	It("publishes at a rate close to a raw js.PublishMsg loop", Label("measure"), func(ctx SpecContext) {
		// Rounds in turn, medians: the machine is shared, one run is noise.
		const n, rounds = 3000, 5
		var ours, raw, rawHeaders, rawAsync []float64
		rate := func(publish func()) float64 {
			start := time.Now()
			publish()
			return n / time.Since(start).Seconds()
		}
		loop := func(stream string, log []es.EventRecord, msg func(es.EventRecord) *nats.Msg) func() {
			newStream(ctx, stream, 0)
			msgs := make([]*nats.Msg, n)
			for i, rec := range log {
				msgs[i] = msg(rec)
			}
			return func() {
				for i, m := range msgs {
					_, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(log[i].ID.String()))
					Expect(err).NotTo(HaveOccurred())
				}
			}
		}
		for r := range rounds {
			a := newApp(ctx)
			log := a.write(ctx, n)
			rawName, rawHName, ourName := fmt.Sprintf("RAW%d", r), fmt.Sprintf("RAWH%d", r), fmt.Sprintf("RATE%d", r)
			plain := loop(rawName, log, func(rec es.EventRecord) *nats.Msg {
				return &nats.Msg{Subject: strings.ToLower(rawName) + "." + rec.Type, Data: rec.Data, Header: nats.Header{}}
			})
			headers := loop(rawHName, log, func(rec es.EventRecord) *nats.Msg {
				m, err := natspub.Message(strings.ToLower(rawHName)+"."+rec.Type, rec)
				Expect(err).NotTo(HaveOccurred())
				return m
			})
			asyncName := fmt.Sprintf("RAWA%d", r)
			newStream(ctx, asyncName, 0)
			asyncMsgs := make([]*nats.Msg, n)
			for i, rec := range log {
				m, err := natspub.Message(strings.ToLower(asyncName)+"."+rec.Type, rec)
				Expect(err).NotTo(HaveOccurred())
				asyncMsgs[i] = m
			}
			pipelined := func() { // 100 in flight at a time, as the publisher has
				for i := 0; i < n; i += 100 {
					var acks []jetstream.PubAckFuture
					for _, m := range asyncMsgs[i:min(i+100, n)] {
						ack, err := js.PublishMsgAsync(m)
						Expect(err).NotTo(HaveOccurred())
						acks = append(acks, ack)
					}
					for _, ack := range acks {
						select {
						case <-ack.Ok():
						case err := <-ack.Err():
							Expect(err).NotTo(HaveOccurred())
						}
					}
				}
			}
			stream := newStream(ctx, ourName, 0)
			w := a.publisher(ctx, js, ourName)
			raw = append(raw, rate(plain))
			ours = append(ours, rate(func() { Expect(w.CatchUp(ctx)).To(Succeed()) }))
			rawHeaders = append(rawHeaders, rate(headers))
			rawAsync = append(rawAsync, rate(pipelined))
			info, err := stream.Info(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.State.Msgs).To(BeNumerically("==", n))
		}
		median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
		o, r, h, a := median(ours), median(raw), median(rawHeaders), median(rawAsync)
		AddReportEntry("JetStream publish rate", fmt.Sprintf(
			"medians of %d rounds of %d events: natspub %.0f events/s; raw js.PublishMsg loop %.0f events/s (%.2f×); "+
				"raw js.PublishMsg loop of the same messages, headers and all, %.0f events/s (%.2f×); "+
				"raw js.PublishMsgAsync of the same messages, 100 in flight, %.0f events/s (%.2f×)",
			rounds, n, o, r, o/r, h, o/h, a, o/a))
	})
})
