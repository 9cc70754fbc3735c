package natspub_test

import (
	"context"
	"log"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/natspub"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A service publishes its events to the stream EVENTS; another decodes them
// with its own registry.
func Example() {
	ctx := context.Background()
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}})
	if err != nil {
		log.Fatal(err)
	}

	// The publishing service.
	reg, store := es.NewRegistry(), memstore.New()
	register(reg)
	pub, err := natspub.New(ctx, js, natspub.Config{Stream: "EVENTS"})
	if err != nil {
		log.Fatal(err)
	}
	reg.AddSubscription(pub.Subscription())
	worker, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{})
	if err != nil {
		log.Fatal(err)
	}
	go worker.Run(ctx) //nolint:errcheck // until ctx is done

	// A consuming service.
	consumer := es.NewRegistry()
	register(consumer)
	cons, _ := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"events.test.>"}})
	msgs, _ := cons.Fetch(100)
	for msg := range msgs.Messages() {
		env, err := natspub.Decode(consumer, msg.Headers(), msg.Data())
		if err != nil {
			log.Fatal(err)
		}
		switch ev := env.Event.(type) {
		case Happened:
			log.Printf("%s happened: %d", env.StreamID, ev.N)
		}
	}
}
