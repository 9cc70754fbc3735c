package estest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// storeCase is one contract an [es.EventStore] must keep.
type storeCase struct {
	name     string
	contract string
	run      func(ctx context.Context, s es.EventStore) error
}

// TestEventStore checks an [es.EventStore] implementation, its view persistor and,
// when it has them, its [es.ProjectionStore], [es.ReadModelStore] and
// [es.BrowseStore] and [es.SnapshotStore] methods, against the contract in
// package es, in the manner of testing/fstest.TestFS. Each
// case runs on a fresh store from newStore, closed after it when it
// implements io.Closer (see [Backend]). It returns nil when every case passes,
// else the failures joined, each naming the case and the contract it checks. Use it
// from any test framework:
//
//	Expect(estest.TestEventStore(ctx, pgtest.Backend)).To(Succeed())
func TestEventStore(ctx context.Context, newStore Backend) error {
	var errs []error
	for _, c := range slices.Concat(storeCases(), viewCases(), projectionCases(), rebuildCases(), browseCases(), snapshotCases(), reactionCases(), commandCases()) {
		s, err := newStore(ctx)
		if err != nil {
			return fmt.Errorf("estest.TestEventStore: new store: %w", err)
		}
		if err := c.run(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("%s (contract: %s): %w", c.name, c.contract, err))
		}
		if closer, ok := s.(io.Closer); ok {
			if err := closer.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: closing the store (%T): %w", c.name, s, err))
			}
		}
	}
	return errors.Join(errs...)
}

// fixture makes the commands, events and commits of the conformance cases, with
// fixed times and readable ids.
type fixture struct {
	at  time.Time
	seq uint64
}

func (f *fixture) id() uuid.UUID {
	f.seq++
	return ID(1000 + f.seq)
}

func (f *fixture) command() es.CommandRecord {
	id := f.id()
	return es.CommandRecord{ID: id, Type: "test.Command", Data: []byte(`{"n":1}`), Time: f.at, UserID: "u1",
		CorrelationID: id, Metadata: map[string]string{"k": "v"}}
}

func (f *fixture) write(stream uuid.UUID, typ string, expected int64, n int, cmd es.CommandRecord) es.StreamWrite {
	w := es.StreamWrite{StreamID: stream, StreamType: typ, ExpectedVersion: expected}
	for i := range n {
		v := expected + int64(i) + 1
		w.Events = append(w.Events, es.EventRecord{ID: f.id(), StreamID: stream, StreamType: typ, Version: v,
			Type: "test.Happened", Schema: 1, Data: fmt.Appendf(nil, `{"n": %d, "s": "x"}`, v),
			Meta: es.Meta{Time: f.at.Add(time.Duration(v) * time.Second), CommandID: cmd.ID, CorrelationID: cmd.CorrelationID,
				CausationID: cmd.ID, UserID: cmd.UserID, Metadata: map[string]string{"k": "v"}}})
	}
	return w
}

func (f *fixture) commit(ctx context.Context, s es.EventStore, ws ...func(cmd es.CommandRecord) es.StreamWrite) (*es.Commit, error) {
	c := &es.Commit{Command: f.command()}
	for _, w := range ws {
		c.Streams = append(c.Streams, w(c.Command))
	}
	return c, s.Commit(ctx, c, nil)
}

func (f *fixture) stream(id uuid.UUID, expected int64, n int) func(es.CommandRecord) es.StreamWrite {
	return func(cmd es.CommandRecord) es.StreamWrite { return f.write(id, "test.Thing", expected, n, cmd) }
}

func newFixture() *fixture {
	return &fixture{at: time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))}
}

// readLogUntil reads the whole log until it holds n events. The watermark may hold
// back events committed a moment ago while an unrelated transaction is in flight
// (on PostgreSQL, anywhere on the server), so a reader may have to wait; it must
// never see more than was committed, nor miss any in the end.
func readLogUntil(ctx context.Context, s es.EventStore, n int) ([]es.EventRecord, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		log, err := s.ReadLog(ctx, es.Cursor{}, 0)
		switch {
		case err != nil:
			return nil, err
		case len(log) > n:
			return nil, fmt.Errorf("the log holds %d events, want %d", len(log), n)
		case len(log) == n:
			return log, nil
		case time.Now().After(deadline):
			return nil, fmt.Errorf("the log holds %d events after 30s, want %d", len(log), n)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// nothingOf checks that no part of commit c is stored.
func nothingOf(ctx context.Context, s es.EventStore, c *es.Commit) error {
	cmds, err := s.Commands(ctx, c.Command.ID)
	if err != nil {
		return err
	}
	if len(cmds) != 0 {
		return errors.New("the failed commit's command record is stored")
	}
	for _, w := range c.Streams {
		recs, err := s.LoadStream(ctx, w.StreamID, es.StreamQuery{FromVersion: w.ExpectedVersion + 1})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.CommandID == c.Command.ID {
				return fmt.Errorf("stream %s version %d of the failed commit is stored", r.StreamID, r.Version)
			}
		}
	}
	return nil
}

func sameRecord(got, want es.EventRecord) error {
	var problems []error
	check := func(field string, ok bool, g, w any) {
		if !ok {
			problems = append(problems, fmt.Errorf("%s: got %v, want %v", field, g, w))
		}
	}
	check("ID", got.ID == want.ID, got.ID, want.ID)
	check("StreamID", got.StreamID == want.StreamID, got.StreamID, want.StreamID)
	check("StreamType", got.StreamType == want.StreamType, got.StreamType, want.StreamType)
	check("Version", got.Version == want.Version, got.Version, want.Version)
	check("Position", got.Position == want.Position, got.Position, want.Position)
	check("TxID", got.TxID == want.TxID, got.TxID, want.TxID)
	check("Type", got.Type == want.Type, got.Type, want.Type)
	check("Schema", got.Schema == want.Schema, got.Schema, want.Schema)
	check("Data", jsonEqual(got.Data, want.Data), string(got.Data), string(want.Data))
	wantTime := want.Time.UTC().Truncate(time.Microsecond)
	check("Time", got.Time.Equal(wantTime) && got.Time.Location() == time.UTC, got.Time, wantTime)
	check("CommandID", got.CommandID == want.CommandID, got.CommandID, want.CommandID)
	check("CorrelationID", got.CorrelationID == want.CorrelationID, got.CorrelationID, want.CorrelationID)
	check("CausationID", got.CausationID == want.CausationID, got.CausationID, want.CausationID)
	check("UserID", got.UserID == want.UserID, got.UserID, want.UserID)
	check("Metadata", reflect.DeepEqual(got.Metadata, want.Metadata), got.Metadata, want.Metadata)
	return errors.Join(problems...)
}

func sameCommand(got, want es.CommandRecord) error {
	wantTime := want.Time.UTC().Truncate(time.Microsecond)
	if got.Type != want.Type || !jsonEqual(got.Data, want.Data) || !got.Time.Equal(wantTime) || got.UserID != want.UserID ||
		got.CorrelationID != want.CorrelationID || got.CausationID != want.CausationID || !reflect.DeepEqual(got.Metadata, want.Metadata) {
		return fmt.Errorf("command record = %+v (data %s), want %+v (data %s)", got, got.Data, want, want.Data)
	}
	return nil
}

func jsonEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}
