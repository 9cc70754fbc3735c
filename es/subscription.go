package es

import (
	"context"
	"slices"
)

// Subscription is a checkpointed handler over the global log, for side effects
// outside the store: send an e-mail, call another service, publish to a broker.
// A [ProjectionWorker] runs it like an async projector: from its checkpoint, in
// log order (per partition), under a lease, retrying a failing event with
// backoff and then stopping at it (a [*ProjectionFailure]) until
// [ProjectionWorker.Resume].
//
// Delivery is at least once: the checkpoint moves after the handler returns, in
// batches, so after a crash, a lost lease or a retry the handler sees some
// events again. Make its effect idempotent with the event's id (Envelope.ID),
// which never changes, as the idempotency key of the other side.
//
// Build one with [NewSubscription]; register it with [Registry.AddSubscription].
type Subscription struct {
	name       string
	handle     func(ctx context.Context, e Envelope) error
	batch      func(ctx context.Context, events []Envelope) (int, error)
	types      []string
	partitions int
	raw        bool
	resume     func(ctx context.Context) (Cursor, error)
}

// NewSubscription returns a subscription named name (the name of its
// checkpoint: keep it) that calls handle with every event of the log, decoded,
// in log order. An error (or panic) from handle makes the worker retry the
// event; the events before it are done.
func NewSubscription(name string, handle func(ctx context.Context, e Envelope) error) *Subscription {
	return &Subscription{name: name, handle: handle}
}

// NewBatchSubscription is [NewSubscription] for handlers that work faster on
// several events at once (pipelined sends to a broker): handle gets the
// events of one read of the log (at most 100, in log order) and returns how
// many of them, from the first, it is done with; with an error, the worker
// retries the first event it is not done with, alone, then goes on in
// batches.
func NewBatchSubscription(name string, handle func(ctx context.Context, events []Envelope) (done int, err error)) *Subscription {
	return &Subscription{name: name, batch: handle}
}

// Name returns the subscription's name.
func (s *Subscription) Name() string { return s.name }

// Types restricts the subscription to events of the given registered type
// names; the others pass by without a call. It returns s.
func (s *Subscription) Types(names ...string) *Subscription {
	s.types = append(s.types, names...)
	return s
}

// Partitioned splits the subscription into n partitions by stream (n ≤ 256),
// each with its own checkpoint and lease, like [Projector.Partitioned]; events
// of one stream stay in order, the log's global order does not. It returns s.
func (s *Subscription) Partitioned(n int) *Subscription {
	s.partitions = n
	return s
}

// Partitions returns the number of partitions (at least 1).
func (s *Subscription) Partitions() int { return max(s.partitions, 1) }

// Raw hands the handler the events as stored, without decoding them: Event is
// nil, Data holds the payload. For subscriptions that forward events (a
// broker), so that an event type this program does not know passes too. It
// returns s.
func (s *Subscription) Raw() *Subscription {
	s.raw = true
	return s
}

// ResumeFrom gives the subscription a way to learn, when its worker takes its
// lease, the last event the other side holds already (a broker's stream, say):
// when that is after the stored checkpoint, the checkpoint moves there first,
// so that what was delivered but not checkpointed before a crash is not
// delivered again. It applies to unpartitioned subscriptions. It returns s.
func (s *Subscription) ResumeFrom(last func(ctx context.Context) (Cursor, error)) *Subscription {
	s.resume = last
	return s
}

// handles reports whether the subscription takes events of type name.
func (s *Subscription) handles(name string) bool {
	return len(s.types) == 0 || slices.Contains(s.types, name)
}
