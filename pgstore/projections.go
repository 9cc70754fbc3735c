package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var _ es.ProjectionStore = (*Store)(nil)

// projectionSQL holds the statements of async projections, with the schema
// filled in.
type projectionSQL struct {
	readPartition, behind, state, lease, release, advance, setFailure string
	fence, checkpointAll, setVersion, heldBack, holder                string
}

func newProjectionSQL(schema string) projectionSQL {
	q := projectionSQL{
		// read_log's plan walks the (xact_id, position) index whatever the
		// statistics say, and filters the partition's streams by the last
		// byte of their id ($4).
		readPartition: `SELECT * FROM {{schema}}.read_log($1, $2, $3, $4)`,
		behind: `WITH b AS (
			SELECT e.xact_id, e.position, e.time FROM {{schema}}.events e
			 WHERE (e.xact_id, e.position) > ($1::xid8, $2::bigint)
			   AND e.xact_id < pg_snapshot_xmin(pg_current_snapshot())
			   AND ($3::int[] IS NULL OR get_byte(uuid_send(e.stream_id), 15) = ANY ($3::int[])))
			SELECT (SELECT count(*) FROM b), (SELECT b.time FROM b ORDER BY b.xact_id, b.position LIMIT 1)`,
		state: `SELECT xact_id, position, version, coalesce(owner, ''), lease_until,
			failed, failed_xact_id, failed_position, error, skipped, skipped_at
			FROM {{schema}}.projections WHERE name = $1`,
		// One statement, on the database's clock: the lease is taken when it
		// is free, expired or the owner's already.
		lease: `INSERT INTO {{schema}}.projections AS p (name, owner, lease_until, lease_ttl)
			VALUES ($1, $2, clock_timestamp() + $3::interval, $3::interval)
			ON CONFLICT (name) DO UPDATE
			   SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, lease_ttl = EXCLUDED.lease_ttl
			 WHERE p.owner IS NULL OR p.owner = EXCLUDED.owner OR p.lease_until <= clock_timestamp()
			RETURNING true`,
		release: `UPDATE {{schema}}.projections SET owner = NULL, lease_until = NULL
			WHERE name = $1 AND owner = $2`,
		// The fence: the checkpoint moves only while owner holds the lease.
		advance: `UPDATE {{schema}}.projections SET xact_id = $3, position = $4, version = $5
			WHERE name = $1 AND owner = $2 AND lease_until > clock_timestamp()`,
		setFailure: `INSERT INTO {{schema}}.projections AS p (name, failed, failed_xact_id, failed_position, error)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO UPDATE
			   SET failed = EXCLUDED.failed, failed_xact_id = EXCLUDED.failed_xact_id,
			       failed_position = EXCLUDED.failed_position, error = EXCLUDED.error`,
		// Renews owner's lease by the length it was taken for, if owner holds it.
		fence: `UPDATE {{schema}}.projections SET lease_until = clock_timestamp() + lease_ttl
			WHERE name = $1 AND owner = $2 AND lease_until > clock_timestamp()`,
		// A swap: every partition starts from the rebuild's last event, and
		// loses its lease, so that a worker of the old tables stops.
		checkpointAll: `UPDATE {{schema}}.projections
			SET xact_id = $2, position = $3, version = $4, owner = NULL, lease_until = NULL,
			    failed = false, failed_xact_id = '0', failed_position = 0, error = ''
			WHERE name = ANY($1)`,
		heldBack: `SELECT count(*) FROM {{schema}}.events e
			WHERE (e.xact_id, e.position) > ($1::xid8, $2::bigint)
			  AND e.xact_id >= pg_snapshot_xmin(pg_current_snapshot())
			  AND ($3::int[] IS NULL OR get_byte(uuid_send(e.stream_id), 15) = ANY ($3::int[]))`,
		holder: `SELECT coalesce(datname, ''), pid, extract(epoch FROM clock_timestamp() - xact_start)::float8, coalesce(state, '')
			FROM pg_stat_activity
			WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
			ORDER BY age(backend_xid) DESC LIMIT 1`,
		setVersion: `UPDATE {{schema}}.projections SET version = $2, skipped = 0, skipped_at = NULL WHERE name = $1`,
	}
	for _, p := range []*string{&q.readPartition, &q.behind, &q.state, &q.lease, &q.release, &q.advance,
		&q.setFailure, &q.fence, &q.checkpointAll, &q.setVersion, &q.heldBack, &q.holder} {
		*p = withSchema(*p, schema)
	}
	return q
}

// ReadPartition implements [es.ProjectionStore]: [Store.ReadLog] restricted to
// the streams whose id's last byte modulo of is part, under the same watermark.
func (s *Store) ReadPartition(ctx context.Context, after es.Cursor, limit int, part, of int) ([]es.EventRecord, error) {
	if of <= 1 {
		return s.ReadLog(ctx, after, limit)
	}
	if part < 0 || part >= of {
		return nil, fmt.Errorf("pgstore: read partition %d/%d: no such partition", part, of)
	}
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = int64(limit)
	}
	rows, err := s.pool.Query(ctx, s.psql.readPartition, after.TxID, after.Position, lim, partitionBytes(part, of))
	if err != nil {
		return nil, fmt.Errorf("pgstore: read partition %d/%d after %d/%d: %w", part, of, after.TxID, after.Position, err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: read partition %d/%d after %d/%d: %w", part, of, after.TxID, after.Position, err)
	}
	return recs, nil
}

// partitionBytes lists the last bytes of the stream ids in partition part of of
// ([es.PartitionOf]).
func partitionBytes(part, of int) []int32 {
	var out []int32
	for b := part; b < 256; b += of {
		out = append(out, int32(b))
	}
	return out
}

// Behind implements [es.ProjectionStore].
func (s *Store) Behind(ctx context.Context, after es.Cursor, part, of int) (int64, time.Time, error) {
	var (
		n      int64
		oldest pgtype.Timestamptz
	)
	var bytes []int32 // nil: every partition
	if of > 1 {
		bytes = partitionBytes(part, of)
	}
	if err := s.pool.QueryRow(ctx, s.psql.behind, after.TxID, after.Position, bytes).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("pgstore: events behind %d/%d: %w", after.TxID, after.Position, err)
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, oldest.Time.UTC(), nil
}

// Projection implements [es.ProjectionStore].
func (s *Store) Projection(ctx context.Context, name string) (es.ProjectionState, error) {
	st := es.ProjectionState{Name: name}
	var until, skippedAt pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, s.psql.state, name).Scan(&st.Checkpoint.TxID, &st.Checkpoint.Position, &st.Version,
		&st.Owner, &until, &st.Failed, &st.FailedAt.TxID, &st.FailedAt.Position, &st.Error, &st.Skipped, &skippedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return es.ProjectionState{Name: name}, nil
	case err != nil:
		return es.ProjectionState{}, fmt.Errorf("pgstore: projection %s: %w", name, err)
	}
	if until.Valid {
		st.LeaseUntil = until.Time.UTC()
	}
	if skippedAt.Valid {
		st.SkippedAt = skippedAt.Time.UTC()
	}
	return st, nil
}

// Lease implements [es.ProjectionStore] with one upsert on the database's clock,
// so the workers' clocks do not matter.
func (s *Store) Lease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("pgstore: lease projection %s: empty owner", name)
	}
	var held bool
	err := s.pool.QueryRow(ctx, s.psql.lease, name, owner, ttl).Scan(&held)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("pgstore: lease projection %s for %s: %w", name, owner, err)
	}
	return held, nil
}

// Release implements [es.ProjectionStore].
func (s *Store) Release(ctx context.Context, name, owner string) error {
	if _, err := s.pool.Exec(ctx, s.psql.release, name, owner); err != nil {
		return fmt.Errorf("pgstore: release projection %s for %s: %w", name, owner, err)
	}
	return nil
}

// Advance implements [es.ProjectionStore]: fn's view writes and the fenced
// checkpoint update run in one transaction. The fence is checked last, on the
// database's clock, just before COMMIT; the row lock it takes makes a worker
// taking over wait for that COMMIT, and then read the new checkpoint.
func (s *Store) Advance(ctx context.Context, name, owner string, to es.Cursor, version int, fn func(ctx context.Context, views es.Persistor) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: advance projection %s: %w", name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := fn(ctx, s.views(tx)); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, s.psql.advance, name, owner, to.TxID, to.Position, int32(version))
	if err != nil {
		return fmt.Errorf("pgstore: advance projection %s to %d/%d: %w", name, to.TxID, to.Position, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: advance projection %s as %s: %w", name, owner, es.ErrLeaseLost)
	}
	if err := tx.Commit(ctx); err != nil {
		return mapError("advance projection "+name, err)
	}
	return nil
}

// SetFailure implements [es.ProjectionStore].
func (s *Store) SetFailure(ctx context.Context, name string, at es.Cursor, msg string) error {
	if msg == "" {
		at = es.Cursor{}
	}
	if _, err := s.pool.Exec(ctx, s.psql.setFailure, name, msg != "", at.TxID, at.Position, msg); err != nil {
		return fmt.Errorf("pgstore: set failure of projection %s: %w", name, err)
	}
	return nil
}
