package pgstore_test

// The raw pgx baselines: what an application would write by hand, without
// Consequent, on bare tables with the same columns and indexes as pgstore's
// migration (001_init.sql) but no functions: a unit of work is one
// INSERT … SELECT FROM unnest(…) (a taken version is a primary-key violation),
// with view rows pipelined beside it in one batch; COPY for imports; plain
// SELECTs decoded into structs for loads and replays. Like pgstore, they pass uuids to pgx as [16]byte (binary),
// not as uuid.UUID (whose driver.Valuer goes through text).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

const rawSchemaSQL = `
DROP SCHEMA IF EXISTS raw CASCADE;
CREATE SCHEMA raw;
CREATE TABLE raw.commands (
    id uuid PRIMARY KEY, type text NOT NULL, data jsonb, time timestamptz NOT NULL,
    user_id text, correlation_id uuid, causation_id uuid, metadata jsonb,
    xact_id xid8 NOT NULL DEFAULT pg_current_xact_id());
CREATE TABLE raw.streams (stream_id uuid PRIMARY KEY, type text NOT NULL, version bigint NOT NULL);
CREATE TABLE raw.events (
    stream_id uuid NOT NULL, version bigint NOT NULL,
    position bigint GENERATED ALWAYS AS IDENTITY,
    xact_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id uuid NOT NULL, command_id uuid NOT NULL, type text NOT NULL, schema integer NOT NULL,
    data jsonb, time timestamptz NOT NULL, correlation_id uuid, causation_id uuid,
    user_id text, metadata jsonb,
    PRIMARY KEY (stream_id, version));
CREATE UNIQUE INDEX ON raw.events (xact_id, position);
CREATE TABLE raw.s4_rows (
    account_id uuid NOT NULL, version bigint NOT NULL, type text NOT NULL, amount bigint NOT NULL,
    PRIMARY KEY (account_id, version));
CREATE TABLE raw.snapshots (
    stream_id uuid NOT NULL, schema integer NOT NULL, version bigint NOT NULL, data bytea,
    PRIMARY KEY (stream_id, schema, version));
`

// rawSchema (re)creates the empty raw tables.
func rawSchema(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, rawSchemaSQL)
	return err
}

// rawEvent is an event row as the raw baseline writes and reads it.
type rawEvent struct {
	StreamID, ID, CommandID uuid.UUID
	Version, Position       int64
	TxID                    uint64
	Type                    string
	Schema                  int32
	Data                    []byte
	Time                    time.Time
	Correlation, Causation  pgtype.UUID
	UserID                  pgtype.Text
	Metadata                []byte
}

var rawEventColumns = []string{"stream_id", "version", "id", "command_id", "type", "schema", "data", "time",
	"correlation_id", "causation_id", "user_id", "metadata"}

// rawImport writes events with COPY in one transaction: a command row, the
// events, the streams' rows.
func rawImport(ctx context.Context, pool *pgxpool.Pool, events []rawEvent, streamType string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	cmdID := uuid.Must(uuid.NewV7())
	if _, err := tx.Exec(ctx, `INSERT INTO raw.commands (id, type, data, time) VALUES ($1, $2, $3, $4)`,
		[16]byte(cmdID), "raw.Import", []byte(fmt.Sprintf(`{"events":%d}`, len(events))), time.Now().UTC()); err != nil {
		return err
	}
	last := map[uuid.UUID]int64{}
	var order []uuid.UUID
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"raw", "events"}, rawEventColumns, pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
		e := &events[i]
		if _, ok := last[e.StreamID]; !ok {
			order = append(order, e.StreamID)
		}
		last[e.StreamID] = e.Version
		return []any{[16]byte(e.StreamID), e.Version, [16]byte(e.ID), [16]byte(cmdID), e.Type, e.Schema, e.Data, e.Time,
			e.Correlation, e.Causation, e.UserID, e.Metadata}, nil
	}))
	if err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"raw", "streams"}, []string{"stream_id", "type", "version"},
		pgx.CopyFromSlice(len(order), func(i int) ([]any, error) {
			return []any{[16]byte(order[i]), streamType, last[order[i]]}, nil
		}))
	if err != nil {
		return err
	}
	return tx.Commit(ctx)
}

const rawEventSelect = `SELECT stream_id, id, command_id, version, position, xact_id, type, schema, data, time,
	correlation_id, causation_id, user_id, metadata FROM raw.events`

// rawLoad reads a stream's events after version from into structs, decoding
// each payload with decode.
func rawLoad(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, from int64, decode func(e *rawEvent) error) (int, error) {
	rows, err := pool.Query(ctx, rawEventSelect+` WHERE stream_id = $1 AND version > $2 ORDER BY version`, [16]byte(id), from)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var e rawEvent
		if err := rows.Scan((*[16]byte)(&e.StreamID), (*[16]byte)(&e.ID), (*[16]byte)(&e.CommandID), &e.Version, &e.Position, &e.TxID, &e.Type, &e.Schema,
			&e.Data, &e.Time, &e.Correlation, &e.Causation, &e.UserID, &e.Metadata); err != nil {
			return n, err
		}
		if err := decode(&e); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// rawSnapshot reads the newest snapshot of a stream: its version and data.
func rawSnapshot(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, schema int32) (int64, []byte, error) {
	var (
		v    int64
		data []byte
	)
	err := pool.QueryRow(ctx, `SELECT version, data FROM raw.snapshots WHERE stream_id = $1 AND schema = $2
		ORDER BY version DESC LIMIT 1`, [16]byte(id), schema).Scan(&v, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil
	}
	return v, data, err
}
