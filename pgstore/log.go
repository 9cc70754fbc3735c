package pgstore

import (
	"context"
	"fmt"

	"github.com/consequent/consequent/es"
)

// ReadLog implements [es.EventStore]. It reads in (xact_id, position) order and
// only events of transactions below the current snapshot's xmin: a transaction
// still in flight holds back every transaction that started after it, so a
// reader that resumes from its last cursor never skips an event committed late.
// A long-running writer anywhere in the PostgreSQL cluster therefore delays the
// log (not the writers).
func (s *Store) ReadLog(ctx context.Context, after es.Cursor, limit int) ([]es.EventRecord, error) {
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = int64(limit)
	}
	rows, err := s.pool.Query(ctx, s.sql.readLog, after.TxID, after.Position, lim)
	if err != nil {
		return nil, fmt.Errorf("pgstore: read log after %d/%d: %w", after.TxID, after.Position, err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: read log after %d/%d: %w", after.TxID, after.Position, err)
	}
	return recs, nil
}
