package estest_test

import (
	"fmt"
	"strings"

	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
)

// printT prints the first lines of a failure instead of failing, for the example.
type printT struct{}

func (printT) Helper() {}
func (printT) Fatalf(format string, args ...any) {
	lines := strings.Split(strings.TrimPrefix(fmt.Sprintf(format, args...), "\n"), "\n")
	fmt.Println(strings.Join(lines[5:10], "\n"))
}

func Example() {
	bank := estest.New(RegisterBank)
	acc := estest.ID(1)

	// Passes: nothing printed.
	bank.WithT(printT{}).Given(acc, AccountOpened{Owner: "ann"}).
		When(Deposit{ID: acc, Amount: 100}).
		Then(Deposited{Amount: 100})

	// Fails: the table and the differing field.
	bank.WithT(printT{}).Given(acc, AccountOpened{Owner: "ann"}).
		When(Deposit{ID: acc, Amount: 100}).
		Then(Deposited{Amount: 10})
	// Output:
	// Then: the events differ:
	//   #  expected        actual
	//   1  bank.Deposited  bank.Deposited  differs
	//
	//   event 1, bank.Deposited:
}
