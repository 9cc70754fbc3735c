package es

import "sync"

// CommitNotifier is the optional capability of a store that tells listeners in
// its process about its commits: a [ProjectionWorker] on it wakes at once
// instead of at its next poll. memstore and pgstore implement it with
// [CommitListeners].
type CommitNotifier interface {
	// OnCommit registers fn, called (without arguments, so quickly) after each
	// commit of the store that succeeded, in no particular order. It returns a
	// function that unregisters fn.
	OnCommit(fn func()) (remove func())
}

// CommitListeners is the list of listeners of a [CommitNotifier], for store
// implementations to embed. Its zero value is empty; it is safe for concurrent
// use.
type CommitListeners struct {
	mu   sync.Mutex
	next int
	fns  map[int]func()
}

// OnCommit implements [CommitNotifier].
func (l *CommitListeners) OnCommit(fn func()) (remove func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fns == nil {
		l.fns = map[int]func(){}
	}
	id := l.next
	l.next++
	l.fns[id] = fn
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.fns, id)
	}
}

// Committed calls the listeners: a store calls it after each successful commit.
func (l *CommitListeners) Committed() {
	l.mu.Lock()
	fns := make([]func(), 0, len(l.fns))
	for _, fn := range l.fns {
		fns = append(fns, fn)
	}
	l.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
