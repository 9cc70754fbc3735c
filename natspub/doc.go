// Package natspub publishes an application's events to a NATS JetStream
// stream, in the order of the global log, for other services to consume: the
// path for users who outgrow one process or one service.
//
// # Publishing
//
// A [Publisher] is an [es.Subscription]: a [es.ProjectionWorker] runs it from
// its checkpoint, under a lease, so one process of a deployment publishes at a
// time and in order. Each event becomes one message on the subject of its
// type ("events." and the type name by default, see [Config.Subject]), with
// the payload as stored (JSON) and headers that carry the envelope: event id
// (Nats-Msg-Id), type, schema, stream id and type, version, log position,
// time, command, correlation and causation ids, user and metadata
// ([HeaderEventID] and the others).
//
//	js, _ := jetstream.New(nc)
//	pub, err := natspub.New(ctx, js, natspub.Config{Stream: "EVENTS"})
//	reg.AddSubscription(pub.Subscription())
//	worker, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{Service: svc})
//	go worker.Run(ctx)
//
// # Exactly once in the stream
//
// Messages are sent pipelined, a batch at a time (up to 100, as the worker
// reads the log), and each expects the one before it as the stream's last
// (Nats-Expected-Last-Msg-Id): when one fails, every later one of the batch
// fails too, so the stream never holds a gap or an event out of order, and the
// worker retries from the first that failed.
//
// Delivery to the broker is at least once: a crash between a publish and the
// checkpoint publishes again. Two things keep the stream free of duplicates.
// Every message's Nats-Msg-Id is the event's id, so JetStream drops a repeat
// within the stream's duplicate window (2 minutes by default). And when a
// worker takes the publisher's lease, the publisher reads the last message
// the stream holds and moves its checkpoint there ([es.Subscription.ResumeFrom]),
// so an outage longer than the window publishes nothing twice either. The
// stream holds each event once, in log order. It must be the publisher's
// alone: another publisher's messages in it make the expected last message
// id fail.
//
// # Consuming
//
// [Decode] turns a message back into an [es.Envelope] with the event typed by
// the consuming application's [es.Registry] (upcasters included); [CursorOf]
// reads its place in the publisher's log.
package natspub
