package pgstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

var _ es.BrowseStore = (*Store)(nil)

// The queries of es.BrowseStore are built from the filters a call sets, so that
// each variant is a plain statement with its own plan on the indexes of
// migrations/006_browse.sql, rather than one statement whose "$n IS NULL OR …"
// conditions a generic plan could not use an index for.

// query collects the conditions and arguments of one statement.
type query struct {
	where []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

func (q *query) cond(format string, args ...any) {
	ph := make([]any, len(args))
	for i, a := range args {
		ph[i] = q.arg(a)
	}
	q.where = append(q.where, fmt.Sprintf(format, ph...))
}

func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// limit returns a LIMIT argument: NULL (all) for n <= 0.
func limit(n int) any {
	if n <= 0 {
		return nil
	}
	return int64(n)
}

// endOfLog is after every place of the log, for a zero Before.
var endOfLog = es.Cursor{TxID: math.MaxUint64, Position: math.MaxInt64}

// Streams implements [es.BrowseStore]. It walks the log backwards along its
// index and keeps each stream's last event; with a type, PostgreSQL may instead
// read that type's streams by index and sort them, whichever its statistics say
// is cheaper.
func (s *Store) Streams(ctx context.Context, q es.StreamsQuery) ([]es.StreamSummary, error) {
	before := q.Before
	if before == (es.Cursor{}) {
		before = endOfLog
	}
	var b query
	b.cond("(e.xact_id, e.position) < (%s::xid8, %s::bigint)", before.TxID, before.Position)
	if q.Type != "" {
		b.cond("s.type = %s", q.Type)
	}
	sql := withSchema(`SELECT s.stream_id, s.type, s.version, e.xact_id, e.position, e.time
		FROM {{schema}}.events e
		JOIN {{schema}}.streams s ON s.stream_id = e.stream_id AND s.version = e.version`+b.whereClause()+`
		ORDER BY e.xact_id DESC, e.position DESC LIMIT `+b.arg(limit(q.Limit)), s.cfg.Schema)
	rows, err := s.pool.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: streams: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (es.StreamSummary, error) {
		var st es.StreamSummary
		err := row.Scan((*[16]byte)(&st.ID), &st.Type, &st.Version, &st.Last.TxID, &st.Last.Position, &st.Updated)
		st.Updated = st.Updated.UTC()
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: streams: %w", err)
	}
	return out, nil
}

// Log implements [es.BrowseStore]. A type filter reads the index on (type,
// xact_id, position); a time range filters the log as it is walked.
func (s *Store) Log(ctx context.Context, q es.LogQuery) ([]es.EventRecord, error) {
	var b query
	forward := q.Before == (es.Cursor{}) && q.After != (es.Cursor{})
	if q.Before != (es.Cursor{}) {
		b.cond("(e.xact_id, e.position) < (%s::xid8, %s::bigint)", q.Before.TxID, q.Before.Position)
	}
	if q.After != (es.Cursor{}) {
		b.cond("(e.xact_id, e.position) > (%s::xid8, %s::bigint)", q.After.TxID, q.After.Position)
	}
	switch len(q.Types) {
	case 0:
	case 1:
		b.cond("e.type = %s", q.Types[0])
	default:
		b.cond("e.type = ANY(%s::text[])", q.Types)
	}
	if !q.Since.IsZero() {
		b.cond("e.time >= %s", q.Since)
	}
	if !q.Until.IsZero() {
		b.cond("e.time <= %s", q.Until)
	}
	order := "DESC"
	if forward {
		order = "ASC"
	}
	sql := withSchema(`SELECT `+eventColumns+`
		FROM {{schema}}.events e JOIN {{schema}}.streams s ON s.stream_id = e.stream_id`+b.whereClause()+`
		ORDER BY e.xact_id `+order+`, e.position `+order+` LIMIT `+b.arg(limit(q.Limit)), s.cfg.Schema)
	rows, err := s.pool.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: log: %w", err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: log: %w", err)
	}
	if forward {
		slices.Reverse(recs)
	}
	return recs, nil
}

// FindCommands implements [es.BrowseStore].
func (s *Store) FindCommands(ctx context.Context, q es.CommandQuery) ([]es.CommandRecord, error) {
	var b query
	if q.UserID != "" {
		b.cond("c.user_id = %s", q.UserID)
	}
	if q.CorrelationID != uuid.Nil {
		b.cond("c.correlation_id = %s", [16]byte(q.CorrelationID))
	}
	if len(q.CausedBy) > 0 {
		ids := make([][16]byte, len(q.CausedBy))
		for i, id := range q.CausedBy {
			ids[i] = id
		}
		b.cond("c.causation_id = ANY(%s::uuid[])", ids)
	}
	if !q.Since.IsZero() {
		b.cond("c.time >= %s", q.Since)
	}
	if !q.Until.IsZero() {
		b.cond("c.time <= %s", q.Until)
	}
	if !q.Before.IsZero() {
		b.cond("(c.time, c.id) < (%s::timestamptz, %s::uuid)", q.Before.Time, [16]byte(q.Before.ID))
	}
	sql := withSchema(`SELECT `+commandColumns+` FROM {{schema}}.commands c`+b.whereClause()+`
		ORDER BY c.time DESC, c.id DESC LIMIT `+b.arg(limit(q.Limit)), s.cfg.Schema)
	rows, err := s.pool.Query(ctx, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: find commands: %w", err)
	}
	out, err := collectCommands(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: find commands: %w", err)
	}
	return out, nil
}

// CommandEvents implements [es.BrowseStore]. A command and its events commit in
// one transaction, so they are found by the command's xact_id on the log's
// index, without an index on events.command_id.
func (s *Store) CommandEvents(ctx context.Context, id uuid.UUID) ([]es.EventRecord, error) {
	rows, err := s.pool.Query(ctx, s.sql.commandEvents, [16]byte(id))
	if err != nil {
		return nil, fmt.Errorf("pgstore: events of command %s: %w", id, err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: events of command %s: %w", id, err)
	}
	return recs, nil
}

const commandColumns = `c.id, c.type, c.data, c.time, coalesce(c.user_id, ''), c.correlation_id, c.causation_id, c.metadata`

// collectCommands scans rows of commandColumns and closes them.
func collectCommands(rows pgx.Rows) ([]es.CommandRecord, error) {
	defer rows.Close()
	var out []es.CommandRecord
	for rows.Next() {
		var (
			c          es.CommandRecord
			corr, caus pgtype.UUID
			meta       []byte
		)
		if err := rows.Scan((*[16]byte)(&c.ID), &c.Type, &c.Data, &c.Time, &c.UserID, &corr, &caus, &meta); err != nil {
			return nil, err
		}
		c.Time = c.Time.UTC()
		c.CorrelationID, c.CausationID = fromNullUUID(corr), fromNullUUID(caus)
		var err error
		if c.Metadata, err = decodeMetadata(meta); err != nil {
			return nil, fmt.Errorf("command %s: metadata: %w", c.ID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
