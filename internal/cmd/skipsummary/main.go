// Command skipsummary reads the JSON report of a ginkgo run and, when specs
// labelled "integration" were skipped (no PostgreSQL server), ends the run's
// output with one line that says how many and how to run them: the Makefile's
// test targets call it after ginkgo.
//
//	go run ./internal/cmd/skipsummary REPORT.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: skipsummary REPORT.json")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		return // no report (ginkgo failed to start): nothing to add
	}
	var reports []types.Report
	if err := json.Unmarshal(b, &reports); err != nil {
		fmt.Fprintf(os.Stderr, "skipsummary: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	if n := skippedIntegration(reports); n > 0 {
		fmt.Printf("\n%d PostgreSQL specs skipped: no server (set CONSEQUENT_TEST_DATABASE_URL, or run make db as root; make unit runs only the others)\n", n)
	}
}

// skippedIntegration counts the specs labelled integration that were skipped.
func skippedIntegration(reports []types.Report) int {
	n := 0
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.State == types.SpecStateSkipped && slices.Contains(s.Labels(), "integration") {
				n++
			}
		}
	}
	return n
}
