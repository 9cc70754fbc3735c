package blog

import "time"

// Post events. Sequent's generated blog records a post's fields as separate
// events, so each can change on its own later.
type (
	PostAdded          struct{}
	PostAuthorChanged  struct{ Author string }
	PostTitleChanged   struct{ Title string }
	PostContentChanged struct{ Content string }
	PostPublished      struct{ PublishedAt time.Time }
)

// Author events.
type (
	AuthorAdded        struct{ Name string }
	AuthorEmailChanged struct{ Email string }
)

// Notification events: the outbox of messages to authors.
type NotificationQueued struct {
	PostID  string
	To      string
	Message string
}
