package es

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// appendCommand is the command record of [CommandService.Append].
type appendCommand struct {
	StreamID uuid.UUID `json:"stream_id"`
	Events   []string  `json:"events"`
}

// Append stores events in a stream as if its aggregate had recorded them: each is
// applied to the aggregate (loaded, or new when the stream does not exist), the
// aggregate's unique keys are claimed, and inline projectors run, all in one
// commit recorded as an "es.Append" command. Workflows do not run. It serves
// fixtures, seeding and specs (estest's Given); the events must all be registered
// for one aggregate type.
func (s *CommandService) Append(ctx context.Context, streamID uuid.UUID, events ...any) ([]Envelope, error) {
	if len(events) == 0 {
		return nil, nil
	}
	t, ok := s.rt.reg.AggregateOf(events[0])
	if !ok {
		return nil, fmt.Errorf("es: append to %s: %T is not a registered event: register it with es.RegisterEvent", streamID, events[0])
	}
	cmd := appendCommand{StreamID: streamID}
	for _, e := range events {
		name, _ := s.rt.reg.EventName(e)
		cmd.Events = append(cmd.Events, name)
	}
	h := &commandHandler{name: "es.Append", handle: func(ctx context.Context, u *UnitOfWork, _ any) error {
		a, err := u.loadOrCreate(ctx, t, streamID)
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := Record(a, e); err != nil {
				return err
			}
		}
		return nil
	}}
	return s.rt.attempt(ctx, h, cmd, execMeta{}, nil)
}

// loadOrCreate returns the aggregate with id, loaded, or new when it does not exist.
func (u *UnitOfWork) loadOrCreate(ctx context.Context, t *AggregateType, id uuid.UUID) (Aggregate, error) {
	if a, ok := u.byID[id]; ok {
		return a, nil
	}
	a, err := u.rt.load(ctx, t, id, StreamQuery{}, true)
	if errors.Is(err, ErrAggregateNotFound) {
		a, err = t.newAggregate(), nil
		a.root().id, a.root().typ = id, t
	}
	if err != nil {
		return nil, err
	}
	u.attach(a)
	return a, nil
}
