package blog

import (
	"context"

	"github.com/consequent/consequent/es"
)

// NewPublicationWorkflow returns the workflow that notifies a post's author when
// the post is published.
func NewPublicationWorkflow() *es.Workflow {
	w := es.NewWorkflow("publication")
	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, _ PostPublished) error {
		r.Execute(NotifyAuthor{NotificationID: r.NewID(), PostID: e.StreamID})
		return nil
	})
	return w
}
