package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/pgstore"
	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var schemaSeq atomic.Int64

// freshStore is an estest.Backend: a store in schemas of its own, migrated,
// which its Close drops (estest closes it after its case).
func freshStore(ctx context.Context) (es.EventStore, error) {
	n := schemaSeq.Add(1)
	cfg := pgstore.Config{Schema: fmt.Sprintf("conf_%d", n), ViewSchema: fmt.Sprintf("conf_%d_views", n)}
	drop := func() error {
		_, err := pool.Exec(context.WithoutCancel(ctx), fmt.Sprintf("DROP SCHEMA IF EXISTS %s, %s CASCADE",
			pgx.Identifier{cfg.Schema}.Sanitize(), pgx.Identifier{cfg.ViewSchema}.Sanitize()))
		return err
	}
	if err := pgstore.Migrate(ctx, pool, cfg); err != nil {
		return nil, errors.Join(err, drop())
	}
	s, err := pgstore.New(pool, cfg)
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	return schemaStore{Store: s, drop: drop}, nil
}

// schemaStore is a pgstore.Store in schemas of its own, dropped by Close.
type schemaStore struct {
	*pgstore.Store
	drop func() error
}

func (s schemaStore) Close() error { return s.drop() }

var _ = Describe("the PostgreSQL store", Label("integration"), func() {
	BeforeEach(requireDB)

	// The suite reads the log right after committing, but a transaction in
	// flight anywhere in the cluster (other databases included: xids are
	// cluster-wide) rightly holds the log's watermark back, so on a busy shared
	// server a run can fail until that transaction ends. Until estest polls
	// ReadLog itself, the whole suite is retried on fresh schemas for a while.
	It("passes the event-store conformance suite", func(ctx SpecContext) {
		Eventually(ctx, func(ctx context.Context) error { return estest.TestEventStore(ctx, freshStore) }).
			WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
	})
})
