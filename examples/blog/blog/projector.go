package blog

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// PostRecord is a row of the post_records view table.
type PostRecord struct {
	AggregateID uuid.UUID  `db:"aggregate_id" json:"id"`
	Author      string     `db:"author" json:"author"`
	Title       string     `db:"title" json:"title"`
	Content     string     `db:"content" json:"content"`
	PublishedAt *time.Time `db:"published_at" json:"published_at,omitempty"`
}

// PostRecords is the post_records view table.
var PostRecords = es.NewTable[PostRecord]("post_records", "aggregate_id").Index("author")

// NewPostProjector returns the projector that keeps post_records.
func NewPostProjector() *es.Projector {
	p := es.NewProjector("post_projector", PostRecords)
	byID := func(e es.Envelope) es.Where { return es.Where{"aggregate_id": e.StreamID} }
	// Upsert, not Insert: applying the events again (a rebuild, or a resume after
	// a crash) must give the same rows, not a duplicate-key error.
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, _ PostAdded) error {
		return PostRecords.Upsert(ctx, v, PostRecord{AggregateID: e.StreamID})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostAuthorChanged) error {
		return PostRecords.Set(ctx, v, byID(e), es.Row{"author": ev.Author})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostTitleChanged) error {
		return PostRecords.Set(ctx, v, byID(e), es.Row{"title": ev.Title})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostContentChanged) error {
		return PostRecords.Set(ctx, v, byID(e), es.Row{"content": ev.Content})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostPublished) error {
		return PostRecords.Set(ctx, v, byID(e), es.Row{"published_at": ev.PublishedAt})
	})
	return p
}
