package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var _ es.ScheduleStore = (*Store)(nil)

// scheduleSQL holds the statements of scheduled commands, with the schema
// filled in.
type scheduleSQL struct {
	schedule, scheduled, setFailure, unschedule string
}

func newScheduleSQL(schema string) scheduleSQL {
	q := scheduleSQL{
		schedule: `SELECT {{schema}}.schedule($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		scheduled: `SELECT id, key, due, type, data, coalesce(user_id, ''), correlation_id, causation_id, metadata, error
			FROM {{schema}}.scheduled_commands
			WHERE $1::timestamptz IS NULL OR (due <= $1 AND error = '')
			ORDER BY due, id LIMIT $2`,
		setFailure: `UPDATE {{schema}}.scheduled_commands SET error = $2 WHERE id = $1`,
		unschedule: `DELETE FROM {{schema}}.scheduled_commands WHERE id = $1`,
	}
	for _, p := range []*string{&q.schedule, &q.scheduled, &q.setFailure, &q.unschedule} {
		*p = withSchema(*p, schema)
	}
	return q
}

// hasSchedules reports whether a commit changes scheduled commands.
func hasSchedules(c *es.Commit) bool {
	return len(c.Schedule) > 0 || len(c.Cancel) > 0 || c.Scheduled
}

// scheduleArgs returns the arguments of the schedule() function.
func scheduleArgs(done uuid.UUID, add []es.ScheduledCommand, cancel []string) ([]any, error) {
	n := len(add)
	var (
		ids    = make([][16]byte, 0, n)
		keys   = make([]string, 0, n)
		dues   = make([]time.Time, 0, n)
		types  = make([]string, 0, n)
		data   = make([][]byte, 0, n)
		users  = make([]string, 0, n)
		corrs  = make([]pgtype.UUID, 0, n)
		causes = make([]pgtype.UUID, 0, n)
		metas  = make([][]byte, 0, n)
	)
	for _, sc := range add {
		meta, err := encodeMetadata(sc.Metadata)
		if err != nil {
			return nil, fmt.Errorf("pgstore: schedule %s: metadata: %w", sc.Key, err)
		}
		ids, keys, dues = append(ids, sc.ID), append(keys, sc.Key), append(dues, canonicalTime(sc.Due))
		types, data, users = append(types, sc.Type), append(data, sc.Data), append(users, sc.UserID)
		corrs, causes, metas = append(corrs, nullUUID(sc.CorrelationID)), append(causes, nullUUID(sc.CausationID)), append(metas, meta)
	}
	if cancel == nil {
		cancel = []string{}
	}
	return []any{nullUUID(done), cancel, ids, keys, dues, types, data, users, corrs, causes, metas}, nil
}

// Schedule implements [es.ScheduleStore] in one statement.
func (s *Store) Schedule(ctx context.Context, add []es.ScheduledCommand, cancel []string) error {
	args, err := scheduleArgs(uuid.Nil, add, cancel)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.ssql.schedule, args...); err != nil {
		return mapError("schedule", err)
	}
	return nil
}

// Scheduled implements [es.ScheduleStore].
func (s *Store) Scheduled(ctx context.Context, q es.ScheduleQuery) ([]es.ScheduledCommand, error) {
	var dueBy, limit any // NULL: every one, LIMIT ALL
	if !q.DueBy.IsZero() {
		dueBy = q.DueBy
	}
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	rows, err := s.pool.Query(ctx, s.ssql.scheduled, dueBy, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: scheduled commands: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (es.ScheduledCommand, error) {
		var (
			sc          es.ScheduledCommand
			corr, cause pgtype.UUID
			meta        []byte
		)
		if err := row.Scan((*[16]byte)(&sc.ID), &sc.Key, &sc.Due, &sc.Type, &sc.Data, &sc.UserID, &corr, &cause, &meta, &sc.Error); err != nil {
			return sc, err
		}
		sc.Due = sc.Due.UTC()
		sc.CorrelationID, sc.CausationID = fromNullUUID(corr), fromNullUUID(cause)
		var err error
		sc.Metadata, err = decodeMetadata(meta)
		return sc, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: scheduled commands: %w", err)
	}
	return out, nil
}

// SetScheduleFailure implements [es.ScheduleStore].
func (s *Store) SetScheduleFailure(ctx context.Context, id uuid.UUID, msg string) error {
	if _, err := s.pool.Exec(ctx, s.ssql.setFailure, [16]byte(id), msg); err != nil {
		return fmt.Errorf("pgstore: set failure of scheduled command %s: %w", id, err)
	}
	return nil
}

// Unschedule implements [es.ScheduleStore].
func (s *Store) Unschedule(ctx context.Context, id uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, s.ssql.unschedule, [16]byte(id)); err != nil {
		return fmt.Errorf("pgstore: unschedule %s: %w", id, err)
	}
	return nil
}
