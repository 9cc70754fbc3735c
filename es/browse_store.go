package es

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// BrowseStore is the optional capability of an [EventStore] that tools use to
// read history the way a person debugging it does: which streams changed lately,
// the global log newest first, which commands a user sent or a flow contained,
// what one command recorded and which commands workflows issued because of it.
// The event browser (package browser) needs it; memstore and pgstore implement
// it, and estest.TestEventStore checks them.
//
// Its methods are read-only and page by keyset cursors, never by offset, so a page
// costs the same at the start of a long history as deep into it. Unlike
// [EventStore.ReadLog] they read everything committed, without a watermark: they
// serve people, who want the newest, not followers, who must not skip anything.
// Implementations must be safe for concurrent use.
type BrowseStore interface {
	EventStore

	// Streams returns up to q.Limit streams (all when q.Limit <= 0), most recently
	// written first: ordered by the place of their last event in the global log,
	// newest first, starting before q.Before. A stream written while a person pages
	// moves to the front, so a later page may miss it (the first page shows it).
	Streams(ctx context.Context, q StreamsQuery) ([]StreamSummary, error)

	// Log returns up to q.Limit events of the global log (all when q.Limit <= 0)
	// that match q, newest first: in descending (TxID, Position) order, starting
	// before q.Before, or, when q.After is set instead, the q.Limit matching events
	// that follow q.After (the newer page, to page back), still newest first.
	Log(ctx context.Context, q LogQuery) ([]EventRecord, error)

	// FindCommands returns up to q.Limit command records (all when q.Limit <= 0)
	// that match every filter of q, newest first: in descending (Time, ID) order,
	// starting after q.Before in that order.
	FindCommands(ctx context.Context, q CommandQuery) ([]CommandRecord, error)

	// CommandEvents returns the events that the unit of work of command id
	// committed, across streams, in log order; none for an unknown command. Events
	// of a deleted stream are gone ([EventStore.DeleteStream]); the command stays.
	CommandEvents(ctx context.Context, id uuid.UUID) ([]EventRecord, error)
}

// StreamsQuery selects streams for [BrowseStore.Streams].
type StreamsQuery struct {
	Type   string // only streams of this aggregate type ("": every type)
	Before Cursor // only streams whose last event comes before this place (zero: from the newest)
	Limit  int
}

// StreamSummary describes a stream for a listing.
type StreamSummary struct {
	ID      uuid.UUID
	Type    string
	Version int64
	Last    Cursor    // the place of its last event in the log: the cursor of the next page
	Updated time.Time // when its last event was recorded
}

// LogQuery selects events of the global log for [BrowseStore.Log]. Filters
// combine: an event must pass every one that is set.
type LogQuery struct {
	Types  []string  // only events of these types (empty: every type)
	Since  time.Time // only events recorded at or after this time (zero: no limit)
	Until  time.Time // only events recorded at or before this time (zero: no limit)
	Before Cursor    // only events before this place of the log (zero: from the newest)
	After  Cursor    // only events after this place; with Before zero, the page that follows it
	Limit  int
}

// CommandQuery selects command records for [BrowseStore.FindCommands]. Filters
// combine: a command must pass every one that is set.
type CommandQuery struct {
	UserID        string      // only commands of this user ("": any)
	CorrelationID uuid.UUID   // only commands of this flow (zero: any)
	CausedBy      []uuid.UUID // only commands that workflows issued because of one of these events
	Since         time.Time   // only commands executed at or after this time (zero: no limit)
	Until         time.Time   // only commands executed at or before this time (zero: no limit)
	Before        CommandCursor
	Limit         int
}

// CommandCursor is a place in the newest-first order of command records: (Time,
// ID) descending. The zero CommandCursor is before the newest command.
type CommandCursor struct {
	Time time.Time
	ID   uuid.UUID
}

// CursorOf returns the place of c in the order of [BrowseStore.FindCommands]:
// pass the last record of a page as the next page's Before.
func CursorOf(c CommandRecord) CommandCursor { return CommandCursor{Time: c.Time, ID: c.ID} }

// IsZero reports whether c is the zero cursor (before the newest command).
func (c CommandCursor) IsZero() bool { return c.Time.IsZero() && c.ID == uuid.Nil }
