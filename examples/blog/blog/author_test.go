package blog_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
)

// authorSpecs are the command specs of authors, whose email addresses are unique.
func authorSpecs(backend estest.Backend) {
	blogSpec := estest.New(blog.Register, estest.Options{Backend: backend})
	benID, otherID := estest.ID(1), estest.ID(2)

	Describe("AddAuthor", func() {
		It("adds an author", func() {
			blogSpec.
				When(blog.AddAuthor{AuthorID: benID, Name: "Ben", Email: "ben@example.com"}).
				Then(blog.AuthorAdded{Name: "Ben"}, blog.AuthorEmailChanged{Email: "ben@example.com"})
		})

		It("refuses an email address another author holds, whatever its case", func() {
			blogSpec.Given(otherID, blog.AuthorAdded{Name: "Ben"}, blog.AuthorEmailChanged{Email: "ben@example.com"}).
				When(blog.AddAuthor{AuthorID: benID, Name: "Benjamin", Email: "BEN@example.com"}).
				ThenFails(uniqueKeyTaken("author_email", "ben@example.com"))
		})

		It("lets exactly one of two concurrent AddAuthor with one email win", func() {
			svc := blogSpec.Scenario().Service()
			for round := range 10 {
				email := fmt.Sprintf("race%d@example.com", round)
				errs := make([]error, 2)
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() {
						_, errs[i] = svc.Execute(context.Background(), blog.AddAuthor{AuthorID: uuid.New(), Name: "Racer", Email: email})
					})
				}
				wg.Wait()
				Expect(errs).To(ConsistOf(BeNil(), And(HaveOccurred(), uniqueKeyTaken("author_email", email))), "round %d", round)
			}
		})

		It("refuses it too when the first author came through a command", func() {
			blogSpec.GivenCommands(blog.AddAuthor{AuthorID: otherID, Name: "Ben", Email: "Ben@Example.com"}).
				When(blog.AddAuthor{AuthorID: benID, Name: "Benjamin", Email: "ben@example.com"}).
				ThenFails(uniqueKeyTaken("author_email", "ben@example.com"))
		})

		It("refuses a blank name and an invalid email address", func() {
			blogSpec.
				When(blog.AddAuthor{AuthorID: benID, Name: "", Email: "ben"}).
				ThenFails(invalid(map[string][]string{
					"name":  {"can't be blank"},
					"email": {"is not an email address"},
				}))
		})
	})
}

// uniqueKeyTaken matches a *es.UniqueKeyError for the key in scope.
func uniqueKeyTaken(scope, key string) types.GomegaMatcher {
	return estest.ErrorAs(func(e *es.UniqueKeyError) bool { return e.Scope == scope && e.Key == key })
}
