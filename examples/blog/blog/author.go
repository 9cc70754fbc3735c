package blog

import (
	"strings"

	"github.com/consequent/consequent/es"
)

// Author is an author aggregate; its email address is unique among authors.
type Author struct {
	es.AggregateRoot
	email string
}

// On implements es.Aggregate.
func (a *Author) On(event any) {
	if e, ok := event.(AuthorEmailChanged); ok {
		a.email = e.Email
	}
}

// UniqueKeys implements es.UniqueKeyer: emails are unique, ignoring case.
func (a *Author) UniqueKeys() []es.UniqueKey {
	return []es.UniqueKey{{Scope: "author_email", Key: strings.ToLower(a.email)}}
}
