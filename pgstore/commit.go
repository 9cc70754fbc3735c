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

// Commit implements [es.EventStore]. The whole unit of work is one call of the
// schema's commit() function: it locks the streams (advisory locks, ascending id
// order), checks their expected versions, and writes the command, events, stream
// versions, unique keys and snapshots. Without inTx that is one round trip; with
// inTx it runs in a transaction that inTx's view writes join before it commits:
// BEGIN and commit() in one round trip, then inTx's writes, queued, with COMMIT
// in a second (an Update, Delete or Find of inTx sends the queue early).
// A commit that schedules or cancels commands ([es.Commit.Schedule]) calls
// schedule() in the same transaction, in the same round trip.
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
	var (
		xact      uint64
		positions []int64
	)
	sched := hasSchedules(c)
	if inTx == nil && !sched {
		if err := s.pool.QueryRow(ctx, s.sql.commit, args...).Scan(&xact, &positions); err != nil {
			return s.commitError(ctx, c, err)
		}
		fillPositions(c, xact, positions)
		return nil
	}
	var schedArgs []any
	if sched {
		var done uuid.UUID
		if c.Scheduled {
			done = c.Command.ID
		}
		if schedArgs, err = scheduleArgs(done, c.Schedule, c.Cancel); err != nil {
			return err
		}
	}
	// BEGIN travels in one pipeline with the commit() call: one round trip for
	// the writes, one for COMMIT, plus whatever inTx sends.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	defer conn.Release() // a connection left in a transaction is destroyed, not reused
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(s.sql.commit, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&xact, &positions) })
	if sched { // the same round trip: the scheduled commands change with the events
		b.Queue(s.ssql.schedule, schedArgs...)
	}
	var serving []int32
	if len(c.ReadModels) > 0 { // the same round trip: lock them and read their versions
		b.Queue(s.sql.readModels, c.ReadModels, versionsParam(c)).QueryRow(func(row pgx.Row) error { return row.Scan(&serving) })
	}
	if inTx == nil { // nothing to run in between: COMMIT in the same round trip
		b.Queue("COMMIT")
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(ctx, conn)
		return s.commitError(ctx, c, err)
	}
	fillPositions(c, xact, positions)
	if inTx == nil {
		return nil
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

// rollback ends the transaction on conn, if any. When that fails the connection
// stays in a transaction, and the pool destroys it on release.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
}

func fillPositions(c *es.Commit, xact uint64, positions []int64) {
	i := 0
	for si := range c.Streams {
		for ei := range c.Streams[si].Events {
			e := &c.Streams[si].Events[ei]
			if i < len(positions) {
				e.Position = positions[i]
			}
			e.TxID = xact
			i++
		}
	}
}

// commitError maps the failure of a commit() call. A taken unique key is looked
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

// commitArgs checks c as the memory store does, normalises its times to UTC
// microseconds (in c, as the memory store does) and returns the arguments of the
// commit() function.
func commitArgs(c *es.Commit) ([]any, error) {
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
	var (
		n        = len(c.Streams)
		sIDs     = make([][16]byte, 0, n)
		sTypes   = make([]string, 0, n)
		sExp     = make([]int64, 0, n)
		sCounts  = make([]int64, 0, n)
		sSetKeys = make([]bool, 0, n)
		kStreams = [][16]byte{}
		kScopes  = []string{}
		kKeys    = []string{}
		eStreams = [][16]byte{}
		eVers    = []int64{}
		eIDs     = [][16]byte{}
		eCmds    = [][16]byte{}
		eTypes   = []string{}
		eSchemas = []int32{}
		eData    = [][]byte{}
		eTimes   = []time.Time{}
		eCorr    = []pgtype.UUID{}
		eCaus    = []pgtype.UUID{}
		eUsers   = []string{}
		eMeta    = [][]byte{}
		nStreams = [][16]byte{}
		nVers    = []int64{}
		nSchemas = []int32{}
		nData    = [][]byte{}
	)
	for si := range c.Streams {
		w := &c.Streams[si]
		sIDs = append(sIDs, w.StreamID)
		sTypes = append(sTypes, w.StreamType)
		sExp = append(sExp, w.ExpectedVersion)
		sCounts = append(sCounts, int64(len(w.Events)))
		sSetKeys = append(sSetKeys, w.UniqueKeys != nil)
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
			eCmds = append(eCmds, e.CommandID)
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
	return []any{
		[16]byte(cmd.ID), cmd.Type, cmd.Data, cmd.Time, cmd.UserID,
		nullUUID(cmd.CorrelationID), nullUUID(cmd.CausationID), cmdMeta,
		sIDs, sTypes, sExp, sCounts, sSetKeys,
		kStreams, kScopes, kKeys,
		eStreams, eVers, eIDs, eCmds, eTypes, eSchemas, eData, eTimes, eCorr, eCaus, eUsers, eMeta,
		nStreams, nVers, nSchemas, nData,
	}, nil
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
