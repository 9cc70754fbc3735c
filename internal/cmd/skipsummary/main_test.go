package main

import (
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func skipped(msg string, labels ...string) types.SpecReport {
	return types.SpecReport{State: types.SpecStateSkipped, LeafNodeLabels: labels, Failure: types.Failure{Message: msg}}
}

func TestSkippedIntegrationSaysWhy(t *testing.T) {
	reports := []types.Report{{SpecReports: types.SpecReports{
		skipped("pgtest: no PostgreSQL server (see the notice above, or set CONSEQUENT_TEST_DATABASE_URL)", "integration"),
		skipped("pgtest: no PostgreSQL server (see the notice above, or set CONSEQUENT_TEST_DATABASE_URL)", "integration"),
		skipped("no Chromium for the browser specs", "integration", "browser"),
		skipped("no Chromium for the browser specs", "integration", "browser"),
		skipped("no Chromium for the browser specs", "integration", "browser"),
		skipped("focused elsewhere"), // not an integration spec: not counted
		{State: types.SpecStatePassed, LeafNodeLabels: []string{"integration"}},
	}}}
	noServer, others, reasons := skippedIntegration(reports)
	if noServer != 2 {
		t.Errorf("no server: %d specs, want 2", noServer)
	}
	if len(reasons) != 1 || reasons[0] != "no Chromium for the browser specs" || others[reasons[0]] != 3 {
		t.Errorf("other reasons: %v %v, want 3 for want of Chromium", reasons, others)
	}
}
