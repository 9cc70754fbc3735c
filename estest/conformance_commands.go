package estest

import (
	"context"
	"errors"
	"fmt"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// rbAdd adds N to each counter in IDs: one command, one commit, several streams.
type rbAdd struct {
	IDs []uuid.UUID `json:"ids"`
	N   int         `json:"n"`
}

// cmdRegistry is the rebuild cases' domain with a command, and the projector
// p inline when it is not nil (a commit with a transaction for its writes).
func cmdRegistry(p *es.Projector) *es.Registry {
	r := es.NewRegistry()
	c := es.RegisterAggregate(r, "rb.Counter", func() *rbCounter { return new(rbCounter) })
	es.RegisterEvent[rbAdded](c, "rb.Added")
	es.RegisterEvent[rbNoted](c, "rb.Noted")
	es.Handle(r, "rb.Add", func(ctx context.Context, u *es.UnitOfWork, cmd rbAdd) error {
		for _, id := range cmd.IDs {
			a, err := es.Load[*rbCounter](ctx, u, id)
			if errors.Is(err, es.ErrAggregateNotFound) {
				a, err = es.Create[*rbCounter](ctx, u, id)
			}
			if err != nil {
				return err
			}
			if err := es.Record(a, rbAdded{N: cmd.N}); err != nil {
				return err
			}
		}
		return nil
	})
	if p != nil {
		r.AddProjector(p)
	}
	return r
}

// commandCases check what the command service gets back from a store's commit.
func commandCases() []storeCase {
	run := func(p func() *es.Projector) func(ctx context.Context, s es.EventStore) error {
		return func(ctx context.Context, s es.EventStore) error {
			var proj *es.Projector
			if p != nil {
				proj = p()
			}
			svc, err := es.NewCommandService(ctx, cmdRegistry(proj), s, es.Options{Logger: rbQuiet})
			if err != nil {
				return err
			}
			defer svc.Close()
			a, b := ID(1), ID(2)
			var last es.Cursor
			for i, cmd := range []rbAdd{{IDs: []uuid.UUID{a, b}, N: 1}, {IDs: []uuid.UUID{b}, N: 2}, {IDs: []uuid.UUID{a, b}, N: 3}} {
				res, err := svc.Execute(ctx, cmd)
				if err != nil {
					return fmt.Errorf("command %d: %w", i+1, err)
				}
				if res.CommandID == uuid.Nil {
					return fmt.Errorf("command %d: the result has no command id", i+1)
				}
				if len(res.Events) != len(cmd.IDs) {
					return fmt.Errorf("command %d: the result has %d events, want %d", i+1, len(res.Events), len(cmd.IDs))
				}
				for _, e := range res.Events {
					if e.CommandID != res.CommandID {
						return fmt.Errorf("command %d: event %s v%d has command id %s, the result %s", i+1, e.StreamID, e.Version, e.CommandID, res.CommandID)
					}
					if e.Position <= 0 || e.TxID == 0 {
						return fmt.Errorf("command %d: event %s v%d: position %d, tx %d: not filled in", i+1, e.StreamID, e.Version, e.Position, e.TxID)
					}
					if e.TxID != res.Events[0].TxID {
						return fmt.Errorf("command %d: its events have different transaction ids (%d, %d)", i+1, res.Events[0].TxID, e.TxID)
					}
					if !last.Before(e.Cursor()) {
						return fmt.Errorf("command %d: event %s v%d at %v does not follow %v", i+1, e.StreamID, e.Version, e.Cursor(), last)
					}
					last = e.Cursor()
					stored, err := s.LoadStream(ctx, e.StreamID, es.StreamQuery{FromVersion: e.Version, ToVersion: e.Version})
					if err != nil {
						return err
					}
					if len(stored) != 1 || stored[0].ID != e.ID || stored[0].Position != e.Position || stored[0].TxID != e.TxID {
						return fmt.Errorf("command %d: event %s v%d: the result has id %s at %v, the store %+v", i+1, e.StreamID, e.Version, e.ID, e.Cursor(), stored)
					}
				}
			}
			return nil
		}
	}
	const contract = "Execute returns the events a command stored with the versions, positions and transaction id the store assigned them (positions > 0 and increasing, one transaction id per commit), as LoadStream returns them"
	return []storeCase{
		{"execute results", contract, run(nil)},
		{"execute results with an inline projector", contract + ", also when the commit runs inline projectors in its transaction", run(rbProjectorV1)},
	}
}
