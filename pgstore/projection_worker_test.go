package pgstore_test

import (
	"context"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/internal/workerspecs"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The projection worker's specs on PostgreSQL (package workerspecs runs them on
// each store).
var _ = workerspecs.Describe("async projectors on PostgreSQL", pgtest.Store, Label(pgtest.Label))

// newNotebook is the test domain's notebook on a fresh pgtest store.
func newNotebook(ctx context.Context, opts es.WorkerOptions, projectors ...*es.Projector) *workerspecs.Notebook[*pgstore.Store] {
	GinkgoHelper()
	s, err := pgtest.Store(ctx)
	Expect(err).NotTo(HaveOccurred())
	return workerspecs.NewNotebook(ctx, s, opts, projectors...)
}
