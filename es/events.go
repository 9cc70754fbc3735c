package es

import (
	"context"
	"errors"
	"iter"
	"slices"
)

// EventsQuery selects events of the global log for [Events].
type EventsQuery struct {
	After Cursor   // start after this point of the log (zero: from its start)
	Types []string // registered event type names to read (empty: every type)
	Limit int      // stop after this many events (0: no limit)
}

// Events yields the events of the global log after q.After, decoded, in log
// order ((TxID, Position), see [Cursor]), as the store sends them: nothing holds
// the whole log in memory, so it serves replays of any length. On a store that
// implements [ReadModelStore] it is one read, under one watermark, filtered by
// type in the store; on others, pages of [EventStore.ReadLog]. The first error
// (a read that failed, an event that cannot be decoded) is yielded once, last.
//
//	for env, err := range es.Events(ctx, reg, store, es.EventsQuery{Types: []string{"blog.PostAdded"}}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(env.StreamID, env.Event)
//	}
func Events(ctx context.Context, reg *Registry, store EventStore, q EventsQuery) iter.Seq2[Envelope, error] {
	return func(yield func(Envelope, error) bool) {
		errStop := errors.New("stop")
		each := func(rec EventRecord) error {
			env, err := reg.Decode(rec)
			if err != nil {
				yield(Envelope{}, err)
				return errStop
			}
			if !yield(env, nil) {
				return errStop
			}
			return nil
		}
		var err error
		if rms, ok := store.(ReadModelStore); ok {
			err = rms.StreamLog(ctx, q.After, q.Types, q.Limit, each)
		} else {
			err = readLogPages(ctx, store, q, each)
		}
		if err != nil && !errors.Is(err, errStop) {
			yield(Envelope{}, err)
		}
	}
}

// readLogPages reads the log page by page through [EventStore.ReadLog].
func readLogPages(ctx context.Context, store EventStore, q EventsQuery, fn func(EventRecord) error) error {
	const page = 1000
	after, n := q.After, 0
	for {
		recs, err := store.ReadLog(ctx, after, page)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if len(q.Types) > 0 && !slices.Contains(q.Types, rec.Type) {
				continue
			}
			if err := fn(rec); err != nil {
				return err
			}
			if n++; q.Limit > 0 && n == q.Limit {
				return nil
			}
		}
		if len(recs) < page {
			return nil
		}
		after = recs[len(recs)-1].Cursor()
	}
}
