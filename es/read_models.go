package es

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// prepareProjector checks p's tables at start and returns their serving
// version: the version that built the live tables. Tables of p's own version
// must match their definitions (else the error says to raise the version);
// tables of an older version are left alone, for a rebuild; tables a newer
// version built are not written by this program.
func prepareProjector(ctx context.Context, store EventStore, p *Projector) (int, error) {
	rms, ok := store.(ReadModelStore)
	if !ok { // a store without versions: the tables must be as defined
		return p.Version(), tablesError(p, p.Version(), store.Views().CreateTables(ctx, p.tables...))
	}
	name := partitionName(p, 0)
	st, err := rms.Projection(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("es: projector %s: %w", p.name, err)
	}
	served := st.Version
	if served == 0 { // never recorded: a new projector, or one from before versions were
		created := store.Views().CreateTables(ctx, p.tables...)
		version := p.Version()
		switch {
		case errors.Is(created, ErrTableChanged) && p.Version() > 1:
			version-- // the tables of an older version: rebuild them
		case created != nil:
			return 0, tablesError(p, 0, created)
		}
		if served, err = rms.ClaimVersion(ctx, name, version); err != nil {
			return 0, fmt.Errorf("es: projector %s: %w", p.name, err)
		}
		if served != p.Version() || created == nil {
			return served, nil // an older version's tables, or ours, checked above
		}
	}
	if served == p.Version() {
		return served, tablesError(p, served, store.Views().CreateTables(ctx, p.tables...))
	}
	return served, nil
}

// tablesError explains a failure to create or check p's tables; for tables
// that changed, it says the fix.
func tablesError(p *Projector, served int, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTableChanged):
		return fmt.Errorf("es: tables of projector %s: %w; raise Versioned(%d) of projector %s to rebuild its tables",
			p.name, err, max(served, p.Version())+1, p.name)
	}
	return fmt.Errorf("es: tables of projector %s: %w", p.name, err)
}

// rebuilder runs the background rebuilds of one service (or worker): one
// goroutine per projector whose tables an older version built, until the
// swap, here or in another process.
type rebuilder struct {
	reg   *Registry
	store ReadModelStore
	opts  rebuildOptions
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

func newRebuilder(reg *Registry, store ReadModelStore, opts rebuildOptions) *rebuilder {
	return &rebuilder{reg: reg, store: store, opts: opts.withDefaults(), stop: func() {}}
}

// start rebuilds ps in the background until they serve their version or Close.
func (b *rebuilder) start(ps []*Projector) {
	if len(ps) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	for _, p := range ps {
		b.wg.Go(func() { b.loop(ctx, p) })
	}
}

// close stops the background rebuilds and waits for them; an interrupted
// rebuild resumes from its last write next time.
func (b *rebuilder) close() {
	b.stop()
	b.wg.Wait()
}

// loop rebuilds p until its version serves, then watches for commits of
// processes still running an older version, which leave the new tables behind
// ([ProjectionState.Skipped]): once they have stopped for repairAfter, it
// rebuilds the tables again. Another process's rebuild is waited for; a failing
// one is tried again with backoff.
func (b *rebuilder) loop(ctx context.Context, p *Projector) {
	backoff := time.Second
	var reported string
	for ctx.Err() == nil {
		wait := max(b.opts.repairAfter/2, 10*time.Millisecond)
		st, err := b.store.Projection(ctx, partitionName(p, 0))
		switch {
		case err != nil:
		case st.Version > p.Version():
			return // a newer version serves: its processes look after the tables
		case st.Version < p.Version():
			err = rebuildProjector(ctx, b.reg, b.store, p, b.opts)
		case st.Skipped > 0 && !p.async && time.Since(st.SkippedAt) >= b.opts.repairAfter:
			b.opts.log.Info("rebuilding projector: processes of an older version committed without writing its tables",
				"projector", p.name, "version", p.Version(), "skipped", st.Skipped)
			opts := b.opts
			opts.force = true
			err = rebuildProjector(ctx, b.reg, b.store, p, opts)
		}
		switch {
		case err == nil:
			backoff, reported = time.Second, ""
		case ctx.Err() != nil:
			return
		case errors.Is(err, errRebuildElsewhere):
			wait = b.opts.leaseTTL / 2
		default:
			if msg := err.Error(); msg != reported {
				reported = msg
				if _, failed := errors.AsType[*ProjectionFailure](err); !failed { // logged by the rebuild
					b.opts.log.Error("rebuild failed; trying again", "projector", p.name, "version", p.Version(), "error", err)
				}
			}
			wait, backoff = backoff, min(backoff*2, time.Minute)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// rebuildOptionsOf derives a rebuild's options from a service's.
func rebuildOptionsOf(opts Options, log *slog.Logger) rebuildOptions {
	return rebuildOptions{owner: ownerName(opts.Owner), leaseTTL: opts.LeaseTTL, chunk: opts.RebuildChunk,
		progress: opts.RebuildProgress, log: log, repairAfter: opts.RepairAfter, obs: observersOf(opts.Observer).rebuild}
}
