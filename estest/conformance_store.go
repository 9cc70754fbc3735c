package estest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// storeCases check the EventStore contract proper.
func storeCases() []storeCase {
	return []storeCase{
		{"commit and load", "LoadStream returns a stream's events in version order with every field as committed (times in UTC at microsecond precision, JSON payloads equal)", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			a := ID(1)
			c, err := f.commit(ctx, s, f.stream(a, 0, 3))
			if err != nil {
				return err
			}
			got, err := s.LoadStream(ctx, a, es.StreamQuery{})
			if err != nil {
				return err
			}
			want := c.Streams[0].Events
			if len(got) != len(want) {
				return fmt.Errorf("loaded %d events, want %d", len(got), len(want))
			}
			for i := range want {
				if err := sameRecord(got[i], want[i]); err != nil {
					return fmt.Errorf("event %d: %w", i+1, err)
				}
			}
			return nil
		}},
		{"positions", "Commit assigns every event a global position and transaction id, increasing in commit order, and fills them into the commit", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			c1, err := f.commit(ctx, s, f.stream(ID(1), 0, 2), f.stream(ID(2), 0, 1))
			if err != nil {
				return err
			}
			c2, err := f.commit(ctx, s, f.stream(ID(1), 2, 1))
			if err != nil {
				return err
			}
			var last es.Cursor
			for _, c := range []*es.Commit{c1, c2} {
				for _, w := range c.Streams {
					for _, e := range w.Events {
						if e.Position == 0 || e.TxID == 0 {
							return fmt.Errorf("%s v%d: position %d, tx %d: not filled in", e.StreamID, e.Version, e.Position, e.TxID)
						}
						if !last.Before(e.Cursor()) {
							return fmt.Errorf("%s v%d at %v does not follow %v", e.StreamID, e.Version, e.Cursor(), last)
						}
						last = e.Cursor()
					}
				}
			}
			if c1.Streams[0].Events[0].TxID != c1.Streams[1].Events[0].TxID {
				return errors.New("events of one commit have different transaction ids")
			}
			return nil
		}},
		{"read log", "ReadLog returns committed events in (TxID, Position) order, resumes after a cursor and honours the limit", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			for i := range 5 {
				if _, err := f.commit(ctx, s, f.stream(ID(uint64(i%2+1)), int64(i/2), 1)); err != nil {
					return err
				}
			}
			all, err := readLogUntil(ctx, s, 5)
			if err != nil {
				return err
			}
			page, err := s.ReadLog(ctx, all[1].Cursor(), 2)
			if err != nil {
				return err
			}
			if len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
				return fmt.Errorf("after event 2 with limit 2: got %d events, want events 3 and 4", len(page))
			}
			rest, err := s.ReadLog(ctx, all[4].Cursor(), 10)
			if err != nil {
				return err
			}
			if len(rest) != 0 {
				return fmt.Errorf("after the last event: got %d events, want none", len(rest))
			}
			return nil
		}},
		{"version conflict", "a stale ExpectedVersion fails with ErrConcurrencyConflict and writes nothing of the commit, not even its other streams or its command", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			if _, err := f.commit(ctx, s, f.stream(ID(1), 0, 2)); err != nil {
				return err
			}
			c, err := f.commit(ctx, s, f.stream(ID(2), 0, 1), f.stream(ID(1), 1, 1))
			if !errors.Is(err, es.ErrConcurrencyConflict) {
				return fmt.Errorf("stale version: got %v, want ErrConcurrencyConflict", err)
			}
			if _, err := f.commit(ctx, s, f.stream(ID(1), 0, 1)); !errors.Is(err, es.ErrConcurrencyConflict) {
				return fmt.Errorf("new stream over an existing one: got %v, want ErrConcurrencyConflict", err)
			}
			if _, err := f.commit(ctx, s, f.stream(ID(3), 5, 1)); !errors.Is(err, es.ErrConcurrencyConflict) {
				return fmt.Errorf("version beyond a missing stream: got %v, want ErrConcurrencyConflict", err)
			}
			return nothingOf(ctx, s, c)
		}},
		{"concurrent commits", "of N concurrent commits expecting the same version of a stream exactly one succeeds; the others fail with ErrConcurrencyConflict", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			if _, err := f.commit(ctx, s, f.stream(ID(1), 0, 1)); err != nil {
				return err
			}
			const n = 8
			commits := make([]*es.Commit, n)
			for i := range commits {
				commits[i] = &es.Commit{Command: f.command()}
				commits[i].Streams = []es.StreamWrite{f.write(ID(1), "test.Thing", 1, 2, commits[i].Command)}
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs[i] = s.Commit(ctx, commits[i], nil) })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, es.ErrConcurrencyConflict):
					return fmt.Errorf("a racing commit failed with %v, want ErrConcurrencyConflict", err)
				}
			}
			if won != 1 {
				return fmt.Errorf("%d racing commits succeeded, want 1", won)
			}
			got, err := s.LoadStream(ctx, ID(1), es.StreamQuery{})
			if err != nil {
				return err
			}
			for i, e := range got {
				if e.Version != int64(i)+1 {
					return fmt.Errorf("versions have a gap or duplicate: position %d holds version %d", i, e.Version)
				}
			}
			if len(got) != 3 {
				return fmt.Errorf("stream holds %d events, want 3", len(got))
			}
			return nil
		}},
		{"unique keys", "a key held by another stream fails the commit with *UniqueKeyError naming scope, key, holder and claimant and writes nothing; keys are released by replacing them; nil UniqueKeys leaves them; a stale version fails as a conflict before a held key does", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			withKeys := func(id uuid.UUID, expected int64, keys ...es.UniqueKey) func(es.CommandRecord) es.StreamWrite {
				return func(cmd es.CommandRecord) es.StreamWrite {
					w := f.write(id, "test.Thing", expected, 1, cmd)
					w.UniqueKeys = append([]es.UniqueKey{}, keys...)
					return w
				}
			}
			email := es.UniqueKey{Scope: "email", Key: "ann@example.com"}
			if _, err := f.commit(ctx, s, withKeys(ID(1), 0, email)); err != nil {
				return err
			}
			c, err := f.commit(ctx, s, f.stream(ID(3), 0, 1), withKeys(ID(2), 0, email))
			var uk *es.UniqueKeyError
			if !errors.As(err, &uk) {
				return fmt.Errorf("taking a held key: got %v, want *UniqueKeyError", err)
			}
			if uk.Scope != "email" || uk.Key != email.Key || uk.Holder != ID(1) || uk.Claim != ID(2) {
				return fmt.Errorf("UniqueKeyError = %+v, want scope email, key %s, holder %s, claim %s", *uk, email.Key, ID(1), ID(2))
			}
			if err := nothingOf(ctx, s, c); err != nil {
				return err
			}
			if _, err := f.commit(ctx, s, f.stream(ID(1), 1, 1)); err != nil {
				return fmt.Errorf("nil UniqueKeys: %w", err)
			}
			if _, err := f.commit(ctx, s, withKeys(ID(2), 0, email)); err == nil {
				return errors.New("nil UniqueKeys released the holder's key")
			}
			if _, err := f.commit(ctx, s, withKeys(ID(1), 2, es.UniqueKey{Scope: "email", Key: "ann@example.org"})); err != nil {
				return fmt.Errorf("the holder changing its key: %w", err)
			}
			if _, err := f.commit(ctx, s, withKeys(ID(2), 0, email)); err != nil {
				return fmt.Errorf("taking a released key: %w", err)
			}
			if _, err := f.commit(ctx, s, withKeys(ID(4), 0, es.UniqueKey{Scope: "other", Key: email.Key})); err != nil {
				return fmt.Errorf("the same key in another scope: %w", err)
			}
			// A stale commit that would also take a held key is a conflict
			// first: the runtime retries it on the stream's current state.
			_, err = f.commit(ctx, s, withKeys(ID(1), 1, email))
			if !errors.Is(err, es.ErrConcurrencyConflict) || errors.As(err, &uk) {
				return fmt.Errorf("a stale commit taking a held key: got %v, want a concurrency conflict, not *UniqueKeyError", err)
			}
			return nil
		}},
		{"unique key moves", "one commit can release a key from one stream and give it to another; a malformed commit (a stream twice) is refused", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			key := es.UniqueKey{Scope: "email", Key: "moving@example.com"}
			keys := func(id uuid.UUID, expected int64, ks ...es.UniqueKey) func(es.CommandRecord) es.StreamWrite {
				return func(cmd es.CommandRecord) es.StreamWrite {
					w := f.write(id, "test.Thing", expected, 1, cmd)
					w.UniqueKeys = append([]es.UniqueKey{}, ks...)
					return w
				}
			}
			if _, err := f.commit(ctx, s, keys(ID(1), 0, key)); err != nil {
				return err
			}
			if _, err := f.commit(ctx, s, keys(ID(1), 1), keys(ID(2), 0, key)); err != nil {
				return fmt.Errorf("moving a key within one commit: %w", err)
			}
			if _, err := f.commit(ctx, s, keys(ID(3), 0, key)); err == nil {
				return errors.New("the moved key is free")
			}
			if _, err := f.commit(ctx, s, f.stream(ID(4), 0, 1), f.stream(ID(4), 1, 1)); err == nil {
				return errors.New("a commit writing one stream twice succeeded")
			}
			return nil
		}},
		{"rollback on inTx error", "an error from inTx rolls back everything: no command, event, key or view row", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			if err := s.Views().CreateTables(ctx, viewTable.Def()); err != nil {
				return err
			}
			c := &es.Commit{Command: f.command()}
			w := f.write(ID(1), "test.Thing", 0, 2, c.Command)
			w.UniqueKeys = []es.UniqueKey{{Scope: "email", Key: "x"}}
			c.Streams = []es.StreamWrite{w}
			boom := errors.New("projector failed")
			err := s.Commit(ctx, c, func(ctx context.Context, v es.Persistor) error {
				if err := viewTable.Insert(ctx, v, viewRow{ID: ID(1), Name: "a"}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				return fmt.Errorf("Commit returned %v, want the inTx error", err)
			}
			if err := nothingOf(ctx, s, c); err != nil {
				return err
			}
			rows, err := viewTable.Find(ctx, s.Views(), nil)
			if err != nil {
				return err
			}
			if len(rows) != 0 {
				return fmt.Errorf("view rows of the failed commit remain: %v", rows)
			}
			w2 := f.write(ID(2), "test.Thing", 0, 1, c.Command)
			w2.UniqueKeys = []es.UniqueKey{{Scope: "email", Key: "x"}}
			if _, err := f.commit(ctx, s, func(es.CommandRecord) es.StreamWrite { return w2 }); err != nil {
				return fmt.Errorf("the key of the failed commit is still held: %w", err)
			}
			return nil
		}},
		{"inTx sees the commit", "inTx runs with events' positions filled in, and its view writes commit with the events", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			if err := s.Views().CreateTables(ctx, viewTable.Def()); err != nil {
				return err
			}
			c := &es.Commit{Command: f.command()}
			c.Streams = []es.StreamWrite{f.write(ID(1), "test.Thing", 0, 1, c.Command)}
			err := s.Commit(ctx, c, func(ctx context.Context, v es.Persistor) error {
				if c.Streams[0].Events[0].Position == 0 {
					return errors.New("position not filled in before inTx")
				}
				return viewTable.Insert(ctx, v, viewRow{ID: ID(1), Name: "a"})
			})
			if err != nil {
				return err
			}
			got, err := viewTable.Get(ctx, s.Views(), es.Where{"id": ID(1)})
			if err != nil {
				return err
			}
			if got.Name != "a" {
				return fmt.Errorf("view row = %+v", got)
			}
			return nil
		}},
		{"stream info", "StreamInfo gives a stream's type and version, and ErrAggregateNotFound for a stream that does not exist", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			if _, err := f.commit(ctx, s, f.stream(ID(1), 0, 3)); err != nil {
				return err
			}
			info, err := s.StreamInfo(ctx, ID(1))
			if err != nil {
				return err
			}
			if info != (es.StreamInfo{Type: "test.Thing", Version: 3}) {
				return fmt.Errorf("StreamInfo = %+v, want test.Thing version 3", info)
			}
			if _, err := s.StreamInfo(ctx, ID(9)); !errors.Is(err, es.ErrAggregateNotFound) {
				return fmt.Errorf("missing stream: got %v, want ErrAggregateNotFound", err)
			}
			recs, err := s.LoadStream(ctx, ID(9), es.StreamQuery{})
			if err != nil || len(recs) != 0 {
				return fmt.Errorf("LoadStream of a missing stream: %d events, %v; want none and no error", len(recs), err)
			}
			return nil
		}},
		{"stream queries", "LoadStream honours FromVersion, ToVersion and Until (events recorded at or before)", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			if _, err := f.commit(ctx, s, f.stream(ID(1), 0, 5)); err != nil {
				return err
			}
			check := func(q es.StreamQuery, want ...int64) error {
				got, err := s.LoadStream(ctx, ID(1), q)
				if err != nil {
					return err
				}
				var vs []int64
				for _, e := range got {
					vs = append(vs, e.Version)
				}
				if !reflect.DeepEqual(vs, want) {
					return fmt.Errorf("LoadStream(%+v) gave versions %v, want %v", q, vs, want)
				}
				return nil
			}
			return errors.Join(
				check(es.StreamQuery{FromVersion: 2, ToVersion: 4}, 2, 3, 4),
				check(es.StreamQuery{FromVersion: 4}, 4, 5),
				check(es.StreamQuery{ToVersion: 1}, 1),
				check(es.StreamQuery{Until: f.at.Add(3 * time.Second)}, 1, 2, 3),
			)
		}},
		{"snapshots", "LoadSnapshot returns the newest snapshot of the asked schema no newer than maxVersion, with the stream type, or nil", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			snap := func(v int64, schema int) func(es.CommandRecord) es.StreamWrite {
				return func(cmd es.CommandRecord) es.StreamWrite {
					w := f.write(ID(1), "test.Thing", v-1, 1, cmd)
					w.Snapshot = &es.Snapshot{StreamID: ID(1), StreamType: "test.Thing", Version: v, Schema: schema, Data: fmt.Appendf(nil, "state-%d", v)}
					return w
				}
			}
			for _, w := range []func(es.CommandRecord) es.StreamWrite{snap(1, 1), snap(2, 1), snap(3, 2)} {
				if _, err := f.commit(ctx, s, w); err != nil {
					return err
				}
			}
			check := func(schema int, max int64, want string) error {
				got, err := s.LoadSnapshot(ctx, ID(1), schema, max)
				if err != nil {
					return err
				}
				switch {
				case want == "" && got != nil:
					return fmt.Errorf("LoadSnapshot(schema %d, max %d) = version %d, want none", schema, max, got.Version)
				case want == "":
					return nil
				case got == nil:
					return fmt.Errorf("LoadSnapshot(schema %d, max %d) = none, want %s", schema, max, want)
				case string(got.Data) != want || got.StreamType != "test.Thing" || got.Schema != schema:
					return fmt.Errorf("LoadSnapshot(schema %d, max %d) = %q (type %q, schema %d), want %s", schema, max, got.Data, got.StreamType, got.Schema, want)
				}
				return nil
			}
			return errors.Join(check(1, 0, "state-2"), check(1, 1, "state-1"), check(2, 0, "state-3"), check(2, 2, ""), check(3, 0, ""))
		}},
		{"commands", "Commands returns the stored command records by id, with every field, leaving out unknown ids", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			c, err := f.commit(ctx, s, f.stream(ID(1), 0, 1))
			if err != nil {
				return err
			}
			empty, err := f.commit(ctx, s)
			if err != nil {
				return fmt.Errorf("a commit without events: %w", err)
			}
			got, err := s.Commands(ctx, c.Command.ID, ID(999), empty.Command.ID)
			if err != nil {
				return err
			}
			if len(got) != 2 {
				return fmt.Errorf("got %d commands, want 2", len(got))
			}
			for _, g := range got {
				if g.ID == c.Command.ID {
					return sameCommand(g, c.Command)
				}
			}
			return errors.New("the command with events is missing")
		}},
		{"delete stream", "DeleteStream removes a stream's events, snapshots and unique keys for good, leaves other streams, and is a no-op for a missing stream", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			w := func(cmd es.CommandRecord) es.StreamWrite {
				w := f.write(ID(1), "test.Thing", 0, 2, cmd)
				w.UniqueKeys = []es.UniqueKey{{Scope: "email", Key: "gone@example.com"}}
				w.Snapshot = &es.Snapshot{StreamID: ID(1), Version: 2, Schema: 1, Data: []byte("s")}
				return w
			}
			if _, err := f.commit(ctx, s, w, f.stream(ID(2), 0, 1)); err != nil {
				return err
			}
			if err := s.DeleteStream(ctx, ID(1)); err != nil {
				return err
			}
			if err := s.DeleteStream(ctx, ID(7)); err != nil {
				return fmt.Errorf("deleting a missing stream: %w", err)
			}
			if recs, _ := s.LoadStream(ctx, ID(1), es.StreamQuery{}); len(recs) != 0 {
				return fmt.Errorf("%d events remain", len(recs))
			}
			if _, err := s.StreamInfo(ctx, ID(1)); !errors.Is(err, es.ErrAggregateNotFound) {
				return fmt.Errorf("StreamInfo after delete: %v, want ErrAggregateNotFound", err)
			}
			if snap, _ := s.LoadSnapshot(ctx, ID(1), 1, 0); snap != nil {
				return errors.New("the snapshot remains")
			}
			log, err := readLogUntil(ctx, s, 1)
			if err != nil {
				return err
			}
			if log[0].StreamID != ID(2) {
				return fmt.Errorf("the log holds %d events, want only the other stream's one", len(log))
			}
			claim := func(cmd es.CommandRecord) es.StreamWrite {
				w := f.write(ID(3), "test.Thing", 0, 1, cmd)
				w.UniqueKeys = []es.UniqueKey{{Scope: "email", Key: "gone@example.com"}}
				return w
			}
			if _, err := f.commit(ctx, s, claim); err != nil {
				return fmt.Errorf("the deleted stream's key is still held: %w", err)
			}
			return nil
		}},
		{"cancelled context", "a cancelled context makes Commit fail and write nothing", func(ctx context.Context, s es.EventStore) error {
			f := newFixture()
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			c := &es.Commit{Command: f.command()}
			c.Streams = []es.StreamWrite{f.write(ID(1), "test.Thing", 0, 1, c.Command)}
			if err := s.Commit(cctx, c, nil); err == nil {
				return errors.New("Commit with a cancelled context succeeded")
			}
			return nothingOf(ctx, s, c)
		}},
	}
}
