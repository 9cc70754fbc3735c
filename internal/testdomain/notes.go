package testdomain

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// The notebook: notes get lines; projectors count them per note, inline and
// async.

type (
	NoteLine struct {
		N     int
		Sleep time.Duration // how long the inline Sleeper holds the commit open
		Fail  bool          // the inline Sleeper fails: the commit rolls back
	}
	WriteLine struct {
		Note  uuid.UUID
		N     int
		Sleep time.Duration
		Fail  bool
	}
	Note struct{ es.AggregateRoot }
)

func (*Note) On(any) {}

// LineCount is a counter row: Last is the last version applied, so per-stream
// order (and anything applied twice) shows in it.
type LineCount struct {
	Note  uuid.UUID `db:"note"`
	Lines int
	Last  int64
}

var (
	InlineCounts = es.NewTable[LineCount]("inline_counts", "note")
	AsyncCounts  = es.NewTable[LineCount]("async_counts", "note")
	OtherCounts  = es.NewTable[LineCount]("other_counts", "note")
)

// OutOfOrder counts the events a LineCounter saw out of per-stream order.
var OutOfOrder atomic.Int64

// LineCounter counts lines per note into table; hook, when set, runs first.
func LineCounter(name string, table *es.Table[LineCount], hook func(NoteLine) error) *es.Projector {
	p := es.NewProjector(name, table)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev NoteLine) error {
		if hook != nil {
			if err := hook(ev); err != nil {
				return err
			}
		}
		rows, err := table.Find(ctx, v, es.Where{"note": e.StreamID})
		if err != nil {
			return err
		}
		row := LineCount{Note: e.StreamID}
		if len(rows) == 1 {
			row = rows[0]
		}
		if e.Version != row.Last+1 {
			OutOfOrder.Add(1)
			return fmt.Errorf("out of order: version %d after %d", e.Version, row.Last)
		}
		row.Lines++
		row.Last = e.Version
		return table.Upsert(ctx, v, row)
	})
	return p
}

// Sleeper is an inline projector that holds the commit open for the event's
// Sleep, and fails it (ErrBoom) when the event says so.
func Sleeper() *es.Projector {
	p := es.NewProjector("sleeper")
	es.Project(p, func(ctx context.Context, _ es.Persistor, _ es.Envelope, ev NoteLine) error {
		if ev.Sleep > 0 {
			time.Sleep(ev.Sleep)
		}
		if ev.Fail {
			return ErrBoom
		}
		return nil
	})
	return p
}

// ErrBoom is the Sleeper's failure.
var ErrBoom = errors.New("boom")

// RegisterNotes registers the notebook's aggregate, event and command.
func RegisterNotes(reg *es.Registry) {
	note := es.RegisterAggregate(reg, "test.Note", func() *Note { return new(Note) })
	es.RegisterEvent[NoteLine](note, "test.NoteLine")
	es.Handle(reg, "test.WriteLine", func(ctx context.Context, u *es.UnitOfWork, c WriteLine) error {
		a, err := es.Load[*Note](ctx, u, c.Note)
		if errors.Is(err, es.ErrAggregateNotFound) {
			a, err = es.Create[*Note](ctx, u, c.Note)
		}
		if err != nil {
			return err
		}
		return es.Record(a, NoteLine{N: c.N, Sleep: c.Sleep, Fail: c.Fail})
	})
}
