package pgstore

import (
	"context"
	"fmt"

	"github.com/consequent/consequent/es"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// txViews is the [es.Persistor] an inline projector gets in a commit: the view
// tables on the commit's connection, inside its transaction. Inserts, upserts
// and [es.Setter] updates are checked at once and queued; they travel in one
// batch with the next statement that needs an answer (an Update or Delete,
// whose count is read from the same batch; a Find, which reads its own writes)
// or else with COMMIT. A queued statement that fails fails the commit with the
// error it would have returned, naming its table (and key, for a row write).
type txViews struct {
	*Views
	conn   *pgxpool.Conn
	batch  pgx.Batch
	queued []queuedWrite
}

// queuedWrite is what maps the error of a queued statement.
type queuedWrite struct {
	def es.TableDef
	op  string
	key es.Where
}

var (
	_ es.Persistor = (*txViews)(nil)
	_ es.Setter    = (*txViews)(nil)
)

func newTxViews(v *Views, conn *pgxpool.Conn) *txViews {
	return &txViews{Views: v, conn: conn}
}

func (t *txViews) queue(w queuedWrite, sql string, args []any) {
	t.batch.Queue(sql, args...)
	t.queued = append(t.queued, w)
}

// Insert implements [es.Persistor]: queued.
func (t *txViews) Insert(ctx context.Context, table string, row es.Row) error {
	return t.write(ctx, "insert into", table, row, false)
}

// Upsert implements [es.Persistor]: queued.
func (t *txViews) Upsert(ctx context.Context, table string, row es.Row) error {
	return t.write(ctx, "upsert into", table, row, true)
}

func (t *txViews) write(ctx context.Context, op, table string, row es.Row, upsert bool) error {
	def, r, _, err := t.prepare(ctx, table, row, true, nil)
	if err != nil {
		return err
	}
	sql, args := insertSQL(t.schema, def, r, upsert)
	t.queue(queuedWrite{def, op, def.KeyOf(r)}, sql, args)
	return nil
}

// Set implements [es.Setter]: queued.
func (t *txViews) Set(ctx context.Context, table string, where es.Where, set es.Row) error {
	def, s, cond, err := t.prepare(ctx, table, set, false, where)
	if err != nil {
		return err
	}
	if len(s) == 0 {
		return nil
	}
	sql, args := updateSQL(t.schema, def, cond, s)
	t.queue(queuedWrite{def: def, op: "update"}, sql, args)
	return nil
}

// Update implements [es.Persistor]: it sends the queue with it, and returns
// its count.
func (t *txViews) Update(ctx context.Context, table string, where es.Where, set es.Row) (int64, error) {
	def, s, cond, err := t.prepare(ctx, table, set, false, where)
	if err != nil {
		return 0, err
	}
	if len(s) == 0 {
		if err := t.flush(ctx, ""); err != nil {
			return 0, err
		}
		return t.Views.Update(ctx, table, where, set)
	}
	sql, args := updateSQL(t.schema, def, cond, s)
	t.queue(queuedWrite{def: def, op: "update"}, sql, args)
	return t.send(ctx)
}

// Delete implements [es.Persistor]: it sends the queue with it, and returns
// its count.
func (t *txViews) Delete(ctx context.Context, table string, where es.Where) (int64, error) {
	def, _, cond, err := t.prepare(ctx, table, nil, false, where)
	if err != nil {
		return 0, err
	}
	sql, args := deleteSQL(t.schema, def, cond)
	t.queue(queuedWrite{def: def, op: "delete from"}, sql, args)
	return t.send(ctx)
}

// Find implements [es.Persistor]: it sends the queue first, so that it reads
// what was written before it.
func (t *txViews) Find(ctx context.Context, table string, where es.Where) ([]es.Row, error) {
	if err := t.flush(ctx, ""); err != nil {
		return nil, err
	}
	return t.Views.Find(ctx, table, where)
}

// CreateTables implements [es.Persistor]: it sends the queue first.
func (t *txViews) CreateTables(ctx context.Context, defs ...es.TableDef) error {
	if err := t.flush(ctx, ""); err != nil {
		return err
	}
	return t.Views.CreateTables(ctx, defs...)
}

// send sends the queue and returns the row count of its last statement.
func (t *txViews) send(ctx context.Context) (int64, error) {
	var n int64
	err := t.sendBatch(ctx, "", func(tag string, rows int64) { n = rows })
	return n, err
}

// flush sends the queue, then final (when not empty) in the same batch; it
// returns the first error, mapped as the statement's own.
func (t *txViews) flush(ctx context.Context, final string) error {
	return t.sendBatch(ctx, final, nil)
}

// commit sends the queue with COMMIT.
func (t *txViews) commit(ctx context.Context) error {
	var tag string
	if err := t.sendBatch(ctx, "COMMIT", func(s string, _ int64) { tag = s }); err != nil {
		return err
	}
	if tag != "COMMIT" {
		// A statement of inTx failed but inTx did not say so: PostgreSQL
		// rolled the transaction back.
		return fmt.Errorf("pgstore: commit: %w (a statement in inTx failed and its error was dropped)", pgx.ErrTxCommitRollback)
	}
	return nil
}

// sendBatch sends the queued statements and then final (if any) in one round
// trip; last gets the command tag of the batch's last statement.
func (t *txViews) sendBatch(ctx context.Context, final string, last func(tag string, rows int64)) error {
	if len(t.queued) == 0 && final == "" {
		return nil
	}
	b, queued := t.batch, t.queued
	t.batch, t.queued = pgx.Batch{}, nil
	if final != "" {
		b.Queue(final)
	}
	res := t.conn.SendBatch(ctx, &b)
	var first error
	n := len(queued)
	if final != "" {
		n++
	}
	for i := range n {
		tag, err := res.Exec()
		if err != nil {
			if i < len(queued) {
				w := queued[i]
				err = t.writeError(w.def, w.op, w.key, err)
			} else {
				err = mapError("commit", err)
			}
			first = err
			break
		}
		if i == n-1 && last != nil {
			last(tag.String(), tag.RowsAffected())
		}
	}
	if err := res.Close(); first == nil && err != nil {
		first = mapError("commit", err)
	}
	return first
}
