package estest_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestEstest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "estest")
}
