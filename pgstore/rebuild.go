package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var _ es.ReadModelStore = (*Store)(nil)

// shadowSuffix names a table's shadow while its projector is rebuilt.
const shadowSuffix = "__rebuild"

// rebuildSQL holds the statements of rebuilds, with the schema filled in.
type rebuildSQL struct {
	streamLog, countLog, claim, state, start, step, fail, end, lockExclusive string
}

func newRebuildSQL(schema string) rebuildSQL {
	q := rebuildSQL{
		// A plain statement, streamed as the server sends it (a function would
		// collect every row first); planned for its parameters each time (an
		// unnamed statement, see streamLog).
		streamLog: `SELECT ` + eventColumns + `
			FROM {{schema}}.events e JOIN {{schema}}.streams s ON s.stream_id = e.stream_id
			WHERE (e.xact_id, e.position) > ($1::xid8, $2::bigint)
			  AND ($5 OR e.xact_id < pg_snapshot_xmin(pg_current_snapshot()))
			  AND ($3::text[] IS NULL OR e.type = ANY ($3::text[]))
			ORDER BY e.xact_id, e.position LIMIT $4`,
		countLog: `SELECT count(*) FROM {{schema}}.events e
			WHERE (e.xact_id, e.position) > ($1::xid8, $2::bigint)
			  AND ($4 OR e.xact_id < pg_snapshot_xmin(pg_current_snapshot()))
			  AND ($3::text[] IS NULL OR e.type = ANY ($3::text[]))`,
		claim: `INSERT INTO {{schema}}.projections AS p (name, version) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE
			   SET version = CASE WHEN p.version = 0 THEN EXCLUDED.version ELSE p.version END
			RETURNING version`,
		state: `SELECT version, xact_id, position, done, total, phase, started_at, updated_at, error
			FROM {{schema}}.rebuilds WHERE projector = $1`,
		start: `INSERT INTO {{schema}}.rebuilds AS r (projector, version) VALUES ($1, $2)
			ON CONFLICT (projector) DO UPDATE
			   SET version = EXCLUDED.version, xact_id = '0', position = 0, done = 0, total = 0,
			       phase = '', error = '', started_at = now(), updated_at = now()`,
		step: `UPDATE {{schema}}.rebuilds SET xact_id = $2, position = $3, done = $4, total = $5, phase = $6,
			error = '', updated_at = now() WHERE projector = $1`,
		fail:          `UPDATE {{schema}}.rebuilds SET error = $2, updated_at = now() WHERE projector = $1`,
		end:           `DELETE FROM {{schema}}.rebuilds WHERE projector = $1`,
		lockExclusive: `SELECT pg_advisory_xact_lock(1668247155, {{schema}}.read_model_lock_key($1))`,
	}
	for _, p := range []*string{&q.streamLog, &q.countLog, &q.claim, &q.state, &q.start, &q.step, &q.fail, &q.end, &q.lockExclusive} {
		*p = withSchema(*p, schema)
	}
	return q
}

// typesParam is the types filter of a log read: NULL for every type.
func typesParam(types []string) any {
	if len(types) == 0 {
		return nil
	}
	return types
}

// StreamLog implements [es.ReadModelStore]: one statement, whose rows fn gets
// as they arrive.
func (s *Store) StreamLog(ctx context.Context, after es.Cursor, types []string, limit int, fn func(es.EventRecord) error) error {
	return s.streamLog(ctx, s.pool, after, types, limit, false, fn)
}

// streamLog reads the log after the cursor; all reads every committed event,
// ignoring the watermark (a swap that holds the lock every writer of its types
// takes).
func (s *Store) streamLog(ctx context.Context, q Querier, after es.Cursor, types []string, limit int, all bool, fn func(es.EventRecord) error) error {
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = int64(limit)
	}
	// Prepared as the unnamed statement, so that it is planned for these
	// parameters, and described, so that its rows come in binary (with
	// QueryExecModeExec, they would come as text: uuids, times and numbers
	// parsed from text cost more than the rest of the scan).
	rows, err := q.Query(ctx, s.rsql.streamLog, pgx.QueryExecModeDescribeExec, after.TxID, after.Position, typesParam(types), lim, all)
	if err != nil {
		return fmt.Errorf("pgstore: read log after %d/%d: %w", after.TxID, after.Position, err)
	}
	if err := scanRecords(rows, fn); err != nil {
		var f *es.ProjectionFailure
		if errors.As(err, &f) {
			return err
		}
		return fmt.Errorf("pgstore: read log after %d/%d: %w", after.TxID, after.Position, err)
	}
	return nil
}

// CountLog implements [es.ReadModelStore].
func (s *Store) CountLog(ctx context.Context, after es.Cursor, types []string, committed bool) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, s.rsql.countLog, pgx.QueryExecModeExec, after.TxID, after.Position, typesParam(types), committed).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count the log after %d/%d: %w", after.TxID, after.Position, err)
	}
	return n, nil
}

// ClaimVersion implements [es.ReadModelStore].
func (s *Store) ClaimVersion(ctx context.Context, name string, version int) (int, error) {
	var v int32
	if err := s.pool.QueryRow(ctx, s.rsql.claim, name, int32(version)).Scan(&v); err != nil {
		return 0, fmt.Errorf("pgstore: claim version %d of %s: %w", version, name, err)
	}
	return int(v), nil
}

// Rebuild implements [es.ReadModelStore].
func (s *Store) Rebuild(ctx context.Context, name string) (es.RebuildState, bool, error) {
	st, ok, err := s.rebuildState(ctx, s.pool, name)
	if err != nil {
		return es.RebuildState{}, false, fmt.Errorf("pgstore: rebuild of %s: %w", name, err)
	}
	return st, ok, nil
}

func (s *Store) rebuildState(ctx context.Context, q Querier, name string) (es.RebuildState, bool, error) {
	st := es.RebuildState{Projector: name}
	var version int32
	var started, updated pgtype.Timestamptz
	err := q.QueryRow(ctx, s.rsql.state, name).Scan(&version, &st.Cursor.TxID, &st.Cursor.Position, &st.Done, &st.Total,
		&st.Phase, &started, &updated, &st.Error)
	if errors.Is(err, pgx.ErrNoRows) {
		return es.RebuildState{}, false, nil
	}
	if err != nil {
		return es.RebuildState{}, false, err
	}
	st.Version, st.Started, st.Updated = int(version), started.Time.UTC(), updated.Time.UTC()
	return st, true, nil
}

// OpenRebuild implements [es.ReadModelStore]. The shadow tables are
// <table>__rebuild in the view schema, created without secondary indexes and
// without their primary keys (see shadowTablesSQL); the rebuilds table records
// the progress, so that a rebuild of the same version resumes.
func (s *Store) OpenRebuild(ctx context.Context, spec es.RebuildSpec) (es.RebuildSession, error) {
	r := &session{s: s, spec: spec}
	for _, d := range spec.Tables {
		if err := checkTableDef(d); err != nil {
			return nil, fmt.Errorf("pgstore: rebuild %s: %w", spec.Projector, err)
		}
		sh := d
		sh.Name, sh.Indexes = d.Name+shadowSuffix, nil
		if err := checkIdent("shadow table name", sh.Name); err != nil {
			return nil, fmt.Errorf("pgstore: rebuild %s: table %s: its name must leave room for the suffix %s: %w", spec.Projector, d.Name, shadowSuffix, err)
		}
		r.shadows = append(r.shadows, sh)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, r.errorf("open: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := r.fence(ctx, tx); err != nil {
		return nil, err
	}
	st, ok, err := s.rebuildState(ctx, tx, spec.Projector)
	if err != nil {
		return nil, r.errorf("read its state: %w", err)
	}
	if ok && st.Version == spec.Version {
		keyed, same, err := r.shadowsExist(ctx, tx)
		if err != nil {
			return nil, err
		}
		if same {
			r.resumed, r.keyed = st.RebuildMark, keyed
			return r, tx.Commit(ctx)
		}
	}
	for _, sh := range r.shadows {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+tableRef(s.cfg.ViewSchema, sh)); err != nil {
			return nil, r.errorf("drop %s: %w", sh.Name, err)
		}
		s.catalog.forget(sh.Name)
	}
	if _, err := tx.Exec(ctx, shadowTablesSQL(s.cfg.ViewSchema, r.shadows)); err != nil {
		return nil, r.errorf("create shadow tables: %w", err)
	}
	r.keyed = make([]bool, len(r.shadows))
	if _, err := tx.Exec(ctx, s.rsql.start, spec.Projector, int32(spec.Version)); err != nil {
		return nil, r.errorf("record it: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, r.errorf("start: %w", err)
	}
	return r, nil
}

// session implements [es.RebuildSession] by COPY into shadow tables.
type session struct {
	s       *Store
	spec    es.RebuildSpec
	shadows []es.TableDef // per table of spec, its shadow
	keyed   []bool        // per shadow, whether it has its primary key yet
	resumed es.RebuildMark
}

// shadowTablesSQL creates the shadow tables with the columns createTablesSQL
// gives view tables, but without their primary keys: COPY fills a table
// without an index several times faster than one whose index it must keep up
// to date, and building the key in one pass afterwards costs less than that
// (for a million rows of the ledger benchmark, 0.7s + 0.6s instead of 2.5s).
// Index builds it, or the first write that replaces rows (which it finds by
// key). The replay tables hand each key to the shadow table once, unless
// they replace its row, so the key holds when it is built.
func shadowTablesSQL(schema string, shadows []es.TableDef) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT pg_advisory_xact_lock(hashtextextended('pgstore views %s', 0));\n", schema)
	for _, d := range shadows {
		cols := make([]string, len(d.Columns))
		for i, c := range d.Columns {
			null := " NOT NULL"
			if c.Nullable && !slices.Contains(d.Key, c.Name) {
				null = ""
			}
			cols[i] = quoteIdent(c.Name) + " " + sqlTypes[c.Type] + null
		}
		fmt.Fprintf(&b, "CREATE TABLE %s (%s);\n", tableRef(schema, d), strings.Join(cols, ", "))
	}
	return b.String()
}

// addKey builds the primary key of shadow i, on q; the caller marks it keyed
// once that is committed.
func (r *session) addKey(ctx context.Context, q Querier, i int) error {
	sh := r.shadows[i]
	if _, err := q.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (%s)", tableRef(r.s.cfg.ViewSchema, sh), quoteList(sh.Key))); err != nil {
		return r.errorf("primary key of %s: %w", sh.Name, err)
	}
	return nil
}

func (r *session) errorf(format string, args ...any) error {
	return fmt.Errorf("pgstore: rebuild %s: "+format, append([]any{r.spec.Projector}, args...)...)
}

// fence renews the rebuild's lease on q, in q's transaction; it fails with an
// error wrapping es.ErrLeaseLost unless the session's owner holds it.
func (r *session) fence(ctx context.Context, q Querier) error {
	tag, err := q.Exec(ctx, r.s.psql.fence, r.spec.Lease, r.spec.Owner)
	if err != nil {
		return r.errorf("renew the lease: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return r.errorf("as %s: %w", r.spec.Owner, es.ErrLeaseLost)
	}
	return nil
}

// shadowsExist reports whether every shadow table exists with its columns,
// and which have their primary keys already.
func (r *session) shadowsExist(ctx context.Context, q Querier) ([]bool, bool, error) {
	keyed := make([]bool, len(r.shadows))
	for i, sh := range r.shadows {
		got, exists, err := describe(ctx, q, r.s.cfg.ViewSchema, sh.Name)
		if err != nil {
			return nil, false, r.errorf("%s: %w", sh.Name, err)
		}
		if !exists {
			return nil, false, nil
		}
		keyed[i] = len(got.Key) > 0
		if !keyed[i] {
			got.Key = sh.Key // not built yet: the columns must be right
		}
		if !sameTable(got, sh) {
			return nil, false, nil
		}
	}
	return keyed, true, nil
}

func (r *session) Resumed() es.RebuildMark { return r.resumed }

func (r *session) shadowOf(table string) (int, error) {
	for i, d := range r.spec.Tables {
		if d.Name == table {
			return i, nil
		}
	}
	return 0, r.errorf("table %s is not the projector's", table)
}

func (r *session) Rows(ctx context.Context, table string, fn func(es.Row) error) error {
	i, err := r.shadowOf(table)
	if err != nil {
		return err
	}
	sh := r.shadows[i]
	if !r.keyed[i] { // Find orders by it
		if err := r.addKey(ctx, r.s.pool, i); err != nil {
			return err
		}
		r.keyed[i] = true
		r.s.catalog.forget(sh.Name)
	}
	rows, err := r.s.views(r.s.pool).Find(ctx, sh.Name, nil)
	if err != nil {
		return r.errorf("resume: %w", err)
	}
	for _, row := range rows {
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

func (r *session) Write(ctx context.Context, changes []es.RowChange, mark es.RebuildMark) error {
	tx, err := r.s.pool.Begin(ctx)
	if err != nil {
		return r.errorf("%w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := r.fence(ctx, tx); err != nil {
		return err
	}
	keyed, err := r.write(ctx, tx, changes)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, r.s.rsql.step, r.spec.Projector, mark.Cursor.TxID, mark.Cursor.Position, mark.Done, mark.Total, mark.Phase); err != nil {
		return r.errorf("record progress: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return r.errorf("commit a chunk: %w", err)
	}
	for _, i := range keyed {
		r.keyed[i] = true
	}
	return nil
}

// write writes changed rows to the shadow tables: the rows they replace are
// deleted first, then every row that is (still) there is copied in. A shadow
// table whose rows are replaced gets its primary key first, to find them by;
// write returns those it gave one (keyed once tx commits).
func (r *session) write(ctx context.Context, tx pgx.Tx, changes []es.RowChange) (keyed []int, _ error) {
	for i, d := range r.spec.Tables {
		sh := r.shadows[i]
		var (
			gone [][]any // per key column, the keys of rows to delete
			rows int
		)
		for _, c := range changes {
			if c.Table != d.Name {
				continue
			}
			if c.Replace {
				if gone == nil {
					gone = make([][]any, len(d.Key))
				}
				for j, k := range d.Key {
					col, _ := d.Column(k)
					gone[j] = append(gone[j], param(col, c.Key[k]))
				}
			}
			if c.Row != nil {
				rows++
			}
		}
		if gone != nil && !r.keyed[i] {
			if err := r.addKey(ctx, tx, i); err != nil {
				return nil, err
			}
			keyed = append(keyed, i)
		}
		if gone != nil {
			args := make([]any, len(gone))
			for j, g := range gone {
				args[j] = g
			}
			if _, err := tx.Exec(ctx, deleteKeysSQL(r.s.cfg.ViewSchema, sh), args...); err != nil {
				return nil, r.errorf("delete from %s: %w", sh.Name, err)
			}
		}
		if rows > 0 {
			cols := make([]string, len(d.Columns))
			for j, c := range d.Columns {
				cols[j] = c.Name
			}
			src := &copyRows{changes: changes, table: d.Name, cols: d.Columns, i: -1, vals: make([]any, len(d.Columns))}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{r.s.cfg.ViewSchema, sh.Name}, cols, src); err != nil {
				return nil, r.errorf("copy into %s: %w", sh.Name, err)
			}
		}
	}
	return keyed, nil
}

// copyRows feeds the rows of one table's changes to COPY, one row at a time
// (pgx encodes each row before it asks for the next, so one slice serves
// every row).
type copyRows struct {
	changes []es.RowChange
	table   string
	cols    []es.Column
	i       int
	vals    []any
}

func (s *copyRows) Next() bool {
	for s.i++; s.i < len(s.changes); s.i++ {
		if c := &s.changes[s.i]; c.Table == s.table && c.Row != nil {
			return true
		}
	}
	return false
}

func (s *copyRows) Values() ([]any, error) {
	row := s.changes[s.i].Row
	for j, col := range s.cols {
		s.vals[j] = param(col, row[col.Name])
	}
	return s.vals, nil
}

func (s *copyRows) Err() error { return nil }

// Index builds the primary keys of the shadow tables that have none yet and
// their secondary indexes, under names of their own until the swap, and
// updates the planner's statistics.
func (r *session) Index(ctx context.Context) error {
	for i, d := range r.spec.Tables {
		sh := r.shadows[i]
		table := tableRef(r.s.cfg.ViewSchema, sh)
		if !r.keyed[i] {
			if err := r.addKey(ctx, r.s.pool, i); err != nil {
				return err
			}
			r.keyed[i] = true
		}
		for _, cols := range d.Indexes {
			ddl := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent(indexName(sh.Name, cols)), table, quoteList(cols))
			if _, err := r.s.pool.Exec(ctx, ddl); err != nil {
				return r.errorf("index %s: %w", sh.Name, err)
			}
		}
		if _, err := r.s.pool.Exec(ctx, "ANALYZE "+table); err != nil {
			return r.errorf("analyze %s: %w", sh.Name, err)
		}
	}
	return nil
}

// Swap implements [es.RebuildSession]: one transaction that takes the read
// model's lock exclusively, applies the last events, renames the shadow tables
// into place and records the version. A swap that waits more than two seconds
// for a lock (a long reader of the live tables) fails, to be tried again.
func (r *session) Swap(ctx context.Context, types []string, mark es.RebuildMark, catchUp func(context.Context, []es.EventRecord) ([]es.RowChange, error)) (es.Cursor, error) {
	tx, err := r.s.pool.Begin(ctx)
	if err != nil {
		return es.Cursor{}, r.errorf("swap: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '2s'"); err != nil {
		return es.Cursor{}, r.errorf("swap: %w", err)
	}
	if err := r.fence(ctx, tx); err != nil {
		return es.Cursor{}, err
	}
	inline := len(r.spec.Partitions) == 0
	if inline {
		// Commits that write the tables inline hold this lock shared: once it is
		// granted, none is in flight, and every later one waits for the swap.
		if _, err := tx.Exec(ctx, r.s.rsql.lockExclusive, r.spec.Projector); err != nil {
			return es.Cursor{}, r.errorf("swap: lock: %w", err)
		}
	}
	var recs []es.EventRecord
	if err := r.s.streamLog(ctx, tx, mark.Cursor, types, 0, inline, func(rec es.EventRecord) error {
		recs = append(recs, rec)
		return nil
	}); err != nil {
		return es.Cursor{}, r.errorf("swap: %w", err)
	}
	changes, err := catchUp(ctx, recs)
	if err != nil {
		return es.Cursor{}, err
	}
	keyed, err := r.write(ctx, tx, changes)
	if err != nil {
		return es.Cursor{}, err
	}
	for i := range r.shadows { // rename needs them; Index has built them, unless it was not called
		if !r.keyed[i] && !slices.Contains(keyed, i) {
			if err := r.addKey(ctx, tx, i); err != nil {
				return es.Cursor{}, err
			}
		}
	}
	to := mark.Cursor
	if len(recs) > 0 {
		to = recs[len(recs)-1].Cursor()
	}
	if err := r.rename(ctx, tx); err != nil {
		return es.Cursor{}, err
	}
	if inline {
		_, err = tx.Exec(ctx, r.s.psql.setVersion, r.spec.Projector, int32(r.spec.Version))
	} else {
		_, err = tx.Exec(ctx, r.s.psql.checkpointAll, r.spec.Partitions, to.TxID, to.Position, int32(r.spec.Version))
	}
	if err != nil {
		return es.Cursor{}, r.errorf("swap: record the version: %w", err)
	}
	if _, err := tx.Exec(ctx, r.s.rsql.end, r.spec.Projector); err != nil {
		return es.Cursor{}, r.errorf("swap: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return es.Cursor{}, r.errorf("swap: %w", err)
	}
	for i, d := range r.spec.Tables {
		r.s.catalog.forget(d.Name)
		r.s.catalog.forget(r.shadows[i].Name)
	}
	// Cached statements may describe the replaced tables; one whose result
	// type changed would fail ("cached plan must not change result type").
	for _, c := range r.s.pool.AcquireAllIdle(ctx) {
		_ = c.Conn().DeallocateAll(ctx)
		c.Release()
	}
	return to, nil
}

// rename drops the live tables and puts the shadow tables in their place, with
// the names of their keys and indexes.
func (r *session) rename(ctx context.Context, tx pgx.Tx) error {
	schema := r.s.cfg.ViewSchema
	for i, d := range r.spec.Tables {
		sh := r.shadows[i]
		var pkey string
		err := tx.QueryRow(ctx, `SELECT c.conname::text FROM pg_catalog.pg_constraint c
			JOIN pg_catalog.pg_class t ON t.oid = c.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
			WHERE n.nspname = $1 AND t.relname = $2 AND c.contype = 'p'`, schema, sh.Name).Scan(&pkey)
		if err != nil {
			return r.errorf("swap: primary key of %s: %w", sh.Name, err)
		}
		ddl := fmt.Sprintf("DROP TABLE IF EXISTS %s;\nALTER TABLE %s RENAME TO %s;\nALTER TABLE %s RENAME CONSTRAINT %s TO %s;\n",
			tableRef(schema, d), tableRef(schema, sh), quoteIdent(d.Name),
			tableRef(schema, d), quoteIdent(pkey), quoteIdent(d.Name+"_pkey"))
		for _, cols := range d.Indexes {
			ddl += fmt.Sprintf("ALTER INDEX %s.%s RENAME TO %s;\n", quoteIdent(schema), quoteIdent(indexName(sh.Name, cols)), quoteIdent(indexName(d.Name, cols)))
		}
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return r.errorf("swap %s in: %w", d.Name, err)
		}
	}
	return nil
}

func (r *session) Fail(ctx context.Context, msg string) error {
	if _, err := r.s.pool.Exec(ctx, r.s.rsql.fail, r.spec.Projector, msg); err != nil {
		return r.errorf("record its failure: %w", err)
	}
	return nil
}

func (r *session) Abort(ctx context.Context) error {
	tx, err := r.s.pool.Begin(ctx)
	if err != nil {
		return r.errorf("abort: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := r.fence(ctx, tx); err != nil {
		return err
	}
	for _, sh := range r.shadows {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+tableRef(r.s.cfg.ViewSchema, sh)); err != nil {
			return r.errorf("abort: drop %s: %w", sh.Name, err)
		}
		r.s.catalog.forget(sh.Name)
	}
	if _, err := tx.Exec(ctx, r.s.rsql.end, r.spec.Projector); err != nil {
		return r.errorf("abort: %w", err)
	}
	return tx.Commit(ctx)
}

// deleteKeysSQL deletes the rows whose keys are in the arrays $1…$n, one per key
// column.
func deleteKeysSQL(schema string, d es.TableDef) string {
	var using, on, cols string
	for i, k := range d.Key {
		c, _ := d.Column(k)
		typ := sqlTypes[c.Type]
		if c.Type == es.Text {
			typ = "text"
		}
		if i > 0 {
			using += ", "
			on += " AND "
			cols += ", "
		}
		using += fmt.Sprintf("$%d::%s[]", i+1, typ)
		on += fmt.Sprintf("t.%s = k.k%d", quoteIdent(k), i)
		cols += fmt.Sprintf("k%d", i)
	}
	return fmt.Sprintf("DELETE FROM %s t USING unnest(%s) AS k(%s) WHERE %s", tableRef(schema, d), using, cols, on)
}
