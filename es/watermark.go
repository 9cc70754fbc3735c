package es

import (
	"context"
	"time"
)

// WatermarkStore is the optional capability of a store whose global log has a
// watermark (see [EventStore.ReadLog]): events committed by transactions that
// began after one still in flight are held back until it ends. It tells how
// many, and what holds them, so that an operator can act. pgstore implements it;
// the memory store has no watermark.
type WatermarkStore interface {
	// HeldBack counts the events of a partition after the cursor that are
	// committed but held back by the watermark, and returns the oldest
	// transaction in flight that holds the watermark (nil when none does, or
	// when it cannot be seen).
	HeldBack(ctx context.Context, after Cursor, part, of int) (int64, *LogHolder, error)
}

// LogHolder is a transaction in flight that holds back the global log's
// watermark: events committed after it began are readable once it ends.
type LogHolder struct {
	Database string        // the database it runs in (any database of the server holds the log back)
	PID      int           // its backend's process id (pg_terminate_backend(PID) ends it)
	Age      time.Duration // how long it has been open
	State    string        // its backend's state, as pg_stat_activity has it ("idle in transaction", …)
}
