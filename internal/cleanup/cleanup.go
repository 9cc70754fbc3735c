// Package cleanup runs a function when the test or Ginkgo spec running now
// ends: the release hook of the harnesses (estest, projectortest).
package cleanup

import (
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// At arranges for release to run when the test or spec running now ends, and
// reports whether it could: through t's Cleanup method when t has one (a
// *testing.T given to WithT), else through Ginkgo's DeferCleanup when a Ginkgo
// spec (or suite node) is running. An error from release fails the test (t's
// Fatalf) or the spec.
func At(t any, release func() error) bool {
	if c, ok := t.(interface{ Cleanup(func()) }); ok {
		c.Cleanup(func() {
			if err := release(); err != nil {
				if f, ok := t.(interface{ Fatalf(string, ...any) }); ok {
					f.Fatalf("%v", err)
				}
			}
		})
		return true
	}
	if ginkgo.CurrentSpecReport().LeafNodeType == types.NodeTypeInvalid {
		return false // no spec running: plain go test without a t, or outside any test
	}
	ginkgo.DeferCleanup(release)
	return true
}
