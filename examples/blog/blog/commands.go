package blog

import (
	"net/mail"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// AddPost creates a post.
type AddPost struct {
	PostID  uuid.UUID `json:"post_id"`
	Author  string    `json:"author"`
	Title   string    `json:"title"`
	Content string    `json:"content"`
}

// Validate implements es.Validator.
func (c AddPost) Validate() error {
	var v es.ValidationError
	v.Check(c.PostID != uuid.Nil, "post_id", "is required")
	v.Check(strings.TrimSpace(c.Author) != "", "author", "can't be blank")
	v.Check(strings.TrimSpace(c.Title) != "", "title", "can't be blank")
	v.Check(strings.TrimSpace(c.Content) != "", "content", "can't be blank")
	return v.Err()
}

// ChangePostTitle gives a post a new title.
type ChangePostTitle struct {
	PostID uuid.UUID `json:"post_id"`
	Title  string    `json:"title"`
}

// Validate implements es.Validator.
func (c ChangePostTitle) Validate() error {
	var v es.ValidationError
	v.Check(strings.TrimSpace(c.Title) != "", "title", "can't be blank")
	return v.Err()
}

// PublishPost publishes a post; a post is published once.
type PublishPost struct {
	PostID uuid.UUID `json:"post_id"`
}

// ArchivePost archives a post; archiving an archived post changes nothing.
type ArchivePost struct {
	PostID uuid.UUID `json:"post_id"`
}

// AddAuthor registers an author; no two authors share an email address.
type AddAuthor struct {
	AuthorID uuid.UUID `json:"author_id"`
	Name     string    `json:"name"`
	Email    string    `json:"email"`
}

// Validate implements es.Validator.
func (c AddAuthor) Validate() error {
	var v es.ValidationError
	v.Check(c.AuthorID != uuid.Nil, "author_id", "is required")
	v.Check(strings.TrimSpace(c.Name) != "", "name", "can't be blank")
	_, err := mail.ParseAddress(c.Email)
	v.Check(err == nil, "email", "is not an email address")
	return v.Err()
}

// NotifyAuthor queues a message to a post's author; the publication workflow
// issues it.
type NotifyAuthor struct {
	NotificationID uuid.UUID `json:"notification_id"`
	PostID         uuid.UUID `json:"post_id"`
}

// RemindAuthor queues a reminder to the author of a post that is still
// unpublished; AddPost schedules it for a week later ([ReminderDelay]), and
// PublishPost cancels it. A post published meanwhile gets no reminder.
type RemindAuthor struct {
	NotificationID uuid.UUID `json:"notification_id"`
	PostID         uuid.UUID `json:"post_id"`
}
