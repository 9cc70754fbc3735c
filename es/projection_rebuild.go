package es

import (
	"context"
	"fmt"
)

// rebuild rebuilds a projector whose tables are older than its version: through
// the store's [Rebuilder] when it has one (the tables keep serving until the swap),
// else in place. It needs the leases of all the projector's partitions; the first
// partition's job does it.
func (w *ProjectionWorker) rebuild(ctx context.Context, j projectionJob) error {
	if j.part != 0 {
		return errNotOwner // partition 0's job rebuilds the whole projector
	}
	for part := range j.of {
		held, err := w.store.Lease(ctx, partitionName(j.p, part), w.opts.Owner, w.opts.LeaseTTL)
		if err != nil {
			return err
		}
		if !held {
			return errNotOwner
		}
	}
	w.log.Info("rebuilding async projector", "projector", j.p.name, "version", j.p.Version())
	if rb, ok := w.store.(Rebuilder); ok {
		return rb.Rebuild(ctx, w.reg, j.p, w.opts.Owner, w.opts.Progress)
	}
	return w.rebuildInPlace(ctx, j)
}

// rebuildInPlace empties the projector's tables and resets every partition's
// checkpoint, so the worker replays the log from the start.
func (w *ProjectionWorker) rebuildInPlace(ctx context.Context, j projectionJob) error {
	for part := range j.of {
		err := w.store.Advance(ctx, partitionName(j.p, part), w.opts.Owner, Cursor{}, j.p.Version(), func(ctx context.Context, v Persistor) error {
			if part != 0 {
				return nil
			}
			for _, t := range j.p.tables {
				if _, err := v.Delete(ctx, t.Name, nil); err != nil {
					return fmt.Errorf("es: rebuild %s: empty %s: %w", j.p.name, t.Name, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if w.opts.Progress != nil {
		w.opts.Progress(RebuildProgress{Projector: j.p.name, Phase: "done"})
	}
	return nil
}
