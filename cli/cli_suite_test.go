package cli_test

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/consequent/consequent/pgstore/pgtest"
)

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	defer pgtest.Close()
	// Reads of the global log wait for the watermark, which a transaction in
	// flight anywhere on the server holds back.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "cli")
}

// The binaries under test: the blog, which mounts the command line in its own
// binary, and blogx (testdata/blogx), the blog with version 2 of its post
// projector or an async projector.
var blogBin, blogxBin string

var _ = SynchronizedBeforeSuite(func(SpecContext) []byte {
	blog, err := gexec.Build("github.com/consequent/consequent/examples/blog")
	Expect(err).NotTo(HaveOccurred())
	blogx, err := gexec.Build("github.com/consequent/consequent/cli/testdata/blogx")
	Expect(err).NotTo(HaveOccurred())
	return []byte(blog + "\n" + blogx)
}, func(_ SpecContext, paths []byte) {
	var ok bool
	blogBin, blogxBin, ok = strings.Cut(string(paths), "\n")
	Expect(ok).To(BeTrue())
}, NodeTimeout(5*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})
