package estest_test

import (
	"context"

	"github.com/consequent/consequent/estest"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the in-memory store", func() {
	It("passes the event-store conformance suite", func() {
		Expect(estest.TestEventStore(context.Background(), estest.Memory)).To(Succeed())
	})
})
