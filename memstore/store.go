package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/consequent/consequent/es"
)

// Store is an in-memory [es.EventStore] with the semantics of the PostgreSQL
// store: optimistic concurrency per stream, unique keys, one global order,
// snapshots by schema, atomic commits with the view tables ([Views]). Events
// are kept encoded, so every load runs the codec as production does. It is safe
// for concurrent use; commits are serialised.
type Store struct {
	mu        sync.RWMutex
	commits   es.CommitListeners // told of each commit, in this process
	streams   map[uuid.UUID]*memStream
	log       []es.EventRecord // in global order
	keys      map[string]map[string]uuid.UUID
	snapshots map[uuid.UUID][]es.Snapshot
	commands  map[uuid.UUID]es.CommandRecord
	commandTx map[uuid.UUID]uint64 // the transaction of each command's commit
	views     *Views
	lastPos   int64
	lastTx    uint64
	projs     map[string]*es.ProjectionState
	rebuilds  map[string]*es.RebuildState // by projector
	scheduled map[uuid.UUID]es.ScheduledCommand
}

type memStream struct {
	typ    string
	events []es.EventRecord
	keys   map[string]string // scope → key
}

// New returns an empty in-memory store.
func New() *Store {
	return &Store{
		streams:   map[uuid.UUID]*memStream{},
		keys:      map[string]map[string]uuid.UUID{},
		snapshots: map[uuid.UUID][]es.Snapshot{},
		commands:  map[uuid.UUID]es.CommandRecord{},
		commandTx: map[uuid.UUID]uint64{},
		views:     NewViews(),
		projs:     map[string]*es.ProjectionState{},
		rebuilds:  map[string]*es.RebuildState{},
		scheduled: map[uuid.UUID]es.ScheduledCommand{},
	}
}

// Views implements [es.EventStore].
func (s *Store) Views() es.Persistor { return s.views }

// Commit implements [es.EventStore].
func (s *Store) Commit(ctx context.Context, c *es.Commit, inTx func(context.Context, es.Persistor) error) error {
	if err := s.commit(ctx, c, inTx); err != nil {
		return err
	}
	s.commits.Committed()
	return nil
}

func (s *Store) commit(ctx context.Context, c *es.Commit, inTx func(context.Context, es.Persistor) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := es.CheckCommit(c); err != nil {
		return err
	}
	if _, ok := s.commands[c.Command.ID]; ok {
		return fmt.Errorf("memstore: commit: command %s: %w", c.Command.ID, es.ErrDuplicateCommand)
	}
	claims := map[es.UniqueKey]uuid.UUID{}
	releasing := map[es.UniqueKey]bool{} // keys streams of this commit give up
	for _, w := range c.Streams {
		if st := s.streams[w.StreamID]; st != nil && w.UniqueKeys != nil {
			for scope, key := range st.keys {
				releasing[es.UniqueKey{Scope: scope, Key: key}] = true
			}
		}
	}
	for _, w := range c.Streams {
		var version int64
		if st := s.streams[w.StreamID]; st != nil {
			version = int64(len(st.events))
			if st.typ != w.StreamType {
				return fmt.Errorf("memstore: stream %s is a %s, not a %s: %w", w.StreamID, st.typ, w.StreamType, es.ErrConcurrencyConflict)
			}
		}
		if version != w.ExpectedVersion {
			return fmt.Errorf("memstore: stream %s: expected version %d, stored %d: %w", w.StreamID, w.ExpectedVersion, version, es.ErrConcurrencyConflict)
		}
		for _, k := range w.UniqueKeys {
			holder, held := s.keys[k.Scope][k.Key]
			if held && holder != w.StreamID && releasing[k] {
				held = false // moved between streams of this commit
			}
			if other, ok := claims[k]; ok {
				holder, held = other, true
			}
			if held && holder != w.StreamID {
				return &es.UniqueKeyError{Scope: k.Scope, Key: k.Key, Holder: holder, Claim: w.StreamID}
			}
			claims[k] = w.StreamID
		}
	}
	tx := s.lastTx + 1
	pos := s.lastPos
	c.Command.Time = es.CanonicalTime(c.Command.Time)
	for i := range c.Streams {
		for j := range c.Streams[i].Events {
			e := &c.Streams[i].Events[j]
			pos++
			e.Position, e.TxID, e.Time = pos, tx, es.CanonicalTime(e.Time)
		}
	}
	c.Serving = make([]int, len(c.ReadModels)) // commits are serialised with swaps by s.mu
	for i, name := range c.ReadModels {
		if p := s.projs[name]; p != nil {
			c.Serving[i] = p.Version
			if i < len(c.Versions) && p.Version > c.Versions[i] {
				p.Skipped, p.SkippedAt = p.Skipped+1, time.Now()
			}
		}
	}
	if inTx != nil {
		vtx := s.views.Begin()
		if err := inTx(ctx, vtx); err != nil {
			return err
		}
		if err := vtx.Commit(); err != nil {
			return err
		}
	}
	s.lastTx, s.lastPos = tx, pos
	s.commands[c.Command.ID] = cloneCommand(c.Command)
	s.commandTx[c.Command.ID] = tx
	if c.Scheduled {
		delete(s.scheduled, c.Command.ID)
	}
	s.schedule(c.Schedule, c.Cancel)
	for _, w := range c.Streams {
		st := s.streams[w.StreamID]
		if st == nil {
			st = &memStream{typ: w.StreamType, keys: map[string]string{}}
			s.streams[w.StreamID] = st
		}
		for _, e := range w.Events {
			e = cloneRecord(e)
			st.events = append(st.events, e)
			s.log = append(s.log, e)
		}
		if w.UniqueKeys != nil {
			s.releaseKeys(w.StreamID, st)
			for _, k := range w.UniqueKeys {
				if s.keys[k.Scope] == nil {
					s.keys[k.Scope] = map[string]uuid.UUID{}
				}
				s.keys[k.Scope][k.Key] = w.StreamID
				st.keys[k.Scope] = k.Key
			}
		}
		if w.Snapshot != nil {
			snap := *w.Snapshot
			snap.Data = slices.Clone(snap.Data)
			s.snapshots[w.StreamID] = append(s.snapshots[w.StreamID], snap)
		}
	}
	return nil
}

func (s *Store) releaseKeys(id uuid.UUID, st *memStream) {
	for scope, key := range st.keys {
		if s.keys[scope][key] == id {
			delete(s.keys[scope], key)
		}
	}
	clear(st.keys)
}

// LoadStream implements [es.EventStore].
func (s *Store) LoadStream(ctx context.Context, id uuid.UUID, q es.StreamQuery) ([]es.EventRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.streams[id]
	if st == nil {
		return nil, nil
	}
	var out []es.EventRecord
	for _, e := range st.events {
		if e.Version < q.FromVersion || (q.ToVersion > 0 && e.Version > q.ToVersion) ||
			(!q.Until.IsZero() && e.Time.After(q.Until)) {
			continue
		}
		out = append(out, cloneRecord(e))
	}
	return out, nil
}

// StreamInfo implements [es.EventStore].
func (s *Store) StreamInfo(ctx context.Context, id uuid.UUID) (es.StreamInfo, error) {
	if err := ctx.Err(); err != nil {
		return es.StreamInfo{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.streams[id]
	if st == nil {
		return es.StreamInfo{}, fmt.Errorf("memstore: stream %s: %w", id, es.ErrAggregateNotFound)
	}
	return es.StreamInfo{Type: st.typ, Version: int64(len(st.events))}, nil
}

// ReadLog implements [es.EventStore]. Commits are serialised, so every committed event
// is below the watermark.
func (s *Store) ReadLog(ctx context.Context, after es.Cursor, limit int) ([]es.EventRecord, error) {
	return s.ReadPartition(ctx, after, limit, 0, 1)
}

// LoadSnapshot implements [es.EventStore].
func (s *Store) LoadSnapshot(ctx context.Context, id uuid.UUID, schema int, maxVersion int64) (*es.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *es.Snapshot
	for _, snap := range s.snapshots[id] {
		if snap.Schema != schema || (maxVersion > 0 && snap.Version > maxVersion) {
			continue
		}
		if best == nil || snap.Version > best.Version {
			c := snap
			best = &c
		}
	}
	if best != nil {
		best.Data = slices.Clone(best.Data)
		best.StreamType = s.streams[id].typ
	}
	return best, nil
}

// Commands implements [es.EventStore].
func (s *Store) Commands(ctx context.Context, ids ...uuid.UUID) ([]es.CommandRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []es.CommandRecord
	for _, id := range ids {
		if c, ok := s.commands[id]; ok {
			out = append(out, cloneCommand(c))
		}
	}
	return out, nil
}

// DeleteStream implements [es.EventStore].
func (s *Store) DeleteStream(ctx context.Context, id uuid.UUID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[id]
	if st == nil {
		return nil
	}
	s.releaseKeys(id, st)
	delete(s.streams, id)
	delete(s.snapshots, id)
	s.log = slices.DeleteFunc(s.log, func(e es.EventRecord) bool { return e.StreamID == id })
	return nil
}

func cloneRecord(e es.EventRecord) es.EventRecord {
	e.Data = slices.Clone(e.Data)
	e.Metadata = maps.Clone(e.Metadata)
	return e
}

func cloneCommand(c es.CommandRecord) es.CommandRecord {
	c.Data = slices.Clone(c.Data)
	c.Metadata = maps.Clone(c.Metadata)
	return c
}

// OnCommit implements [es.CommitNotifier]: fn is called after each commit of
// this store value that succeeded.
func (s *Store) OnCommit(fn func()) (remove func()) { return s.commits.OnCommit(fn) }
