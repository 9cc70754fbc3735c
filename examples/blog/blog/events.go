package blog

import "time"

// Post events. Sequent's generated blog records a post's fields as separate
// events, so each can change on its own later.
type (
	PostAdded         struct{}
	PostAuthorChanged struct {
		Author string `json:"author"`
	}
	PostTitleChanged struct {
		Title string `json:"title"`
	}
	PostContentChanged struct {
		Content string `json:"content"`
	}
	PostPublished struct {
		PublishedAt time.Time `json:"published_at"`
	}
	PostArchived struct{}
)

// Author events.
type (
	AuthorAdded struct {
		Name string `json:"name"`
	}
	AuthorEmailChanged struct {
		Email string `json:"email"`
	}
)

// NotificationQueued is the notification event: the outbox of messages to authors.
type NotificationQueued struct {
	PostID  string `json:"post_id"`
	To      string `json:"to"`
	Message string `json:"message"`
}
