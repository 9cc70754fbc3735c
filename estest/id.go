package estest

import "github.com/google/uuid"

// ID returns a readable, fixed UUID for specs: ID(1) is
// 00000000-0000-0000-0000-000000000001. The scenario's own id generator counts from
// 1 as well; streams and commands do not collide, since they are kept apart.
func ID(n uint64) uuid.UUID {
	var id uuid.UUID
	for i := 15; i >= 8 && n > 0; i-- {
		id[i] = byte(n)
		n >>= 8
	}
	return id
}
