package estest_test

import (
	"testing"

	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
)

type benchT struct{ b *testing.B }

func (t benchT) Helper()                        {}
func (t benchT) Fatalf(format string, a ...any) { t.b.Fatalf(format, a...) }

// BenchmarkSpec measures one whole in-memory Given/When/Then scenario: registry,
// store and service built, two events given, one command, events compared.
func BenchmarkSpec(b *testing.B) {
	acc := estest.ID(1)
	for b.Loop() {
		bank.WithT(benchT{b}).Given(acc, AccountOpened{Owner: "ann"}, Deposited{Amount: 10}).
			When(Withdraw{ID: acc, Amount: 5}).
			Then(Withdrawn{Amount: 5})
	}
}
