package browser

import (
	"fmt"
	"net/http"
	"time"

	"github.com/consequent/consequent/es"
)

type projectorsData struct {
	Available  bool
	Store      string
	Projectors []projectorView
}

type projectorView struct {
	es.ProjectorStatus
	Partitions []partitionView // async projectors: one per partition
}

type partitionView struct {
	es.ProjectionState
	Lag       int64         // events after the checkpoint
	OldestAge time.Duration // how long the oldest of them has waited
	LeaseHeld bool          // a lease that has not expired
}

// projectors shows every projector of the registry: the version its tables
// serve and the one a rebuild builds, the phase and progress of that rebuild,
// and for async projectors each partition's checkpoint, lag, lease and failure.
func (h *handler) projectors(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	d := projectorsData{Store: storeName(h.store)}
	ps, ok := h.store.(es.ProjectionStore)
	_, rms := h.store.(es.ReadModelStore)
	d.Available = ok && rms
	if d.Available {
		statuses, err := es.ReadModelStatus(ctx, h.reg, h.store)
		if err != nil {
			return err
		}
		byName := map[string]*es.Projector{}
		for _, p := range h.reg.Projectors() {
			byName[p.Name()] = p
		}
		for _, st := range statuses {
			v := projectorView{ProjectorStatus: st}
			p := byName[st.Projector]
			if p != nil && p.IsAsync() {
				for part := range p.Partitions() {
					state, err := ps.Projection(ctx, p.PartitionName(part))
					if err != nil {
						return err
					}
					n, oldest, err := ps.Behind(ctx, state.Checkpoint, part, p.Partitions())
					if err != nil {
						return err
					}
					pv := partitionView{ProjectionState: state, Lag: n, LeaseHeld: state.Owner != "" && time.Now().Before(state.LeaseUntil)}
					if n > 0 {
						pv.OldestAge = time.Since(oldest).Round(time.Second)
					}
					v.Partitions = append(v.Partitions, pv)
				}
			}
			d.Projectors = append(d.Projectors, v)
		}
	}
	h.render(w, r, http.StatusOK, "projectors", page{Title: "Projectors", Section: "projectors", Data: d})
	return nil
}

// rate formats events per second.
func rate(r float64) string {
	if r <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f events/s", r)
}
