package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// LoadStream implements [es.EventStore].
func (s *Store) LoadStream(ctx context.Context, id uuid.UUID, q es.StreamQuery) ([]es.EventRecord, error) {
	to := q.ToVersion
	if to <= 0 {
		to = math.MaxInt64
	}
	until := pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	if !q.Until.IsZero() {
		until = pgtype.Timestamptz{Time: q.Until, Valid: true}
	}
	rows, err := s.pool.Query(ctx, s.sql.loadStream, [16]byte(id), q.FromVersion, to, until)
	if err != nil {
		return nil, fmt.Errorf("pgstore: load stream %s: %w", id, err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: load stream %s: %w", id, err)
	}
	return recs, nil
}

// StreamInfo implements [es.EventStore].
func (s *Store) StreamInfo(ctx context.Context, id uuid.UUID) (es.StreamInfo, error) {
	var info es.StreamInfo
	err := s.pool.QueryRow(ctx, s.sql.streamInfo, [16]byte(id)).Scan(&info.Type, &info.Version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return es.StreamInfo{}, fmt.Errorf("pgstore: stream %s: %w", id, es.ErrAggregateNotFound)
	case err != nil:
		return es.StreamInfo{}, fmt.Errorf("pgstore: stream info %s: %w", id, err)
	}
	return info, nil
}

// LoadSnapshot implements [es.EventStore].
func (s *Store) LoadSnapshot(ctx context.Context, id uuid.UUID, schema int, maxVersion int64) (*es.Snapshot, error) {
	if maxVersion <= 0 {
		maxVersion = math.MaxInt64
	}
	snap := &es.Snapshot{StreamID: id, Schema: schema}
	err := s.pool.QueryRow(ctx, s.sql.loadSnapshot, [16]byte(id), schema, maxVersion).
		Scan(&snap.Version, &snap.Data, &snap.StreamType)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("pgstore: load snapshot of %s: %w", id, err)
	}
	return snap, nil
}

// Commands implements [es.EventStore].
func (s *Store) Commands(ctx context.Context, ids ...uuid.UUID) ([]es.CommandRecord, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([][16]byte, len(ids))
	for i, id := range ids {
		keys[i] = id
	}
	rows, err := s.pool.Query(ctx, s.sql.commands, keys)
	if err != nil {
		return nil, fmt.Errorf("pgstore: commands: %w", err)
	}
	out, err := collectCommands(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: commands: %w", err)
	}
	return out, nil
}

// DeleteStream implements [es.EventStore]. It takes the stream's lock, so it
// waits for a commit to the stream in flight; the stream's commands stay.
func (s *Store) DeleteStream(ctx context.Context, id uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, s.sql.deleteStream, [16]byte(id)); err != nil {
		return fmt.Errorf("pgstore: delete stream %s: %w", id, err)
	}
	return nil
}

// collectRecords scans rows of eventColumns and closes them.
func collectRecords(rows pgx.Rows) ([]es.EventRecord, error) {
	var out []es.EventRecord
	err := scanRecords(rows, func(e es.EventRecord) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// scanRecords calls fn with each event rows holds (eventColumns), as it reads
// them, and closes rows; it stops at the first error fn returns.
func scanRecords(rows pgx.Rows, fn func(es.EventRecord) error) error {
	defer rows.Close()
	var (
		lastMeta    []byte // the events of a command share their metadata:
		lastMetaMap map[string]string
		// One set of destinations for every row: each variable Scan writes
		// through would otherwise be allocated again per row.
		e          es.EventRecord
		schema     int32
		corr, caus pgtype.UUID
		meta       []byte
	)
	dest := []any{(*[16]byte)(&e.ID), (*[16]byte)(&e.StreamID), &e.StreamType, &e.Version, &e.Position,
		&e.TxID, &e.Type, &schema, &e.Data, &e.Time, (*[16]byte)(&e.CommandID), &corr, &caus, &e.UserID, &meta}
	for rows.Next() {
		e, meta = es.EventRecord{}, nil
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		e.Schema = int(schema)
		e.Time = e.Time.UTC()
		e.CorrelationID, e.CausationID = fromNullUUID(corr), fromNullUUID(caus)
		var err error
		if meta != nil && lastMetaMap != nil && bytes.Equal(meta, lastMeta) {
			e.Metadata = maps.Clone(lastMetaMap) // cheaper than decoding again
		} else if e.Metadata, err = decodeMetadata(meta); err != nil {
			return fmt.Errorf("stream %s version %d: metadata: %w", e.StreamID, e.Version, err)
		} else if e.Metadata != nil {
			lastMeta, lastMetaMap = meta, maps.Clone(e.Metadata)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}
