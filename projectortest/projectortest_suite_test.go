package projectortest_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestProjectortest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "projectortest")
}
