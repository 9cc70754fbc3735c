package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/jackc/pgx/v5"
)

var _ es.WatermarkStore = (*Store)(nil)

// HeldBack implements [es.WatermarkStore]: it counts the committed events above
// the watermark, and names the oldest transaction with an xid in flight on the
// server (pg_stat_activity shows every database's backends to every role; the
// query text it leaves out).
func (s *Store) HeldBack(ctx context.Context, after es.Cursor, part, of int) (int64, *es.LogHolder, error) {
	var bytes []int32 // nil: every partition
	if of > 1 {
		bytes = partitionBytes(part, of)
	}
	var n int64
	if err := s.pool.QueryRow(ctx, s.psql.heldBack, after.TxID, after.Position, bytes).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("pgstore: events held back after %d/%d: %w", after.TxID, after.Position, err)
	}
	if n == 0 {
		return 0, nil, nil
	}
	var (
		h   es.LogHolder
		pid int32
		age float64
	)
	err := s.pool.QueryRow(ctx, s.psql.holder).Scan(&h.Database, &pid, &age, &h.State)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // ended meanwhile
		return n, nil, nil
	case err != nil:
		return 0, nil, fmt.Errorf("pgstore: what holds the log back: %w", err)
	}
	h.PID, h.Age = int(pid), time.Duration(age*float64(time.Second))
	return n, &h, nil
}
