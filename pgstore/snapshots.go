package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consequent/consequent/es"
)

var _ es.SnapshotStore = (*Store)(nil)

// Statements of the snapshot tools, with the {{schema}} placeholder.
const (
	streamsSQL = `SELECT stream_id FROM {{schema}}.streams
		WHERE type = $1 AND stream_id > $2 ORDER BY stream_id LIMIT $3`
	streamVersionSQL = `SELECT version FROM {{schema}}.streams WHERE stream_id = $1`
	saveSnapshotSQL  = `INSERT INTO {{schema}}.snapshots (stream_id, schema, version, data)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
	pruneSnapshotsSQL = `WITH ranked AS (
			SELECT n.stream_id, n.schema, n.version,
			       row_number() OVER (PARTITION BY n.stream_id, n.schema ORDER BY n.version DESC) AS rank
			  FROM {{schema}}.snapshots n JOIN {{schema}}.streams s ON s.stream_id = n.stream_id
			 WHERE s.type = $1)
		DELETE FROM {{schema}}.snapshots d USING ranked r
		 WHERE d.stream_id = r.stream_id AND d.schema = r.schema AND d.version = r.version
		   AND (r.schema <> $2 OR r.rank > $3)`
	snapshotStatsSQL = `SELECT count(*), coalesce(sum(s.version), 0)::bigint, count(n.newest),
		       coalesce(sum(n.snapshots), 0)::bigint,
		       (SELECT count(*) FROM {{schema}}.snapshots o JOIN {{schema}}.streams t ON t.stream_id = o.stream_id
		         WHERE t.type = $1 AND o.schema <> $2),
		       coalesce(sum(s.version - coalesce(n.newest, 0)), 0)::bigint
		  FROM {{schema}}.streams s
		  LEFT JOIN (SELECT stream_id, max(version) AS newest, count(*) AS snapshots
		               FROM {{schema}}.snapshots WHERE schema = $2 GROUP BY stream_id) n
		    ON n.stream_id = s.stream_id
		 WHERE s.type = $1`
)

// StreamIDs implements [es.SnapshotStore].
func (s *Store) StreamIDs(ctx context.Context, typ string, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = int64(limit)
	}
	rows, err := s.pool.Query(ctx, withSchema(streamsSQL, s.cfg.Schema), typ, [16]byte(after), lim)
	if err != nil {
		return nil, fmt.Errorf("pgstore: streams of type %s: %w", typ, err)
	}
	ids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (uuid.UUID, error) {
		var id [16]byte
		err := row.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: streams of type %s: %w", typ, err)
	}
	return ids, nil
}

// SaveSnapshot implements [es.SnapshotStore]. It takes the stream's lock, as
// commits and DeleteStream do.
func (s *Store) SaveSnapshot(ctx context.Context, snap es.Snapshot) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.sql.lockStreams, [][16]byte{snap.StreamID}); err != nil {
			return err
		}
		var version int64
		err := tx.QueryRow(ctx, withSchema(streamVersionSQL, s.cfg.Schema), [16]byte(snap.StreamID)).Scan(&version)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return es.ErrAggregateNotFound
		case err != nil:
			return err
		case snap.Version < 1 || snap.Version > version:
			return fmt.Errorf("at version %d: the stream has versions 1 to %d", snap.Version, version)
		}
		_, err = tx.Exec(ctx, withSchema(saveSnapshotSQL, s.cfg.Schema), [16]byte(snap.StreamID), snap.Schema, snap.Version, snap.Data)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: snapshot of stream %s: %w", snap.StreamID, err)
	}
	return nil
}

// PruneSnapshots implements [es.SnapshotStore].
func (s *Store) PruneSnapshots(ctx context.Context, typ string, schema, keep int) (int64, error) {
	tag, err := s.pool.Exec(ctx, withSchema(pruneSnapshotsSQL, s.cfg.Schema), typ, schema, max(keep, 0))
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune snapshots of type %s: %w", typ, err)
	}
	return tag.RowsAffected(), nil
}

// SnapshotStats implements [es.SnapshotStore].
func (s *Store) SnapshotStats(ctx context.Context, typ string, schema int) (es.SnapshotStats, error) {
	var st es.SnapshotStats
	err := s.pool.QueryRow(ctx, withSchema(snapshotStatsSQL, s.cfg.Schema), typ, schema).
		Scan(&st.Streams, &st.Events, &st.Snapshotted, &st.Snapshots, &st.Other, &st.Replayed)
	if err != nil {
		return es.SnapshotStats{}, fmt.Errorf("pgstore: snapshot stats of type %s: %w", typ, err)
	}
	return st, nil
}
