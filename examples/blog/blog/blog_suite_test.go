package blog_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
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
	reminderSpecs(backend)
	projectorSpecs(backend)
}

// addedPost is the history most specs start from: the events of AddPost for
// the tutorial's first post, by ben.
func addedPost() []any {
	return []any{
		blog.PostAdded{},
		blog.PostAuthorChanged{Author: "ben"},
		blog.PostTitleChanged{Title: "My first blogpost"},
		blog.PostContentChanged{Content: "Hello World!"},
	}
}
