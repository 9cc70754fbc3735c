package estest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// The rebuild cases' domain: counters that add numbers. Version 1 of its
// projector keeps a total per counter; version 2 adds a column, the number of
// additions, so its table changes.

type rbCounter struct{ es.AggregateRoot }

func (*rbCounter) On(any) {}

type rbAdded struct {
	N int `json:"n"`
}

type rbNoted struct{} // an event no projector handles

type (
	rbTotalV1 struct {
		ID    uuid.UUID `db:"id"`
		Total int64     `db:"total"`
	}
	rbTotalV2 struct {
		ID     uuid.UUID `db:"id"`
		Total  int64     `db:"total"`
		Events int64     `db:"events"`
	}
)

var (
	rbTotalsV1 = es.NewTable[rbTotalV1]("rb_totals", "id")
	rbTotalsV2 = es.NewTable[rbTotalV2]("rb_totals", "id")
)

const rbProjector = "rb_totals"

func rbProjectorV1() *es.Projector {
	p := es.NewProjector(rbProjector, rbTotalsV1)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev rbAdded) error {
		rows, err := rbTotalsV1.Find(ctx, v, es.Where{"id": e.StreamID})
		if err != nil {
			return err
		}
		r := rbTotalV1{ID: e.StreamID}
		if len(rows) > 0 {
			r = rows[0]
		}
		r.Total += int64(ev.N)
		return rbTotalsV1.Upsert(ctx, v, r)
	})
	return p
}

func rbProjectorV2() *es.Projector {
	p := es.NewProjector(rbProjector, rbTotalsV2).Versioned(2)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev rbAdded) error {
		rows, err := rbTotalsV2.Find(ctx, v, es.Where{"id": e.StreamID})
		if err != nil {
			return err
		}
		r := rbTotalV2{ID: e.StreamID}
		if len(rows) > 0 {
			r = rows[0]
		}
		r.Total += int64(ev.N)
		r.Events++
		return rbTotalsV2.Upsert(ctx, v, r)
	})
	return p
}

func rbRegistry(p *es.Projector) *es.Registry {
	r := es.NewRegistry()
	c := es.RegisterAggregate(r, "rb.Counter", func() *rbCounter { return new(rbCounter) })
	es.RegisterEvent[rbAdded](c, "rb.Added")
	es.RegisterEvent[rbNoted](c, "rb.Noted")
	r.AddProjector(p)
	return r
}

var rbQuiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// rbOptions are a service's options for the rebuild cases: small chunks, short
// leases, nothing logged.
func rbOptions() es.Options {
	return es.Options{ConflictRetries: 50, RebuildChunk: 25, LeaseTTL: 2 * time.Second, RepairAfter: 100 * time.Millisecond, Logger: rbQuiet}
}

// rbExpected replays the whole log by hand: the rows version 2 must hold.
func rbExpected(ctx context.Context, s es.EventStore, n int) ([]rbTotalV2, error) {
	log, err := readLogUntil(ctx, s, n)
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]*rbTotalV2{}
	for _, rec := range log {
		if rec.Type != "rb.Added" {
			continue
		}
		var ev rbAdded
		if err := json.Unmarshal(rec.Data, &ev); err != nil {
			return nil, err
		}
		t := byID[rec.StreamID]
		if t == nil {
			t = &rbTotalV2{ID: rec.StreamID}
			byID[rec.StreamID] = t
		}
		t.Total += int64(ev.N)
		t.Events++
	}
	out := make([]rbTotalV2, 0, len(byID))
	for _, t := range byID {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b rbTotalV2) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	return out, nil
}

// rbWaitServing waits until the projector's version 2 serves, calling each
// (when not nil) between looks.
func rbWaitServing(ctx context.Context, reg *es.Registry, s es.EventStore, each func()) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if each != nil {
			each()
		}
		st, err := es.ReadModelStatus(ctx, reg, s)
		if err != nil {
			return err
		}
		if st[0].Serving == 2 && st[0].Phase == es.PhaseServing {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("version 2 does not serve after 60s: status %+v", st[0])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rbSeed adds n counters with k additions each through svc, and returns their ids.
func rbSeed(ctx context.Context, svc *es.CommandService, n, k int) ([]uuid.UUID, int, error) {
	ids := make([]uuid.UUID, n)
	events := 0
	for i := range ids {
		ids[i] = uuid.New()
		for j := range k {
			if _, err := svc.Append(ctx, ids[i], rbAdded{N: i*10 + j}, rbNoted{}); err != nil {
				return nil, 0, err
			}
			events += 2
		}
	}
	return ids, events, nil
}

// rebuildCases check [es.ReadModelStore] through the runtime that drives it;
// TestEventStore runs them on stores that have it.
func rebuildCases() []storeCase {
	rms := func(run func(context.Context, es.ReadModelStore) error) func(context.Context, es.EventStore) error {
		return func(ctx context.Context, s es.EventStore) error {
			r, ok := s.(es.ReadModelStore)
			if !ok {
				return nil
			}
			return run(ctx, r)
		}
	}
	return []storeCase{
		{"stream the log by type", "StreamLog yields the events of the given types after the cursor in log order, at most limit; CountLog counts them",
			rms(func(ctx context.Context, s es.ReadModelStore) error {
				svc, err := es.NewCommandService(ctx, rbRegistry(rbProjectorV1()), s, rbOptions())
				if err != nil {
					return err
				}
				defer svc.Close()
				if _, _, err := rbSeed(ctx, svc, 3, 2); err != nil {
					return err
				}
				if _, err := readLogUntil(ctx, s, 12); err != nil {
					return err
				}
				var got []es.EventRecord
				collect := func(rec es.EventRecord) error { got = append(got, rec); return nil }
				if err := s.StreamLog(ctx, es.Cursor{}, []string{"rb.Added"}, 0, collect); err != nil {
					return err
				}
				if len(got) != 6 || slices.ContainsFunc(got, func(r es.EventRecord) bool { return r.Type != "rb.Added" }) {
					return fmt.Errorf("StreamLog(rb.Added) gave %d events, want the 6 rb.Added", len(got))
				}
				if !slices.IsSortedFunc(got, func(a, b es.EventRecord) int {
					if a.Cursor().Before(b.Cursor()) {
						return -1
					}
					return 1
				}) {
					return errors.New("StreamLog is not in log order")
				}
				after := got[1].Cursor()
				got = nil
				if err := s.StreamLog(ctx, after, []string{"rb.Added"}, 3, collect); err != nil {
					return err
				}
				if len(got) != 3 || !after.Before(got[0].Cursor()) {
					return fmt.Errorf("StreamLog after the second event, limit 3, gave %d events", len(got))
				}
				n, err := s.CountLog(ctx, after, []string{"rb.Added"}, false)
				if err != nil {
					return err
				}
				all, err := s.CountLog(ctx, es.Cursor{}, nil, true)
				if err != nil {
					return err
				}
				if n != 4 || all != 12 {
					return fmt.Errorf("CountLog = %d after the second rb.Added and %d in all, want 4 and 12", n, all)
				}
				return nil
			})},
		{"serving versions", "ClaimVersion records a version only where none is; a commit reads the serving versions of its ReadModels into Serving",
			rms(func(ctx context.Context, s es.ReadModelStore) error {
				v, err := s.ClaimVersion(ctx, "m", 3)
				if err != nil {
					return err
				}
				if again, err := s.ClaimVersion(ctx, "m", 5); err != nil || v != 3 || again != 3 {
					return fmt.Errorf("ClaimVersion gave %d then %d (%v), want 3 both times", v, again, err)
				}
				f := newFixture()
				c := &es.Commit{Command: f.command(), ReadModels: []string{"m", "unknown"}}
				c.Streams = append(c.Streams, f.write(f.id(), "test.Thing", 0, 1, c.Command))
				var seen []int
				if err := s.Commit(ctx, c, func(context.Context, es.Persistor) error { seen = slices.Clone(c.Serving); return nil }); err != nil {
					return err
				}
				if !slices.Equal(seen, []int{3, 0}) {
					return fmt.Errorf("inTx saw Serving = %v, want [3 0]", seen)
				}
				return nil
			})},
		{"a changed table needs a version", "a service whose projector's table changed without a higher version fails to start, saying to raise Versioned",
			rms(func(ctx context.Context, s es.ReadModelStore) error {
				svc, err := es.NewCommandService(ctx, rbRegistry(rbProjectorV1()), s, rbOptions())
				if err != nil {
					return err
				}
				svc.Close()
				same := es.NewProjector(rbProjector, rbTotalsV2) // version 1 still
				_, err = es.NewCommandService(ctx, rbRegistry(same), s, rbOptions())
				if err == nil || !errors.Is(err, es.ErrTableChanged) || !strings.Contains(err.Error(), "raise Versioned(2) of projector rb_totals") {
					return fmt.Errorf("start with a changed table returned %v, want ErrTableChanged saying raise Versioned(2) of projector rb_totals", err)
				}
				return nil
			})},
		{"inline rebuild under writers", "a service with a new version of an inline projector starts on the old tables, which serve until the swap; 8 writers on the old and the new version race the background rebuild; then the tables equal a replay of the whole history, and the old version's service still executes commands without writing them",
			rms(func(ctx context.Context, s es.ReadModelStore) error {
				return rbRace(ctx, s, rbProjectorV1(), rbProjectorV2())
			})},
		{"async rebuild under writers", "a worker with a new version of an async projector rebuilds it into shadow tables while 8 writers commit; then the tables equal a replay of the whole history",
			rms(func(ctx context.Context, s es.ReadModelStore) error {
				return rbRace(ctx, s, rbProjectorV1().Async(), rbProjectorV2().Async())
			})},
		{"interrupted rebuild resumes", "a rebuild stopped after a write resumes from it in the next run, and its status reports phase, progress and version meanwhile",
			rms(func(ctx context.Context, s es.ReadModelStore) error {
				v1, err := es.NewCommandService(ctx, rbRegistry(rbProjectorV1()), s, rbOptions())
				if err != nil {
					return err
				}
				defer v1.Close()
				_, events, err := rbSeed(ctx, v1, 20, 5) // 100 additions: 4 writes of 25
				if err != nil {
					return err
				}
				if _, err := readLogUntil(ctx, s, events); err != nil { // readable from here on
					return err
				}
				reg := rbRegistry(rbProjectorV2())
				opts := rbOptions()
				opts.ManualRebuilds = true
				v2, err := es.NewCommandService(ctx, reg, s, opts)
				if err != nil {
					return err
				}
				defer v2.Close()
				first, cancel := context.WithCancel(ctx)
				defer cancel()
				err = v2.Rebuild(first, rbProjector, func(p es.RebuildProgress) {
					if p.Phase == es.PhaseReplay && p.Done > 0 {
						cancel()
					}
				})
				if err == nil {
					return errors.New("the interrupted rebuild returned no error")
				}
				st, err := es.ReadModelStatus(ctx, reg, s)
				if err != nil {
					return err
				}
				if st[0].Building != 2 || st[0].Serving != 1 || st[0].Done != 25 || st[0].Total != 100 || st[0].Phase != es.PhaseReplay || !st[0].Stale {
					return fmt.Errorf("status after the first write: %+v, want version 2 building from 1, 25 of 100 done, phase replay, stale", st[0])
				}
				var resumedAt int64 = -1
				if err := v2.Rebuild(ctx, rbProjector, func(p es.RebuildProgress) {
					if resumedAt < 0 {
						resumedAt = p.Done
					}
				}); err != nil {
					return err
				}
				if resumedAt != 25 {
					return fmt.Errorf("the second run began at %d events done, want 25 (the first run's write)", resumedAt)
				}
				want, err := rbExpected(ctx, s, events)
				if err != nil {
					return err
				}
				got, err := rbTotalsV2.Find(ctx, s.Views(), nil)
				if err != nil {
					return err
				}
				if !slices.Equal(sortTotals(got), want) {
					return fmt.Errorf("after the resumed rebuild the table holds %v, want %v", got, want)
				}
				st, err = es.ReadModelStatus(ctx, reg, s)
				if err != nil {
					return err
				}
				if st[0].Serving != 2 || st[0].Phase != es.PhaseServing || st[0].Stale {
					return fmt.Errorf("status after the swap: %+v, want version 2 serving", st[0])
				}
				return nil
			})},
	}
}

func sortTotals(rows []rbTotalV2) []rbTotalV2 {
	slices.SortFunc(rows, func(a, b rbTotalV2) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	return rows
}

// rbRace deploys v1, then v2 beside it while 8 writers commit through both,
// and checks v2's tables against a replay of the whole history.
func rbRace(ctx context.Context, s es.ReadModelStore, v1p, v2p *es.Projector) error {
	reg1, reg2 := rbRegistry(v1p), rbRegistry(v2p)
	v1, err := es.NewCommandService(ctx, reg1, s, rbOptions())
	if err != nil {
		return err
	}
	defer v1.Close()
	var workers []*es.ProjectionWorker
	run, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	if v1p.IsAsync() {
		w, err := es.NewProjectionWorker(reg1, s, es.WorkerOptions{Owner: "v1", Logger: rbQuiet, PollMax: 50 * time.Millisecond})
		if err != nil {
			return err
		}
		workers = append(workers, w)
		wg.Go(func() { _ = w.Run(run) })
	}
	ids, events, err := rbSeed(ctx, v1, 24, 5)
	if err != nil {
		return err
	}
	opts := rbOptions()
	opts.RebuildChunk = 100
	v2, err := es.NewCommandService(ctx, reg2, s, opts)
	if err != nil {
		return fmt.Errorf("start of version 2 on version 1's tables: %w", err)
	}
	defer v2.Close()
	if v2p.IsAsync() {
		w, err := es.NewProjectionWorker(reg2, s, es.WorkerOptions{Owner: "v2", Logger: rbQuiet, RebuildChunk: 100, LeaseTTL: 2 * time.Second, PollMax: 50 * time.Millisecond})
		if err != nil {
			return err
		}
		workers = append(workers, w)
		wg.Go(func() { _ = w.Run(run) })
	}
	var (
		mu       sync.Mutex
		written  int
		failures []error
	)
	served := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 8 {
		svc := v2
		if w%2 == 0 && !v1p.IsAsync() {
			svc = v1 // inline: the old version commits too, until the swap
		}
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			after := 0 // commits after the swap
			for after < 5 {
				select {
				case <-served:
					after++
				default:
				}
				id := ids[w+8*rng.IntN(len(ids)/8)] // its own counters: no conflicts
				if w%4 == 3 {
					id = uuid.New() // new counters too
				}
				_, err := svc.Append(ctx, id, rbAdded{N: rng.IntN(100)})
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					written++
				}
				mu.Unlock()
				if err != nil {
					return
				}
				// Paced a little: the case is about correctness under
				// concurrency, and a rebuild must be able to catch up with
				// writers on a loaded machine too.
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	readErrs := 0
	read := func() {
		if _, err := rbTotalsV1.Find(ctx, s.Views(), nil); err != nil {
			readErrs++ // the old version's reads go on: total and id exist in both
		}
	}
	if err := rbWaitServing(ctx, reg2, s, read); err != nil {
		close(served)
		writers.Wait()
		return err
	}
	close(served)
	writers.Wait()
	if err := errors.Join(failures...); err != nil {
		return fmt.Errorf("a writer failed: %w", err)
	}
	if readErrs > 0 {
		return fmt.Errorf("%d reads of the live table failed during the rebuild", readErrs)
	}
	if !v1p.IsAsync() {
		// The old version still executes commands after the swap, and leaves
		// the new tables alone (its rows would lack the new column).
		if _, err := v1.Append(ctx, ids[0], rbNoted{}); err != nil {
			return fmt.Errorf("the old version's command after the swap: %w", err)
		}
		events++
	}
	want, err := rbExpected(ctx, s, events+written)
	if err != nil {
		return err
	}
	stop() // the workers' runs end: CatchUp below must not race them under the same owner
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, w := range workers {
			if err := w.CatchUp(ctx); err != nil && !strings.Contains(err.Error(), "newer") {
				return err
			}
		}
		got, err := rbTotalsV2.Find(ctx, s.Views(), nil)
		if err != nil {
			return err
		}
		if slices.Equal(sortTotals(got), want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after the swap the table holds %d rows that differ from a replay of the whole history (%d rows; %d events written during the rebuild)",
				len(got), len(want), written)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
