package es

import (
	"context"
	"fmt"
)

// rebuild rebuilds a projector whose tables an older version built, through
// the store's [ReadModelStore]: the live tables keep serving (and workers still
// running the older version keep them current) until the swap. The first
// partition's job does it; the others wait for the swap.
func (w *ProjectionWorker) rebuild(ctx context.Context, j *projectionJob) error {
	rms, ok := w.store.(ReadModelStore)
	if !ok {
		return fmt.Errorf("es: projector %s: version %d needs its tables rebuilt, and the store %T cannot (it does not implement es.ReadModelStore)",
			j.p.name, j.p.Version(), w.store)
	}
	if j.part != 0 {
		return errNotOwner // partition 0's job rebuilds the whole projector
	}
	err := rebuildProjector(ctx, w.reg, rms, j.p, rebuildOptions{owner: w.opts.Owner, leaseTTL: w.opts.LeaseTTL,
		progress: w.opts.Progress, log: w.log, chunk: w.opts.RebuildChunk, obs: w.obs.rebuild})
	if err == errRebuildElsewhere {
		return errNotOwner
	}
	return err
}
