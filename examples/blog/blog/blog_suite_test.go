package blog_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/pgstore/pgtest"
)

func TestBlog(t *testing.T) {
	RegisterFailHandler(Fail)
	defer pgtest.Close()
	RunSpecs(t, "Blog domain")
}

// The same specs run on the in-memory store and, under the integration label, on
// PostgreSQL.
var _ = Describe("on the in-memory store", func() {
	blogSpecs(estest.Memory)
})

var _ = Describe("on PostgreSQL", Label(pgtest.Label), func() {
	blogSpecs(pgtest.Backend)
})

// blogSpecs are every spec of the blog's domain, on the given backend.
func blogSpecs(backend estest.Backend) {
	postSpecs(backend)
	authorSpecs(backend)
	publicationSpecs(backend)
	projectorSpecs(backend)
}
