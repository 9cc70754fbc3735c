package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/pgstore"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var schemaSeq atomic.Int64

// freshStore is an estest.Backend: a store in schemas of its own, migrated.
func freshStore(ctx context.Context) (es.EventStore, error) {
	n := schemaSeq.Add(1)
	cfg := pgstore.Config{Schema: fmt.Sprintf("conf_%d", n), ViewSchema: fmt.Sprintf("conf_%d_views", n)}
	if err := pgstore.Migrate(ctx, pool, cfg); err != nil {
		return nil, err
	}
	return pgstore.New(pool, cfg)
}

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
