package projectortest_test

import (
	"fmt"
	"strings"

	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/projectortest"
)

// printT prints the first lines of a failure instead of failing, for the example.
type printT struct{}

func (printT) Helper() {}
func (printT) Fatalf(format string, args ...any) {
	lines := strings.Split(strings.TrimPrefix(fmt.Sprintf(format, args...), "\n"), "\n")
	fmt.Println(strings.Join(lines[4:9], "\n"))
}

func Example() {
	balancesSpec := projectortest.New(register, balances(false), projectortest.Options{ReplayTwice: true})
	acc := estest.ID(1)

	// Passes: nothing printed.
	balancesSpec.WithT(printT{}).Given(acc, Opened{Owner: "ann"}, Deposited{Amount: 5}).
		ThenRecords(Balances, Balance{ID: acc, Owner: "ann", Amount: 5})

	// Fails: the rows by key, and the differing field.
	balancesSpec.WithT(printT{}).Given(acc, Opened{Owner: "ann"}, Deposited{Amount: 5}).
		ThenRecords(Balances, Balance{ID: acc, Owner: "ann", Amount: 50})
	// Output:
	// Then: the rows of balances differ (1 expected, 1 actual):
	//   key                                      status
	//   id=00000000-0000-0000-0000-000000000001  differs
	//
	//   row id=00000000-0000-0000-0000-000000000001:
}
