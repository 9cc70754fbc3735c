package browser_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/pgstore/pgtest"
)

func TestBrowser(t *testing.T) {
	RegisterFailHandler(Fail)
	defer pgtest.Close()
	RunSpecs(t, "Event browser")
}

// The handler specs run on the in-memory store and, under the integration
// label, on PostgreSQL.
var _ = Describe("on the in-memory store", func() {
	handlerSpecs(estest.Memory)
})

var _ = Describe("on PostgreSQL", Label(pgtest.Label), func() {
	handlerSpecs(pgtest.Backend)
})
