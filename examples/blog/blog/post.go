package blog

import (
	"encoding/json"
	"errors"

	"github.com/consequent/consequent/es"
)

// ErrAlreadyPublished refuses publishing a post twice.
var ErrAlreadyPublished = errors.New("post is already published")

// Post is the blog post aggregate.
type Post struct {
	es.AggregateRoot
	author, title string
	published     bool
	archived      bool
}

// add records a new post's events, as Sequent's Post constructor applies them.
func (p *Post) add(cmd AddPost) error {
	for _, e := range []any{
		PostAdded{},
		PostAuthorChanged{Author: cmd.Author},
		PostTitleChanged{Title: cmd.Title},
		PostContentChanged{Content: cmd.Content},
	} {
		if err := es.Record(p, e); err != nil {
			return err
		}
	}
	return nil
}

// ChangeTitle records a new title, unless it is the current one.
func (p *Post) ChangeTitle(title string) error {
	if title == p.title {
		return nil
	}
	return es.Record(p, PostTitleChanged{Title: title})
}

// Publish publishes the post, once.
func (p *Post) Publish(u *es.UnitOfWork) error {
	if p.published {
		return ErrAlreadyPublished
	}
	return es.Record(p, PostPublished{PublishedAt: u.Now()})
}

// Archive archives the post, unless it is archived already.
func (p *Post) Archive() error {
	if p.archived {
		return nil
	}
	return es.Record(p, PostArchived{})
}

// ViewState shows the post's state in the event browser (browser.StateViewer).
func (p *Post) ViewState() any {
	return struct {
		Author    string `json:"author"`
		Title     string `json:"title"`
		Published bool   `json:"published"`
		Archived  bool   `json:"archived"`
	}{p.author, p.title, p.published, p.archived}
}

// On implements es.Aggregate.
func (p *Post) On(event any) {
	switch e := event.(type) {
	case PostAuthorChanged:
		p.author = e.Author
	case PostTitleChanged:
		p.title = e.Title
	case PostPublished:
		p.published = true
	case PostArchived:
		p.archived = true
	}
}

// postSnapshot is a post's state as its snapshots store it (schema 1).
type postSnapshot struct {
	Author    string `json:"author"`
	Title     string `json:"title"`
	Published bool   `json:"published,omitempty"`
	Archived  bool   `json:"archived,omitempty"`
}

// MarshalSnapshot implements es.Snapshotter.
func (p *Post) MarshalSnapshot() ([]byte, error) {
	return json.Marshal(postSnapshot{Author: p.author, Title: p.title, Published: p.published, Archived: p.archived})
}

// UnmarshalSnapshot implements es.Snapshotter.
func (p *Post) UnmarshalSnapshot(data []byte) error {
	var s postSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	p.author, p.title, p.published, p.archived = s.Author, s.Title, s.Published, s.Archived
	return nil
}
