package es

import (
	"context"
	"maps"
	"sync"

	"github.com/google/uuid"
)

// SetMetadata sets key to value in the metadata of the command being executed
// under ctx: it is stored with the command record and each of its events,
// beside the metadata [WithMetadata] gave (and over it, for the same key).
// Middleware calls it (otelconsequent stores the command's trace context this
// way, for the projectors and workflows that later handle its events), and so
// may handlers.
//
// It reports false, and stores nothing, when ctx is not the context of a
// command's execution (the one middleware and handlers get). A value set once
// the commit is done (in middleware, after next returned) is not stored; a
// command run again after a conflict keeps the values set so far. A command a
// workflow issues starts again from its WithMetadata values. SetMetadata is
// safe for concurrent use.
func SetMetadata(ctx context.Context, key, value string) bool {
	x, _ := ctx.Value(executionKey{}).(*execution)
	if x == nil {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.metadata == nil {
		x.metadata = map[string]string{}
	}
	x.metadata[key] = value
	return true
}

type executionKey struct{}

// execution is one command's execution, as its context carries it.
type execution struct {
	mu        sync.Mutex
	metadata  map[string]string // set with SetMetadata
	commandID uuid.UUID         // the record committed
}

// withExecution returns ctx carrying a new execution.
func withExecution(ctx context.Context) (context.Context, *execution) {
	x := new(execution)
	return context.WithValue(ctx, executionKey{}, x), x
}

// metadataOver returns base with the execution's metadata set over it: base
// itself when there is none, else a new map.
func (x *execution) metadataOver(base map[string]string) map[string]string {
	if x == nil {
		return base
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.metadata) == 0 {
		return base
	}
	out := make(map[string]string, len(base)+len(x.metadata))
	maps.Copy(out, base)
	maps.Copy(out, x.metadata)
	return out
}

func (x *execution) committed(id uuid.UUID) {
	if x != nil {
		x.mu.Lock()
		x.commandID = id
		x.mu.Unlock()
	}
}

func (x *execution) command() uuid.UUID {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.commandID
}
