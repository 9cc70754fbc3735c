package blog

import "github.com/consequent/consequent/es"

// Notification is a message queued for an author.
type Notification struct {
	es.AggregateRoot
}

// On implements es.Aggregate; a notification keeps no state.
func (n *Notification) On(any) {}
