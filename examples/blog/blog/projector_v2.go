package blog

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// Version 2 of the post projector: post_records gains the archived column. An
// application makes this change in place (it adds Archived to PostRecord,
// projects PostArchived and raises Versioned to 2; see "Changing a read model"
// in the README); the blog keeps both versions side by side so that its specs
// can deploy version 2 over a database that version 1 built, as a rolling
// deploy does.

// PostRecordV2 is a row of post_records as version 2 writes it.
type PostRecordV2 struct {
	AggregateID uuid.UUID  `db:"aggregate_id" json:"id"`
	Author      string     `db:"author" json:"author"`
	Title       string     `db:"title" json:"title"`
	Content     string     `db:"content" json:"content"`
	PublishedAt *time.Time `db:"published_at" json:"published_at,omitempty"`
	Archived    bool       `db:"archived" json:"archived"`
}

// PostRecordsV2 is the post_records view table of version 2.
var PostRecordsV2 = es.NewTable[PostRecordV2]("post_records", "aggregate_id").Index("author")

// NewPostProjectorV2 returns version 2 of the post projector: [NewPostProjector]
// plus the archived column. Its tables differ from version 1's, hence
// Versioned(2): deployed over version 1's tables, it rebuilds them in the
// background while they keep serving, then swaps the new ones in.
func NewPostProjectorV2() *es.Projector {
	p := es.NewProjector("post_projector", PostRecordsV2).Versioned(2)
	byID := func(e es.Envelope) es.Where { return es.Where{"aggregate_id": e.StreamID} }
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, _ PostAdded) error {
		return PostRecordsV2.Upsert(ctx, v, PostRecordV2{AggregateID: e.StreamID})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostAuthorChanged) error {
		return PostRecordsV2.Set(ctx, v, byID(e), es.Row{"author": ev.Author})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostTitleChanged) error {
		return PostRecordsV2.Set(ctx, v, byID(e), es.Row{"title": ev.Title})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostContentChanged) error {
		return PostRecordsV2.Set(ctx, v, byID(e), es.Row{"content": ev.Content})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev PostPublished) error {
		return PostRecordsV2.Set(ctx, v, byID(e), es.Row{"published_at": ev.PublishedAt})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, _ PostArchived) error {
		return PostRecordsV2.Set(ctx, v, byID(e), es.Row{"archived": true})
	})
	return p
}
