package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/jackc/pgx/v5"
)

// shadowSuffix names a table's shadow while its projector is rebuilt.
const shadowSuffix = "__rebuild"

// codeLockNotAvailable: lock_timeout expired.
const codeLockNotAvailable = "55P03"

// Rebuild implements [es.Rebuilder]: it replays the whole log into shadow tables
// (<table>__rebuild) and swaps them in, in one short transaction, once they have
// caught up; the live tables serve reads until then. The caller (an
// [es.ProjectionWorker]) holds the leases of every partition of p; Rebuild keeps
// them renewed and fences every write with them, so a worker that lost them
// writes nothing and gets an error wrapping [es.ErrLeaseLost].
//
// Events are applied in memory ([memstore.Views], one [memstore.Tx] per chunk of
// [Config.RebuildChunk] events) and each chunk's changed rows are written with
// COPY, together with the rebuild's cursor: an interrupted rebuild of the same
// version resumes after its last chunk, after loading the shadow tables back
// into memory. Secondary indexes are built once the replay has reached the end of
// the log. The projector's tables must therefore fit in memory.
//
// progress, when non-nil, is called when the replay starts and after every
// chunk ("replay", then "catch-up" once the indexes are built), when the
// indexes are built ("copy"), before the swap ("swap") and at the end ("done").
//
// A handler that fails during the rebuild stops it: the failure is recorded on
// the projector's first partition and returned as an [*es.ProjectionFailure];
// after [es.ProjectionWorker.Resume] the rebuild resumes from its last chunk.
func (s *Store) Rebuild(ctx context.Context, reg *es.Registry, p *es.Projector, owner string, progress func(es.RebuildProgress)) error {
	if s.err != nil {
		return s.err
	}
	r, err := s.newRebuild(reg, p, owner, progress)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ttl, err := r.renew(ctx, s.pool)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.keepLeases(ctx, ttl, cancel) })
	defer wg.Wait()
	defer cancel(nil)
	if err := r.run(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) && ctx.Err() != nil {
			return errors.Join(err, cause)
		}
		return err
	}
	return nil
}

// rebuild is one run of [Store.Rebuild].
type rebuild struct {
	s        *Store
	reg      *es.Registry
	p        *es.Projector
	owner    string
	names    []string // the projection state of every partition
	tables   []*shadowTable
	mem      *memstore.Views // the rebuilt tables, as the shadow tables hold them
	progress func(es.RebuildProgress)

	cursor  es.Cursor // the last event in the shadow tables
	done    int64     // events applied, in this run and the interrupted ones
	total   int64
	applied int64 // events applied in this run, for the rate
	started time.Time
}

// shadowTable is one of the projector's tables and its shadow.
type shadowTable struct {
	def     es.TableDef         // the live table
	shadow  es.TableDef         // <table>__rebuild, without secondary indexes
	written map[string]struct{} // the keys of the rows the shadow holds
}

func (s *Store) newRebuild(reg *es.Registry, p *es.Projector, owner string, progress func(es.RebuildProgress)) (*rebuild, error) {
	r := &rebuild{s: s, reg: reg, p: p, owner: owner, mem: memstore.NewViews(), progress: progress, started: time.Now()}
	for part := range p.Partitions() {
		r.names = append(r.names, es.PartitionName(p, part))
	}
	for _, d := range p.Tables() {
		if err := checkTableDef(d); err != nil {
			return nil, fmt.Errorf("pgstore: rebuild %s: %w", p.Name(), err)
		}
		sh := d
		sh.Name, sh.Indexes = d.Name+shadowSuffix, nil
		if err := checkIdent("shadow table name", sh.Name); err != nil {
			return nil, fmt.Errorf("pgstore: rebuild %s: table %s: its name must leave room for the suffix %s: %w", p.Name(), d.Name, shadowSuffix, err)
		}
		r.tables = append(r.tables, &shadowTable{def: d, shadow: sh, written: map[string]struct{}{}})
	}
	return r, nil
}

func (r *rebuild) run(ctx context.Context) error {
	if err := r.mem.CreateTables(ctx, r.p.Tables()...); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: %w", r.p.Name(), err)
	}
	if err := r.start(ctx); err != nil {
		return err
	}
	if err := r.count(ctx); err != nil {
		return err
	}
	// Reported at once: a log that the watermark still holds back has no chunk
	// to report, and tools want to know the rebuild has begun.
	r.report("replay")
	if err := r.follow(ctx, "replay"); err != nil {
		return err
	}
	if err := r.index(ctx); err != nil {
		return err
	}
	r.report("copy")
	if err := r.count(ctx); err != nil {
		return err
	}
	if err := r.follow(ctx, "catch-up"); err != nil {
		return err
	}
	r.report("swap")
	if err := r.swap(ctx); err != nil {
		return err
	}
	r.report("done")
	return nil
}

// start resumes the recorded rebuild of this version, or starts afresh with
// empty shadow tables.
func (r *rebuild) start(ctx context.Context) error {
	var version int32
	err := r.s.pool.QueryRow(ctx, r.s.psql.rebuildState, r.p.Name()).Scan(&version, &r.cursor.TxID, &r.cursor.Position, &r.done)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("pgstore: rebuild %s: read its state: %w", r.p.Name(), err)
	case int(version) == r.p.Version():
		ok, err := r.load(ctx)
		if err != nil || ok {
			return err
		}
	}
	r.cursor, r.done = es.Cursor{}, 0
	tx, err := r.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: rebuild %s: %w", r.p.Name(), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	// Fenced like every later write: a worker that lost the leases since it
	// read the state above must not drop the shadow tables of their new holder.
	if _, err := r.renew(ctx, tx); err != nil {
		return err
	}
	var shadows []es.TableDef
	for _, t := range r.tables {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+tableRef(r.s.cfg.ViewSchema, t.shadow)); err != nil {
			return fmt.Errorf("pgstore: rebuild %s: drop %s: %w", r.p.Name(), t.shadow.Name, err)
		}
		shadows = append(shadows, t.shadow)
		r.s.catalog.forget(t.shadow.Name)
	}
	ddl, err := createTablesSQL(r.s.cfg.ViewSchema, shadows)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: create shadow tables: %w", r.p.Name(), err)
	}
	if _, err := tx.Exec(ctx, r.s.psql.startRebuild, r.p.Name(), int32(r.p.Version())); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: record it: %w", r.p.Name(), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: start: %w", r.p.Name(), err)
	}
	return nil
}

// load reads the shadow tables of an interrupted rebuild into memory; ok is
// false when they are missing or have other columns (the rebuild starts afresh).
func (r *rebuild) load(ctx context.Context) (ok bool, err error) {
	views := r.s.views(r.s.pool)
	for _, t := range r.tables {
		got, exists, err := describe(ctx, r.s.pool, r.s.cfg.ViewSchema, t.shadow.Name)
		if err != nil {
			return false, fmt.Errorf("pgstore: rebuild %s: %s: %w", r.p.Name(), t.shadow.Name, err)
		}
		if !exists || !sameTable(got, t.shadow) {
			return false, nil
		}
		r.s.catalog.put(got)
	}
	for _, t := range r.tables {
		rows, err := views.Find(ctx, t.shadow.Name, nil)
		if err != nil {
			return false, fmt.Errorf("pgstore: rebuild %s: resume: %w", r.p.Name(), err)
		}
		tx := r.mem.Begin()
		for _, row := range rows {
			if err := tx.Insert(ctx, t.def.Name, row); err != nil {
				return false, fmt.Errorf("pgstore: rebuild %s: resume: %w", r.p.Name(), err)
			}
			t.written[t.def.KeyString(row)] = struct{}{}
		}
		if err := tx.Commit(); err != nil {
			return false, err
		}
	}
	return true, nil
}

// count sets the total: what is done plus what the log holds after the cursor.
func (r *rebuild) count(ctx context.Context) error {
	n, _, err := r.s.Behind(ctx, r.cursor, 0, 1)
	if err != nil {
		return fmt.Errorf("pgstore: rebuild %s: %w", r.p.Name(), err)
	}
	r.total = r.done + n
	return nil
}

// follow applies the log in chunks until a chunk comes back short: the end of
// the log, give or take the events of the last moments.
func (r *rebuild) follow(ctx context.Context, phase string) error {
	size := r.s.cfg.RebuildChunk
	for {
		recs, err := r.s.ReadLog(ctx, r.cursor, size)
		if err != nil {
			return fmt.Errorf("pgstore: rebuild %s: %w", r.p.Name(), err)
		}
		if len(recs) == 0 {
			return nil
		}
		if err := r.chunk(ctx, recs); err != nil {
			return err
		}
		r.total = max(r.total, r.done)
		r.report(phase)
		if len(recs) < size {
			return nil
		}
	}
}

// chunk applies recs in memory and writes the changed rows, the new cursor and
// the renewed leases in one transaction.
func (r *rebuild) chunk(ctx context.Context, recs []es.EventRecord) error {
	mtx, err := r.apply(ctx, recs)
	if err != nil {
		return err
	}
	changes := mtx.Changes()
	keys := r.keysOf(changes)
	tx, err := r.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: rebuild %s: %w", r.p.Name(), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := r.write(ctx, tx, changes, keys); err != nil {
		return err
	}
	to := recs[len(recs)-1].Cursor()
	if _, err := tx.Exec(ctx, r.s.psql.rebuildStep, r.p.Name(), to.TxID, to.Position, r.done+int64(len(recs))); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: record progress: %w", r.p.Name(), err)
	}
	if _, err := r.renew(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: commit a chunk: %w", r.p.Name(), err)
	}
	r.committed(mtx, changes, keys, to, len(recs))
	return nil
}

// committed takes note of a chunk the database committed.
func (r *rebuild) committed(mtx *memstore.Tx, changes []memstore.Change, keys []string, to es.Cursor, n int) {
	_ = mtx.Commit() // never fails
	for _, t := range r.tables {
		for i, c := range changes {
			if c.Table != t.def.Name {
				continue
			}
			if c.Row == nil {
				delete(t.written, keys[i])
			} else {
				t.written[keys[i]] = struct{}{}
			}
		}
	}
	r.cursor = to
	r.done += int64(n)
	r.applied += int64(n)
}

// apply runs the projector on recs in a memory transaction over the rebuilt
// tables. A failing event stops the rebuild: it is recorded as the projection's
// failure.
func (r *rebuild) apply(ctx context.Context, recs []es.EventRecord) (*memstore.Tx, error) {
	mtx := r.mem.Begin()
	for _, rec := range recs {
		env, err := r.reg.Decode(rec)
		if err == nil {
			err = r.p.Apply(ctx, mtx, env)
		}
		if err != nil {
			f := &es.ProjectionFailure{Projection: r.names[0], At: rec.Cursor(), StreamID: rec.StreamID,
				Version: rec.Version, Type: rec.Type, Err: fmt.Errorf("rebuild to version %d: %w", r.p.Version(), err)}
			if serr := r.s.SetFailure(context.WithoutCancel(ctx), r.names[0], rec.Cursor(), f.Error()); serr != nil {
				return nil, errors.Join(f, serr)
			}
			return nil, f
		}
	}
	return mtx, nil
}

// keysOf returns the row key of each change, for write and committed to share.
func (r *rebuild) keysOf(changes []memstore.Change) []string {
	keys := make([]string, len(changes))
	for i, c := range changes {
		for _, t := range r.tables {
			if t.def.Name == c.Table {
				keys[i] = t.def.KeyString(c.Key)
				break
			}
		}
	}
	return keys
}

// write writes changed rows to the shadow tables: rows the shadow holds already
// are deleted first, then every row that is (still) there is copied in. keys
// are the changes' row keys (keysOf).
func (r *rebuild) write(ctx context.Context, tx pgx.Tx, changes []memstore.Change, keys []string) error {
	for _, t := range r.tables {
		var (
			gone [][]any // per key column, the keys of rows to delete
			rows [][]any
		)
		for i, c := range changes {
			if c.Table != t.def.Name {
				continue
			}
			if _, ok := t.written[keys[i]]; ok {
				if gone == nil {
					gone = make([][]any, len(t.def.Key))
				}
				for i, k := range t.def.Key {
					col, _ := t.def.Column(k)
					gone[i] = append(gone[i], param(col, c.Key[k]))
				}
			}
			if c.Row != nil {
				vals := make([]any, len(t.def.Columns))
				for i, col := range t.def.Columns {
					vals[i] = param(col, c.Row[col.Name])
				}
				rows = append(rows, vals)
			}
		}
		if gone != nil {
			args := make([]any, len(gone))
			for i, g := range gone {
				args[i] = g
			}
			if _, err := tx.Exec(ctx, deleteKeysSQL(r.s.cfg.ViewSchema, t.shadow), args...); err != nil {
				return fmt.Errorf("pgstore: rebuild %s: delete from %s: %w", r.p.Name(), t.shadow.Name, err)
			}
		}
		if len(rows) > 0 {
			cols := make([]string, len(t.def.Columns))
			for i, c := range t.def.Columns {
				cols[i] = c.Name
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{r.s.cfg.ViewSchema, t.shadow.Name}, cols, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("pgstore: rebuild %s: copy into %s: %w", r.p.Name(), t.shadow.Name, err)
			}
		}
	}
	return nil
}

// index builds the secondary indexes of the shadow tables, under names of their
// own until the swap, and updates the planner's statistics.
func (r *rebuild) index(ctx context.Context) error {
	for _, t := range r.tables {
		table := tableRef(r.s.cfg.ViewSchema, t.shadow)
		for _, cols := range t.def.Indexes {
			ddl := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent(indexName(t.shadow.Name, cols)), table, quoteList(cols))
			if _, err := r.s.pool.Exec(ctx, ddl); err != nil {
				return fmt.Errorf("pgstore: rebuild %s: index %s: %w", r.p.Name(), t.shadow.Name, err)
			}
		}
		if _, err := r.s.pool.Exec(ctx, "ANALYZE "+table); err != nil {
			return fmt.Errorf("pgstore: rebuild %s: analyze %s: %w", r.p.Name(), t.shadow.Name, err)
		}
	}
	return nil
}

// swap applies the last events and puts the shadow tables in place of the live
// ones, in one transaction; a swap that waits too long for the tables' readers
// gives up and tries again.
func (r *rebuild) swap(ctx context.Context) error {
	var err error
	for try := range 5 {
		if err = r.swapOnce(ctx); err == nil {
			break
		}
		if pe := pgError(err); pe == nil || pe.Code != codeLockNotAvailable {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try+1) * 200 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	for _, t := range r.tables {
		r.s.catalog.forget(t.def.Name)
		r.s.catalog.forget(t.shadow.Name)
	}
	// Cached statements may describe the replaced tables; one whose result
	// type changed would fail ("cached plan must not change result type").
	for _, c := range r.s.pool.AcquireAllIdle(ctx) {
		_ = c.Conn().DeallocateAll(ctx)
		c.Release()
	}
	return nil
}

func (r *rebuild) swapOnce(ctx context.Context) error {
	name := r.p.Name()
	tx, err := r.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: rebuild %s: swap: %w", name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '2s'"); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: swap: %w", name, err)
	}
	// The last events, read before this transaction writes (and gets an xid).
	rows, err := tx.Query(ctx, r.s.sql.readLog, r.cursor.TxID, r.cursor.Position, nil)
	if err != nil {
		return fmt.Errorf("pgstore: rebuild %s: swap: read the log: %w", name, err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return fmt.Errorf("pgstore: rebuild %s: swap: read the log: %w", name, err)
	}
	to := r.cursor
	var (
		mtx     *memstore.Tx
		changes []memstore.Change
		keys    []string
	)
	if len(recs) > 0 {
		// Applied before the renewal locks the projections' rows: a failing
		// event is recorded (SetFailure, on another connection) on one of them.
		if mtx, err = r.apply(ctx, recs); err != nil {
			return err
		}
		changes = mtx.Changes()
		keys = r.keysOf(changes)
	}
	if _, err := r.renew(ctx, tx); err != nil {
		return err
	}
	if len(recs) > 0 {
		if err := r.write(ctx, tx, changes, keys); err != nil {
			return err
		}
		to = recs[len(recs)-1].Cursor()
	}
	schema := quoteIdent(r.s.cfg.ViewSchema)
	for _, t := range r.tables {
		var pkey string
		err := tx.QueryRow(ctx, `SELECT c.conname::text FROM pg_catalog.pg_constraint c
			JOIN pg_catalog.pg_class t ON t.oid = c.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
			WHERE n.nspname = $1 AND t.relname = $2 AND c.contype = 'p'`, r.s.cfg.ViewSchema, t.shadow.Name).Scan(&pkey)
		if err != nil {
			return fmt.Errorf("pgstore: rebuild %s: swap: primary key of %s: %w", name, t.shadow.Name, err)
		}
		ddl := fmt.Sprintf("DROP TABLE IF EXISTS %s;\nALTER TABLE %s RENAME TO %s;\nALTER TABLE %s RENAME CONSTRAINT %s TO %s;\n",
			tableRef(r.s.cfg.ViewSchema, t.def), tableRef(r.s.cfg.ViewSchema, t.shadow), quoteIdent(t.def.Name),
			tableRef(r.s.cfg.ViewSchema, t.def), quoteIdent(pkey), quoteIdent(t.def.Name+"_pkey"))
		for _, cols := range t.def.Indexes {
			ddl += fmt.Sprintf("ALTER INDEX %s.%s RENAME TO %s;\n", schema, quoteIdent(indexName(t.shadow.Name, cols)), quoteIdent(indexName(t.def.Name, cols)))
		}
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("pgstore: rebuild %s: swap %s in: %w", name, t.def.Name, err)
		}
	}
	tag, err := tx.Exec(ctx, r.s.psql.checkpointAll, r.names, r.owner, to.TxID, to.Position, int32(r.p.Version()))
	if err != nil {
		return fmt.Errorf("pgstore: rebuild %s: swap: checkpoints: %w", name, err)
	}
	if tag.RowsAffected() != int64(len(r.names)) {
		return fmt.Errorf("pgstore: rebuild %s as %s: %w", name, r.owner, es.ErrLeaseLost)
	}
	if _, err := tx.Exec(ctx, r.s.psql.endRebuild, name); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: swap: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: rebuild %s: swap: %w", name, err)
	}
	if mtx != nil {
		r.committed(mtx, changes, keys, to, len(recs))
		r.total = max(r.total, r.done)
	}
	return nil
}

// renew renews the leases of every partition on q, and returns their length;
// it fails with an error wrapping es.ErrLeaseLost unless owner holds them all.
func (r *rebuild) renew(ctx context.Context, q Querier) (time.Duration, error) {
	rows, err := q.Query(ctx, r.s.psql.renew, r.names, r.owner)
	if err != nil {
		return 0, fmt.Errorf("pgstore: rebuild %s: renew leases: %w", r.p.Name(), err)
	}
	ttls, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return 0, fmt.Errorf("pgstore: rebuild %s: renew leases: %w", r.p.Name(), err)
	}
	if len(ttls) != len(r.names) {
		return 0, fmt.Errorf("pgstore: rebuild %s as %s: %w", r.p.Name(), r.owner, es.ErrLeaseLost)
	}
	ttl := time.Duration(ttls[0] * float64(time.Second))
	for _, t := range ttls[1:] {
		ttl = min(ttl, time.Duration(t*float64(time.Second)))
	}
	return ttl, nil
}

// keepLeases renews the leases every third of their length until ctx is done;
// when they are lost, it cancels the rebuild.
func (r *rebuild) keepLeases(ctx context.Context, ttl time.Duration, cancel context.CancelCauseFunc) {
	every := max(ttl/3, 50*time.Millisecond)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		if _, err := r.renew(ctx, r.s.pool); err != nil {
			if ctx.Err() == nil && errors.Is(err, es.ErrLeaseLost) {
				cancel(err)
				return
			}
		}
	}
}

func (r *rebuild) report(phase string) {
	if r.progress == nil {
		return
	}
	var rate float64
	if secs := time.Since(r.started).Seconds(); secs > 0 {
		rate = float64(r.applied) / secs
	}
	r.progress(es.RebuildProgress{Projector: r.p.Name(), Done: r.done, Total: max(r.total, r.done), Rate: rate, Phase: phase})
}

// deleteKeysSQL deletes the rows whose keys are in the arrays $1…$n, one per key
// column.
func deleteKeysSQL(schema string, d es.TableDef) string {
	var using, on string
	for i, k := range d.Key {
		c, _ := d.Column(k)
		typ := sqlTypes[c.Type]
		if c.Type == es.Text {
			typ = "text"
		}
		if i > 0 {
			using += ", "
			on += " AND "
		}
		using += fmt.Sprintf("$%d::%s[]", i+1, typ)
		on += fmt.Sprintf("t.%s = k.k%d", quoteIdent(k), i)
	}
	cols := ""
	for i := range d.Key {
		if i > 0 {
			cols += ", "
		}
		cols += fmt.Sprintf("k%d", i)
	}
	return fmt.Sprintf("DELETE FROM %s t USING unnest(%s) AS k(%s) WHERE %s", tableRef(schema, d), using, cols, on)
}
