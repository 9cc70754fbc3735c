package estest

import (
	"sync"

	"github.com/google/uuid"
)

// ID returns a readable, fixed UUID for specs: ID(1) is
// 00000000-0000-0000-0000-000000000001.
func ID(n uint64) uuid.UUID {
	var id uuid.UUID
	for i := 15; i >= 8 && n > 0; i-- {
		id[i] = byte(n)
		n >>= 8
	}
	return id
}

// SpecIDs is the id generator of scenarios: 00000000-0000-0000-0001-000000000001,
// …0002 and so on. Its ids differ from every [ID] a spec makes, so an id a
// workflow generates never takes a stream id the spec chose. It is safe for
// concurrent use.
type SpecIDs struct {
	mu sync.Mutex
	n  uint64
}

// NewID implements es.IDGenerator.
func (g *SpecIDs) NewID() uuid.UUID {
	g.mu.Lock()
	g.n++
	id := ID(g.n)
	g.mu.Unlock()
	id[9] = 1
	return id
}
