package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ImportCommandType is the command type of the record that [Store.Import] writes
// for each import; imported events without a CommandID reference it.
const ImportCommandType = "pgstore.Import"

// Import appends a history of events, such as one exported from another system,
// with COPY: much faster than committing them one unit of work at a time. It is
// checked like a commit: each stream's events must follow on from its stored
// version without gaps, in the order given (streams may interleave), have a type
// and a schema of at least 1, valid JSON payloads and one stream type, the stored
// one if the stream exists. Bad input is rejected with an error that names the
// stream and version, and nothing is written.
//
// Import runs in one transaction that holds the advisory lock of every stream it
// touches, so concurrent commits to those streams wait for it. PostgreSQL's lock
// table (max_locks_per_transaction × max_connections) bounds how many streams one
// call can lock; import very many streams in chunks of a few thousand.
//
// One command record of type [ImportCommandType] is written per call; imported
// events whose CommandID is the nil uuid reference it, and events without an ID
// get a fresh one. Event times are kept (in UTC, to the microsecond). Import
// returns the number of events written. Positions and TxIDs are assigned in the
// order given, but not filled into events.
func (s *Store) Import(ctx context.Context, events []es.EventRecord) (int64, error) {
	if len(events) == 0 {
		return 0, nil
	}
	type stream struct {
		typ        string
		first      int64 // first imported version
		last       int64 // last imported version
		firstIndex int
	}
	streams := map[uuid.UUID]*stream{}
	var ids [][16]byte
	for i, e := range events {
		at := func(format string, args ...any) error {
			return fmt.Errorf("pgstore: import: event %d (stream %s version %d): %s", i, e.StreamID, e.Version, fmt.Sprintf(format, args...))
		}
		switch {
		case e.StreamID == uuid.Nil:
			return 0, at("stream id is the nil uuid")
		case e.StreamType == "":
			return 0, at("no stream type")
		case e.Type == "":
			return 0, at("no event type")
		case e.Schema < 1:
			return 0, at("schema %d: payload schemas start at 1", e.Schema)
		case e.Data != nil && !json.Valid(e.Data):
			return 0, at("payload of %s is not valid JSON", e.Type)
		}
		st := streams[e.StreamID]
		if st == nil {
			streams[e.StreamID] = &stream{typ: e.StreamType, first: e.Version, last: e.Version, firstIndex: i}
			ids = append(ids, e.StreamID)
			continue
		}
		if e.StreamType != st.typ {
			return 0, at("stream type %s, but earlier events of the stream say %s", e.StreamType, st.typ)
		}
		if e.Version != st.last+1 {
			return 0, at("want version %d: a stream's events must be contiguous and in order", st.last+1)
		}
		st.last = e.Version
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("pgstore: import: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, s.sql.lockStreams, ids); err != nil {
		return 0, mapError("import: lock streams", err)
	}
	rows, err := tx.Query(ctx, s.sql.importStreams, ids)
	if err != nil {
		return 0, fmt.Errorf("pgstore: import: read streams: %w", err)
	}
	type stored struct {
		typ     string
		version int64
	}
	have := map[uuid.UUID]stored{}
	for rows.Next() {
		var id uuid.UUID
		var st stored
		if err := rows.Scan((*[16]byte)(&id), &st.typ, &st.version); err != nil {
			rows.Close()
			return 0, fmt.Errorf("pgstore: import: read streams: %w", err)
		}
		have[id] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: import: read streams: %w", err)
	}
	var (
		sIDs   = make([][16]byte, 0, len(ids))
		sTypes = make([]string, 0, len(ids))
		sVers  = make([]int64, 0, len(ids))
	)
	for _, id := range ids {
		st, cur := streams[id], have[id]
		if cur.typ != "" && cur.typ != st.typ {
			return 0, fmt.Errorf("pgstore: import: event %d (stream %s version %d): stream type %s, but the stored stream is a %s", st.firstIndex, id, st.first, st.typ, cur.typ)
		}
		if st.first != cur.version+1 {
			return 0, fmt.Errorf("pgstore: import: event %d (stream %s version %d): want version %d: the stream holds %d events", st.firstIndex, id, st.first, cur.version+1, cur.version)
		}
		sIDs, sTypes, sVers = append(sIDs, id), append(sTypes, st.typ), append(sVers, st.last)
	}

	cmdID := uuid.Must(uuid.NewV7())
	info, _ := json.Marshal(map[string]int{"events": len(events), "streams": len(ids)})
	if _, err := tx.Exec(ctx, s.sql.importCommand, [16]byte(cmdID), ImportCommandType, info, time.Now().UTC()); err != nil {
		return 0, fmt.Errorf("pgstore: import: command record: %w", err)
	}
	src := &importSource{events: events, cmd: cmdID, i: -1}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{s.cfg.Schema, "events"}, importColumns, src)
	if err != nil {
		return 0, mapError("import: copy events", err)
	}
	if _, err := tx.Exec(ctx, s.sql.upsertImportStreams, sIDs, sTypes, sVers); err != nil {
		return 0, fmt.Errorf("pgstore: import: update streams: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, mapError("import: commit", err)
	}
	return n, nil
}

var importColumns = []string{"stream_id", "version", "id", "command_id", "type", "schema", "data", "time",
	"correlation_id", "causation_id", "user_id", "metadata"}

// importSource feeds the checked events to CopyFrom.
type importSource struct {
	events []es.EventRecord
	cmd    uuid.UUID
	i      int
	err    error
}

func (s *importSource) Next() bool {
	s.i++
	return s.i < len(s.events) && s.err == nil
}

func (s *importSource) Values() ([]any, error) {
	e := s.events[s.i]
	if e.ID == uuid.Nil {
		e.ID = uuid.Must(uuid.NewV7())
	}
	if e.CommandID == uuid.Nil {
		e.CommandID = s.cmd
	}
	meta, err := encodeMetadata(e.Metadata)
	if err != nil {
		s.err = fmt.Errorf("stream %s version %d: metadata: %w", e.StreamID, e.Version, err)
		return nil, s.err
	}
	var user any
	if e.UserID != "" {
		user = e.UserID
	}
	return []any{[16]byte(e.StreamID), e.Version, [16]byte(e.ID), [16]byte(e.CommandID), e.Type, int32(e.Schema),
		e.Data, canonicalTime(e.Time), nullUUID(e.CorrelationID), nullUUID(e.CausationID), user, meta}, nil
}

func (s *importSource) Err() error { return s.err }
