package es

import (
	"fmt"

	"github.com/google/uuid"
)

// CheckCommit checks what a well-behaved runtime always sends, so that stores can
// refuse a malformed commit before writing anything: every stream has an id and a
// type and appears once; its events continue its expected version without gaps,
// belong to it and have a type; it claims at most one unique key per scope.
func CheckCommit(c *Commit) error {
	seen := make(map[uuid.UUID]bool, len(c.Streams))
	for _, w := range c.Streams {
		if w.StreamID == uuid.Nil {
			return fmt.Errorf("es: commit: stream with the nil uuid")
		}
		if seen[w.StreamID] {
			return fmt.Errorf("es: commit: stream %s appears twice: one write per stream", w.StreamID)
		}
		seen[w.StreamID] = true
		if w.StreamType == "" {
			return fmt.Errorf("es: commit: stream %s has no type", w.StreamID)
		}
		if w.ExpectedVersion < 0 {
			return fmt.Errorf("es: commit: stream %s: expected version %d is negative", w.StreamID, w.ExpectedVersion)
		}
		for i, e := range w.Events {
			if want := w.ExpectedVersion + int64(i) + 1; e.StreamID != w.StreamID || e.Version != want {
				return fmt.Errorf("es: commit: stream %s: event %d is %s version %d, want version %d", w.StreamID, i, e.StreamID, e.Version, want)
			}
			if e.Type == "" {
				return fmt.Errorf("es: commit: stream %s version %d: event has no type", w.StreamID, e.Version)
			}
		}
		scopes := map[string]bool{}
		for _, k := range w.UniqueKeys {
			if scopes[k.Scope] {
				return fmt.Errorf("es: commit: stream %s claims two unique keys in scope %s: one per scope", w.StreamID, k.Scope)
			}
			scopes[k.Scope] = true
		}
	}
	return nil
}
