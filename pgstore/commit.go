package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Commit implements [es.EventStore]. The unit of work is a few plain
// statements sent in one pipeline (see commit_sql.go): they lock the streams
// (advisory locks, ascending id order), check their expected versions, and
// write the command, events, stream versions, unique keys and snapshots.
// Without inTx that is one round trip and one implicit transaction; with inTx
// BEGIN travels with them and inTx's view writes join the transaction before
// it commits: queued, with COMMIT in a second round trip (an Update, Delete or
// Find of inTx sends the queue early). A commit that schedules or cancels
// commands ([es.Commit.Schedule]) calls schedule() in the same transaction, in
// the same round trip.
func (s *Store) Commit(ctx context.Context, c *es.Commit, inTx func(ctx context.Context, views es.Persistor) error) error {
	if err := s.commit(ctx, c, inTx); err != nil {
		return err
	}
	s.commits.Committed()
	return nil
}

func (s *Store) commit(ctx context.Context, c *es.Commit, inTx func(ctx context.Context, views es.Persistor) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	args, err := commitArgs(c)
	if err != nil {
		return err
	}
	var schedArgs []any
	sched := hasSchedules(c)
	if sched {
		var done uuid.UUID
		if c.Scheduled {
			done = c.Command.ID
		}
		if schedArgs, err = scheduleArgs(done, c.Schedule, c.Cancel); err != nil {
			return err
		}
	}
	b := &pgx.Batch{}
	if inTx != nil {
		b.Queue("BEGIN")
	}
	s.queueCommit(b, c, args)
	if sched { // the same round trip: the scheduled commands change with the events
		b.Queue(s.ssql.schedule, schedArgs...)
	}
	var serving []int32
	if len(c.ReadModels) > 0 { // the same round trip: their versions, read after the locks
		b.Queue(s.csql.readModels, c.ReadModels, versionsParam(c)).QueryRow(func(row pgx.Row) error { return row.Scan(&serving) })
	}
	if inTx == nil { // one implicit transaction, committed at the pipeline's end
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return s.commitError(ctx, c, err)
		}
		return nil
	}
	b.Queue(s.csql.restore) // the view writes plan as the user's own statements do
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	defer conn.Release() // a connection left in a transaction is destroyed, not reused
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(ctx, conn)
		return s.commitError(ctx, c, err)
	}
	c.Serving = nil
	if len(c.ReadModels) > 0 {
		c.Serving = make([]int, len(serving))
		for i, v := range serving {
			c.Serving[i] = int(v)
		}
	}
	// inTx's row writes are queued and travel with COMMIT (or with the next
	// statement that needs an answer): one round trip for all of them.
	views := newTxViews(s.views(conn), conn)
	if err := inTx(ctx, views); err != nil {
		rollback(ctx, conn)
		return err
	}
	if err := views.commit(ctx); err != nil {
		rollback(ctx, conn)
		return err
	}
	return nil
}

// queueCommit queues the statements of c's unit of work (commit_sql.go); the
// write fills in the events' positions and transaction id.
func (s *Store) queueCommit(b *pgx.Batch, c *es.Commit, a *commitArgList) {
	b.Queue(s.csql.plans)
	b.Queue(s.csql.lock, a.streamIDs, c.ReadModels)
	b.Queue(s.csql.write, a.write...).Query(func(rows pgx.Rows) error {
		var (
			xact    uint64
			stream  uuid.UUID
			version int64
			pos     int64
		)
		_, err := pgx.ForEachRow(rows, []any{&xact, (*[16]byte)(&stream), &version, &pos}, func() error {
			fillPosition(c, xact, stream, version, pos)
			return nil
		})
		return err
	})
	// After the write, as commit() did: a stale version fails as a conflict
	// (retried) before a key it would claim could fail as taken.
	if a.dropKeys != nil {
		b.Queue(s.csql.dropKeys, a.dropKeys)
		b.Queue(s.csql.addKeys, a.keys...)
	}
	if a.snapshots != nil {
		b.Queue(s.csql.snapshots, a.snapshots...)
	}
}

// rollback ends the transaction on conn, if any. When that fails the connection
// stays in a transaction, and the pool destroys it on release.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
}

// fillPosition sets the position and transaction id of the event of c at
// stream and version.
func fillPosition(c *es.Commit, xact uint64, stream uuid.UUID, version, pos int64) {
	for si := range c.Streams {
		w := &c.Streams[si]
		if w.StreamID != stream {
			continue
		}
		if i := version - w.ExpectedVersion - 1; i >= 0 && i < int64(len(w.Events)) {
			w.Events[i].Position, w.Events[i].TxID = pos, xact
		}
		return
	}
}

// commitError maps the failure of a commit. A taken unique key is looked
// up (after the failed transaction ended) to name its holder.
func (s *Store) commitError(ctx context.Context, c *es.Commit, err error) error {
	pe := pgError(err)
	if pe == nil || pe.Code != codeUniqueViolation || pe.ConstraintName != "unique_keys_claim" {
		return mapError("commit", err)
	}
	type claim struct {
		key    es.UniqueKey
		stream uuid.UUID
	}
	var claims []claim
	var scopes, keys []string
	for _, w := range c.Streams {
		for _, k := range w.UniqueKeys {
			claims = append(claims, claim{k, w.StreamID})
			scopes, keys = append(scopes, k.Scope), append(keys, k.Key)
		}
	}
	held := map[es.UniqueKey]uuid.UUID{}
	rows, qerr := s.pool.Query(ctx, s.sql.heldKeys, scopes, keys)
	if qerr == nil {
		for rows.Next() {
			var k es.UniqueKey
			var holder uuid.UUID
			if rows.Scan(&k.Scope, &k.Key, (*[16]byte)(&holder)) == nil {
				held[k] = holder
			}
		}
		rows.Close()
	}
	for _, cl := range claims {
		if holder, ok := held[cl.key]; ok && holder != cl.stream {
			return uniqueKeyError(&es.UniqueKeyError{Scope: cl.key.Scope, Key: cl.key.Key, Holder: holder, Claim: cl.stream}, err)
		}
	}
	// The holder let go of the key meanwhile: name the key from the message.
	for _, cl := range claims {
		if pe.Detail == fmt.Sprintf("Key (scope, key)=(%s, %s) already exists.", cl.key.Scope, cl.key.Key) {
			return uniqueKeyError(&es.UniqueKeyError{Scope: cl.key.Scope, Key: cl.key.Key, Claim: cl.stream}, err)
		}
	}
	return mapError("commit", err)
}

func uniqueKeyError(ke *es.UniqueKeyError, cause error) error {
	return &mappedError{msg: "pgstore: commit: " + ke.Error(), errs: []error{ke, cause}}
}

// commitArgList holds the arguments of a commit's statements (commit_sql.go).
type commitArgList struct {
	streamIDs   [][16]byte
	streamTypes []string
	expected    []int64
	dropKeys    [][16]byte // the streams whose unique keys are replaced; nil: none
	keys        []any      // the keys they hold now: streams, scopes, keys
	snapshots   []any      // nil: none
	write       []any
}

// commitArgs checks c as the memory store does, normalises its times to UTC
// microseconds (in c, as the memory store does) and returns the arguments of
// the commit's statements.
func commitArgs(c *es.Commit) (*commitArgList, error) {
	if c == nil {
		return nil, errors.New("pgstore: commit: nil *es.Commit")
	}
	if err := checkCommit(c); err != nil {
		return nil, err
	}
	cmd := &c.Command
	cmd.Time = canonicalTime(cmd.Time)
	cmdMeta, err := encodeMetadata(cmd.Metadata)
	if err != nil {
		return nil, fmt.Errorf("pgstore: commit: command metadata: %w", err)
	}
	events := 0
	for si := range c.Streams {
		events += len(c.Streams[si].Events)
	}
	n := len(c.Streams)
	a := &commitArgList{streamIDs: make([][16]byte, 0, n), streamTypes: make([]string, 0, n), expected: make([]int64, 0, n)}
	var (
		counts   = make([]int64, 0, n)
		kStreams [][16]byte
		kScopes  []string
		kKeys    []string
		eStreams = make([][16]byte, 0, events)
		eVers    = make([]int64, 0, events)
		eIDs     = make([][16]byte, 0, events)
		eTypes   = make([]string, 0, events)
		eSchemas = make([]int32, 0, events)
		eData    = make([][]byte, 0, events)
		eTimes   = make([]time.Time, 0, events)
		eCorr    = make([]pgtype.UUID, 0, events)
		eCaus    = make([]pgtype.UUID, 0, events)
		eUsers   = make([]string, 0, events)
		eMeta    = make([][]byte, 0, events)
		nStreams [][16]byte
		nVers    []int64
		nSchemas []int32
		nData    [][]byte
	)
	for si := range c.Streams {
		w := &c.Streams[si]
		a.streamIDs = append(a.streamIDs, w.StreamID)
		a.streamTypes = append(a.streamTypes, w.StreamType)
		a.expected = append(a.expected, w.ExpectedVersion)
		counts = append(counts, int64(len(w.Events)))
		if w.UniqueKeys != nil {
			a.dropKeys = append(a.dropKeys, w.StreamID)
		}
		for _, k := range w.UniqueKeys {
			kStreams = append(kStreams, w.StreamID)
			kScopes = append(kScopes, k.Scope)
			kKeys = append(kKeys, k.Key)
		}
		for ei := range w.Events {
			e := &w.Events[ei]
			e.Time = canonicalTime(e.Time)
			meta, err := encodeMetadata(e.Metadata)
			if err != nil {
				return nil, fmt.Errorf("pgstore: commit: stream %s version %d: metadata: %w", w.StreamID, e.Version, err)
			}
			eStreams = append(eStreams, e.StreamID)
			eVers = append(eVers, e.Version)
			eIDs = append(eIDs, e.ID)
			eTypes = append(eTypes, e.Type)
			eSchemas = append(eSchemas, int32(e.Schema))
			eData = append(eData, e.Data)
			eTimes = append(eTimes, e.Time)
			eCorr = append(eCorr, nullUUID(e.CorrelationID))
			eCaus = append(eCaus, nullUUID(e.CausationID))
			eUsers = append(eUsers, e.UserID)
			eMeta = append(eMeta, meta)
		}
		if sn := w.Snapshot; sn != nil {
			nStreams = append(nStreams, w.StreamID)
			nVers = append(nVers, sn.Version)
			nSchemas = append(nSchemas, int32(sn.Schema))
			nData = append(nData, sn.Data)
		}
	}
	if a.dropKeys != nil {
		a.keys = []any{nonNil(kStreams), nonNil(kScopes), nonNil(kKeys)}
	}
	if nStreams != nil {
		a.snapshots = []any{nStreams, nSchemas, nVers, nData}
	}
	a.write = []any{
		[16]byte(cmd.ID), cmd.Type, cmd.Data, cmd.Time, cmd.UserID,
		nullUUID(cmd.CorrelationID), nullUUID(cmd.CausationID), cmdMeta,
		a.streamIDs, a.streamTypes, a.expected, counts,
		eStreams, eVers, eIDs, eTypes, eSchemas, eData, eTimes, eCorr, eCaus, eUsers, eMeta,
	}
	return a, nil
}

// nonNil makes a nil slice empty: pgx sends a nil slice as NULL, and
// unnest(NULL) has no rows either, but an empty array says what is meant.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// checkCommit checks c as the memory store does ([es.CheckCommit], and one key
// claimed by two streams of c), plus what PostgreSQL would reject with a less
// helpful message: payloads that are not JSON.
func checkCommit(c *es.Commit) error {
	if err := es.CheckCommit(c); err != nil {
		return err
	}
	claims := map[es.UniqueKey]uuid.UUID{}
	for _, w := range c.Streams {
		for _, e := range w.Events {
			if e.Data != nil && !json.Valid(e.Data) {
				return fmt.Errorf("pgstore: commit: stream %s version %d: event %s: payload is not valid JSON", w.StreamID, e.Version, e.Type)
			}
		}
		for _, k := range w.UniqueKeys {
			if other, ok := claims[k]; ok {
				return fmt.Errorf("pgstore: commit: %w", &es.UniqueKeyError{Scope: k.Scope, Key: k.Key, Holder: other, Claim: w.StreamID})
			}
			claims[k] = w.StreamID
		}
	}
	if c.Command.Data != nil && !json.Valid(c.Command.Data) {
		return fmt.Errorf("pgstore: commit: command %s %s: payload is not valid JSON", c.Command.Type, c.Command.ID)
	}
	return nil
}

// canonicalTime is the precision PostgreSQL keeps, as es stores it.
func canonicalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullUUID maps the nil uuid to SQL NULL.
func nullUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: id != uuid.Nil} }

func fromNullUUID(u pgtype.UUID) uuid.UUID {
	if !u.Valid {
		return uuid.Nil
	}
	return u.Bytes
}

// encodeMetadata encodes a map as a JSON object; nil stays NULL, an empty map
// stays an empty object, so both read back as they were.
func encodeMetadata(m map[string]string) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

func decodeMetadata(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// versionsParam is the committing program's versions of c.ReadModels.
func versionsParam(c *es.Commit) []int32 {
	out := make([]int32, len(c.ReadModels))
	for i := range out {
		if i < len(c.Versions) {
			out[i] = int32(c.Versions[i])
		}
	}
	return out
}
