package es

import (
	"context"
	"fmt"
	"time"
)

// ProjectorStatus is what [ReadModelStatus] reports of one projector: which
// version its live tables serve, and how far a rebuild is.
type ProjectorStatus struct {
	Projector string
	Async     bool
	Version   int // this program's version of the projector
	Serving   int // the version that built the live tables (0: none yet)
	Building  int // the version a rebuild is building (0: none)
	// Phase is "serving" (the live tables are this program's version),
	// "waiting" (they are an older version's and no rebuild is under way yet),
	// "superseded" (a newer version's), or the phase of the rebuild under way:
	// PhaseReplay, PhaseIndex, PhaseCatchUp or PhaseSwap.
	Phase string
	// Stale: the live tables are an older version's. Processes still running
	// that version keep them current; where none runs, they fall behind.
	Stale bool
	// Skipped counts commits of an older version that did not write the tables
	// its newer version serves (a rolling deploy); the newer version's
	// processes rebuild them once those commits stop.
	Skipped int64
	Done    int64         // events the rebuild applied
	Total   int64         // events it has to apply, as last counted
	Rate    float64       // its events per second
	ETA     time.Duration // its time left at that rate (0: unknown)
	Started time.Time     // when the rebuild began
	Updated time.Time     // its last write
	Error   string        // the last failure of the rebuild, or of the async projection
}

// Phases of a projector that no rebuild is working on.
const (
	PhaseServing    = "serving"
	PhaseWaiting    = "waiting"
	PhaseSuperseded = "superseded"
)

// ReadModelStatus reports every projector of reg as store records it: for
// operators and tools (a command line's "projections status"), from any
// process. It needs a store that implements [ReadModelStore].
func ReadModelStatus(ctx context.Context, reg *Registry, store EventStore) ([]ProjectorStatus, error) {
	rms, ok := store.(ReadModelStore)
	if !ok {
		return nil, fmt.Errorf("es: read-model status: the store %T does not implement es.ReadModelStore", store)
	}
	var out []ProjectorStatus
	for _, p := range reg.projectors {
		st, err := rms.Projection(ctx, partitionName(p, 0))
		if err != nil {
			return nil, fmt.Errorf("es: status of projector %s: %w", p.name, err)
		}
		s := ProjectorStatus{Projector: p.name, Async: p.async, Version: p.Version(), Serving: st.Version, Error: st.Error}
		rb, building, err := rms.Rebuild(ctx, p.name)
		if err != nil {
			return nil, fmt.Errorf("es: status of projector %s: %w", p.name, err)
		}
		switch {
		case building:
			s.Building, s.Phase, s.Done, s.Total = rb.Version, rb.Phase, rb.Done, max(rb.Total, rb.Done)
			s.Started, s.Updated = rb.Started, rb.Updated
			if rb.Error != "" {
				s.Error = rb.Error
			}
			if secs := rb.Updated.Sub(rb.Started).Seconds(); secs > 0 && rb.Done > 0 {
				s.Rate = float64(rb.Done) / secs
				s.ETA = RebuildProgress{Done: s.Done, Total: s.Total, Rate: s.Rate}.ETA()
			}
		case st.Version > p.Version():
			s.Phase = PhaseSuperseded
		case st.Version < p.Version():
			s.Phase = PhaseWaiting
		default:
			s.Phase = PhaseServing
		}
		s.Skipped = st.Skipped
		s.Stale = st.Version < max(p.Version(), s.Building) || st.Skipped > 0
		out = append(out, s)
	}
	return out, nil
}
