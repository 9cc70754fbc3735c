package es

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// Clock tells the time to the runtime: event and command timestamps come from it.
// Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// IDGenerator makes the ids of commands and events, and of new aggregates when an
// application asks [CommandService.NewID]. Implementations must be safe for
// concurrent use.
type IDGenerator interface {
	NewID() uuid.UUID
}

// ClockFunc adapts a function to [Clock].
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// IDFunc adapts a function to [IDGenerator].
type IDFunc func() uuid.UUID

// NewID calls f.
func (f IDFunc) NewID() uuid.UUID { return f() }

// SystemClock is the wall clock, in UTC: the default [Clock].
type SystemClock struct{}

// Now implements [Clock].
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// UUIDv7 generates time-ordered UUIDs (RFC 9562 version 7): the default
// [IDGenerator].
type UUIDv7 struct{}

// NewID implements [IDGenerator].
func (UUIDv7) NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// ManualClock is a clock that moves only when told to, for deterministic tests.
// It is safe for concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock standing at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// SequentialIDs generates predictable UUIDs 00000000-0000-0000-0000-000000000001,
// …0002 and so on, for deterministic tests. It is safe for concurrent use.
type SequentialIDs struct {
	mu   sync.Mutex
	next uint64
}

// NewID returns the next id in sequence.
func (g *SequentialIDs) NewID() uuid.UUID {
	g.mu.Lock()
	g.next++
	n := g.next
	g.mu.Unlock()
	var id uuid.UUID
	for i := 15; i >= 8; i-- {
		id[i] = byte(n)
		n >>= 8
	}
	return id
}
