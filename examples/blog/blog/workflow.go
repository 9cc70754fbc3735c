package blog

import (
	"context"

	"github.com/consequent/consequent/es"
)

// NewPublicationWorkflow returns the workflow that notifies a post's author when
// the post is published. It is durable: a worker runs it from the global log,
// so a crash between the publication and the notification delays the
// notification, never loses it, and never sends it twice (the NotifyAuthor
// command and the notification's id derive from the event, see es.ReactionID).
func NewPublicationWorkflow() *es.Workflow {
	w := es.NewWorkflow("publication").Durable()
	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, _ PostPublished) error {
		r.Execute(NotifyAuthor{NotificationID: r.NewID(), PostID: e.StreamID})
		return nil
	})
	return w
}
