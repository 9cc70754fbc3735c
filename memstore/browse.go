package memstore

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sort"

	"github.com/google/uuid"

	"github.com/consequent/consequent/es"
)

var _ es.BrowseStore = (*Store)(nil)

// Streams implements [es.BrowseStore].
func (s *Store) Streams(ctx context.Context, q es.StreamsQuery) ([]es.StreamSummary, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []es.StreamSummary
	for id, st := range s.streams {
		if len(st.events) == 0 || (q.Type != "" && st.typ != q.Type) {
			continue
		}
		last := st.events[len(st.events)-1]
		if q.Before != (es.Cursor{}) && !last.Cursor().Before(q.Before) {
			continue
		}
		out = append(out, es.StreamSummary{ID: id, Type: st.typ, Version: last.Version, Last: last.Cursor(), Updated: last.Time})
	}
	slices.SortFunc(out, func(a, b es.StreamSummary) int { return compareCursors(b.Last, a.Last) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// Log implements [es.BrowseStore].
func (s *Store) Log(ctx context.Context, q es.LogQuery) ([]es.EventRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	since, until := es.CanonicalTime(q.Since), es.CanonicalTime(q.Until)
	match := func(e es.EventRecord) bool {
		return (len(q.Types) == 0 || slices.Contains(q.Types, e.Type)) &&
			(q.Since.IsZero() || !e.Time.Before(since)) && (q.Until.IsZero() || !e.Time.After(until)) &&
			(q.After == (es.Cursor{}) || q.After.Before(e.Cursor())) &&
			(q.Before == (es.Cursor{}) || e.Cursor().Before(q.Before))
	}
	full := func(out []es.EventRecord) bool { return q.Limit > 0 && len(out) >= q.Limit }
	var out []es.EventRecord
	if q.Before == (es.Cursor{}) && q.After != (es.Cursor{}) { // the page that follows After
		for i := sort.Search(len(s.log), func(i int) bool { return q.After.Before(s.log[i].Cursor()) }); i < len(s.log) && !full(out); i++ {
			if match(s.log[i]) {
				out = append(out, cloneRecord(s.log[i]))
			}
		}
		slices.Reverse(out)
		return out, nil
	}
	for i := len(s.log) - 1; i >= 0 && !full(out); i-- {
		if match(s.log[i]) {
			out = append(out, cloneRecord(s.log[i]))
		}
	}
	return out, nil
}

// FindCommands implements [es.BrowseStore].
func (s *Store) FindCommands(ctx context.Context, q es.CommandQuery) ([]es.CommandRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	since, until := es.CanonicalTime(q.Since), es.CanonicalTime(q.Until)
	before := es.CommandCursor{Time: es.CanonicalTime(q.Before.Time), ID: q.Before.ID}
	var out []es.CommandRecord
	for _, c := range s.commands {
		switch {
		case q.UserID != "" && c.UserID != q.UserID,
			q.CorrelationID != uuid.Nil && c.CorrelationID != q.CorrelationID,
			len(q.CausedBy) > 0 && (c.CausationID == uuid.Nil || !slices.Contains(q.CausedBy, c.CausationID)),
			!q.Since.IsZero() && c.Time.Before(since),
			!q.Until.IsZero() && c.Time.After(until),
			!q.Before.IsZero() && compareCommands(c, before) >= 0:
			continue
		}
		out = append(out, cloneCommand(c))
	}
	slices.SortFunc(out, func(a, b es.CommandRecord) int { return compareCommands(b, es.CursorOf(a)) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// CommandEvents implements [es.BrowseStore].
func (s *Store) CommandEvents(ctx context.Context, id uuid.UUID) ([]es.EventRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, ok := s.commandTx[id]
	if !ok {
		return nil, nil
	}
	var out []es.EventRecord
	for i := sort.Search(len(s.log), func(i int) bool { return s.log[i].TxID >= tx }); i < len(s.log) && s.log[i].TxID == tx; i++ {
		if s.log[i].CommandID == id {
			out = append(out, cloneRecord(s.log[i]))
		}
	}
	return out, nil
}

// compareCursors orders places of the log.
func compareCursors(a, b es.Cursor) int {
	return cmp.Or(cmp.Compare(a.TxID, b.TxID), cmp.Compare(a.Position, b.Position))
}

// compareCommands orders a command record against a cursor by (Time, ID), as
// PostgreSQL orders timestamps and uuids.
func compareCommands(c es.CommandRecord, at es.CommandCursor) int {
	return cmp.Or(c.Time.Compare(at.Time), bytes.Compare(c.ID[:], at.ID[:]))
}
