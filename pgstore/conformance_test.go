package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"

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
	return pgstore.New(pool, cfg), nil
}

var _ = Describe("the PostgreSQL store", Label("integration"), func() {
	BeforeEach(requireDB)

	// FlakeAttempts: the suite reads the log right after committing, but a
	// transaction in flight anywhere in the cluster (other databases included:
	// xids are cluster-wide) rightly holds the log's watermark back. Until estest
	// polls ReadLog, a busy shared server can fail those cases once.
	It("passes the event-store conformance suite", FlakeAttempts(3), func(ctx SpecContext) {
		Expect(estest.TestEventStore(ctx, freshStore)).To(Succeed())
	})
})
