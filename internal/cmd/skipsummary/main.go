// Command skipsummary reads the JSON report of a ginkgo run and, when specs
// labelled "integration" were skipped, ends the run's output with a line per
// reason that says how many: for want of a PostgreSQL server, how to run them;
// for another reason (no Chromium), the skip's own message. The Makefile's
// test targets call it after ginkgo.
//
//	go run ./internal/cmd/skipsummary REPORT.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

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
	noServer, others, reasons := skippedIntegration(reports)
	if noServer > 0 {
		fmt.Printf("\n%d PostgreSQL specs skipped: no server (set CONSEQUENT_TEST_DATABASE_URL, or run make db as root; make unit runs only the others)\n", noServer)
	}
	for _, why := range reasons {
		fmt.Printf("\n%d specs skipped: %s\n", others[why], why)
	}
}

// skippedIntegration counts the specs labelled integration that were skipped:
// those for want of a PostgreSQL server (pgtest's message names it), and the
// others by their skip message, in the order first seen.
func skippedIntegration(reports []types.Report) (noServer int, others map[string]int, reasons []string) {
	others = map[string]int{}
	for _, r := range reports {
		for _, s := range r.SpecReports {
			if s.State != types.SpecStateSkipped || !slices.Contains(s.Labels(), "integration") {
				continue
			}
			why := s.Failure.Message
			if why == "" || strings.Contains(why, "no PostgreSQL server") {
				noServer++
				continue
			}
			if others[why] == 0 {
				reasons = append(reasons, why)
			}
			others[why]++
		}
	}
	return noServer, others, reasons
}
