package blog_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/estest"
)

func TestBlog(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Blog domain")
}

// Every spec body takes the backend it runs on, so the same specs run on the
// in-memory store here and on PostgreSQL under the integration label.
var _ = Describe("on the in-memory store", func() {
	postSpecs(estest.Memory)
	authorSpecs(estest.Memory)
	publicationSpecs(estest.Memory)
	projectorSpecs(estest.Memory)
})
