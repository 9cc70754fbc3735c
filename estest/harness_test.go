package estest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gstruct"
)

// recorder is a testing.T stand-in that keeps failure messages, so specs can check
// what a failing scenario prints.
type recorder struct{ failures []string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) output() string { return strings.TrimPrefix(strings.Join(r.failures, "\n"), "\n") }

// bank is the test domain's bank with its workflow: a withdrawal of 1,000 or more
// sends a statement.
var bank = estest.New(BankOptions{Statements: true}.Register)

var _ = Describe("a command scenario", func() {
	acc := estest.ID(1)

	It("passes when the command stores exactly the expected events", func() {
		bank.Given(acc, AccountOpened{Owner: "ann"}).
			When(Deposit{ID: acc, Amount: 100}).
			Then(Deposited{Amount: 100})
	})

	It("runs under the spec's context", func(ctx SpecContext) {
		bank.WithContext(ctx).Given(acc, AccountOpened{Owner: "ann"}).
			When(Deposit{ID: acc, Amount: 100}).
			Then(Deposited{Amount: 100})

		done, cancel := context.WithCancel(ctx)
		cancel()
		g := NewGomega(func(message string, _ ...int) { panic(message) })
		Expect(func() { bank.WithGomega(g).WithContext(done).Given(acc, AccountOpened{Owner: "ann"}) }).
			To(PanicWith(ContainSubstring("context canceled")))
	})

	It("accepts Gomega matchers for partial checks", func() {
		bank.Given(acc, AccountOpened{Owner: "ann"}).
			When(Deposit{ID: acc, Amount: 100}).
			Then(gstruct.MatchFields(gstruct.IgnoreExtras, gstruct.Fields{"Amount": Equal(int64(100))}))
		bank.Given(acc, AccountOpened{Owner: "ann"}).
			When(Deposit{ID: acc, Amount: 100, Currency: "EUR"}).
			Then(estest.EventLike(Deposited{Amount: 100}, "Currency"))
	})

	It("checks failures by sentinel, by message and by matcher", func() {
		s := bank.Given(acc, AccountOpened{Owner: "ann"}).When(Withdraw{ID: acc, Amount: 5})
		s.ThenFails(ErrInsufficientFunds)
		s.ThenFails("insufficient funds")
		s.ThenFails(MatchError(ContainSubstring("bank.Withdraw")))
		bank.When(Deposit{ID: acc, Amount: 1}).ThenFails(es.ErrAggregateNotFound)
	})

	It("checks validation errors field by field", func() {
		bank.When(Deposit{}).ThenFails(estest.Invalid("Amount", "ID"))
		bank.When(Deposit{}).ThenFails(estest.InvalidField("Amount", "must be positive"))
		t := &recorder{}
		bank.WithT(t).When(Deposit{}).ThenFails(estest.InvalidField("Amount", "is required"))
		Expect(t.output()).To(ContainSubstring(`Expected a validation error with field Amount "is required"`))
	})

	It("checks typed errors by their fields", func() {
		bank.When(Deposit{}).ThenFails(estest.ErrorAs(func(e *es.ValidationError) bool { return e.Command == "bank.Deposit" && len(e.Fields) == 2 }))
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Withdraw{ID: acc, Amount: 5}).ThenFails(estest.ErrorAs[*es.UniqueKeyError]())
		Expect(t.output()).To(ContainSubstring("Expected an error with a *es.UniqueKeyError in its chain, got:\n  es: command bank.Withdraw: insufficient funds"))
	})

	It("makes ids that cannot collide with the spec's own", func() {
		s := bank.When(OpenAccount{ID: estest.ID(1), Owner: "ann", Email: "ann@example.com"})
		Expect(s.Result().Events[0].ID).NotTo(Equal(estest.ID(1)))
		Expect(s.Result().Events[0].CommandID.String()).To(HavePrefix("00000000-0000-0000-0001-"))
	})

	It("sees no events when the command records none", func() {
		bank.Given(acc, AccountOpened{}).When(Withdraw{ID: acc, Amount: 0}).Then(Withdrawn{Amount: 0})
	})

	It("gives the result to custom matchers", func() {
		s := bank.Given(acc, AccountOpened{Owner: "ann"}).When(Deposit{ID: acc, Amount: 7})
		Expect(s.Result().Events).To(HaveLen(1))
		Expect(s.Result().Events[0].Version).To(Equal(int64(2)))
		Expect(s.Result().Events[0].Time).To(Equal(estest.DefaultStart()))
		Expect(s.Result()).To(estest.HaveEvents(Deposited{Amount: 7}))
	})

	It("takes history from real commands, and several streams", func() {
		other := estest.ID(2)
		bank.GivenCommands(OpenAccount{ID: acc, Owner: "ann", Email: "ann@example.com"}, Deposit{ID: acc, Amount: 10}).
			Given(other, AccountOpened{Owner: "bob"}).
			When(Withdraw{ID: acc, Amount: 10}).
			Then(Withdrawn{Amount: 10})
	})

	It("runs under plain go test with WithT", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 1}).Then(Deposited{Amount: 1})
		Expect(t.failures).To(BeEmpty())
	})

	It("moves the clock on request", func() {
		s := bank.Given(acc, AccountOpened{}).AdvanceClock(time.Hour).When(Deposit{ID: acc, Amount: 1})
		Expect(s.Result().Events[0].Time).To(Equal(estest.DefaultStart().Add(time.Hour)))
	})

	It("runs workflows only when asked", func() {
		withWorkflows := estest.New(BankOptions{Statements: true}.Register, estest.Options{Workflows: true})
		withWorkflows.Given(acc, AccountOpened{}, Deposited{Amount: 2000}).
			When(Withdraw{ID: acc, Amount: 1500}).
			Then(Withdrawn{Amount: 1500}, StatementSent{Balance: 500})
		bank.Given(acc, AccountOpened{}, Deposited{Amount: 2000}).
			When(Withdraw{ID: acc, Amount: 1500}).
			Then(Withdrawn{Amount: 1500})
	})
})

var _ = Describe("a workflow scenario", func() {
	acc := estest.ID(1)

	It("records the commands a workflow issues", func() {
		bank.Given(acc, AccountOpened{}).WhenEvent(acc, Withdrawn{Amount: 1000}).ThenCommands(SendStatement{ID: acc})
		bank.Given(acc, AccountOpened{}).WhenEvent(acc, Withdrawn{Amount: 5}).ThenNoCommands()
	})
})

var _ = Describe("failure output", func() {
	acc := estest.ID(1)

	It("prints given, command, a table and each differing field", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{Owner: "ann"}).
			When(Deposit{ID: acc, Amount: 100}).
			Then(Deposited{Amount: 1000}, Withdrawn{Amount: 1})
		Expect(t.output()).To(Equal(`Given:
  stream 00000000-0000-0000-0000-000000000001 (bank.Account)
    1 bank.AccountOpened {"owner":"ann","email":""}
When:
  bank.Deposit {"ID":"00000000-0000-0000-0000-000000000001","Amount":100}
Then: the events differ:
  #  expected        actual
  1  bank.Deposited  bank.Deposited  differs
  2  bank.Withdrawn  (none)          missing

  event 1, bank.Deposited:
    Amount: expected 1000, actual 100

Compared: event payloads, in order, exactly. Ignored: event ids, stream ids, versions, positions, times,
command, correlation and causation ids, metadata.
`))
	})

	It("prints the error instead of the table when the command failed", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Withdraw{ID: acc, Amount: 5}).Then(Withdrawn{Amount: 5})
		Expect(t.output()).To(ContainSubstring("Then: expected 1 event, but the command failed:\n  es: command bank.Withdraw: insufficient funds\n"))
		Expect(t.output()).NotTo(ContainSubstring("expected  actual"))
	})

	It("names unexpected events and a wrong type", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 5}).ThenNoEvents()
		Expect(t.output()).To(ContainSubstring("1  (none)    bank.Deposited  unexpected"))
		Expect(t.output()).To(ContainSubstring(`payload: {"Amount":5}`))
		t = &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 5}).Then(Withdrawn{Amount: 5})
		Expect(t.output()).To(ContainSubstring("expected a bank.Withdrawn, actual a bank.Deposited"))
	})

	It("says what happened when a failure was expected", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 5}).ThenFails(ErrInsufficientFunds)
		Expect(t.output()).To(ContainSubstring(`Then: expected the command to fail with an error that is "insufficient funds" (errors.Is), but it succeeded and stored 1 event:
  bank.Deposited {"Amount":5}`))
		t = &recorder{}
		bank.WithT(t).When(Deposit{ID: acc, Amount: 5}).ThenFails(ErrInsufficientFunds)
		Expect(t.output()).To(ContainSubstring("but it failed with:\n  es: command bank.Deposit: load bank.Account 00000000-0000-0000-0000-000000000001: aggregate not found"))
	})

	It("prints a matcher's own message for a matcher that fails", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 5}).
			Then(estest.EventLike(Deposited{Amount: 6}, "Currency"))
		Expect(t.output()).To(ContainSubstring("1  (matcher)  bank.Deposited  differs"))
		Expect(t.output()).To(ContainSubstring("    Amount: expected 6, actual 5\n    (ignoring Currency)"))
	})

	It("lists commands of a workflow scenario", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).WhenEvent(acc, Withdrawn{Amount: 1000}).ThenNoCommands()
		Expect(t.output()).To(ContainSubstring("When event:\n  stream 00000000-0000-0000-0000-000000000001 (bank.Account)\n    2 bank.Withdrawn {\"Amount\":1000}"))
		Expect(t.output()).To(ContainSubstring("1  (none)    bank.SendStatement  unexpected"))
	})

	It("explains misuse", func() {
		t := &recorder{}
		bank.WithT(t).When(Deposit{}).ThenFails("")
		Expect(t.output()).To(ContainSubstring(`estest.FailWith("") would match any error`))
		t = &recorder{}
		bank.WithT(t).Then(Deposited{})
		Expect(t.output()).To(ContainSubstring("Then before When: call When(cmd) or WhenEvent(id, event) first"))
		t = &recorder{}
		bank.WithT(t).Given(acc)
		Expect(t.output()).To(ContainSubstring("has no events"))
		t = &recorder{}
		bank.WithT(t).Given(acc, struct{ X int }{}).When(Deposit{ID: acc, Amount: 1})
		Expect(t.output()).To(ContainSubstring("is not a registered event: register it with es.RegisterEvent"))
		t = &recorder{}
		bank.WithT(t).When(OpenAccount{ID: acc, Owner: "ann", Email: "ann@example.com"}).GivenCommands(Deposit{ID: acc, Amount: 1})
		Expect(t.output()).To(ContainSubstring("GivenCommands after When: put every Given before the When"))
	})

	It("points at the spec's own line", func() {
		var at []string
		g := NewGomega(func(_ string, skip ...int) {
			_, file, line, _ := runtime.Caller(skip[0] + 1)
			at = append(at, fmt.Sprintf("%s:%d", filepath.Base(file), line))
		})
		_, _, line, _ := runtime.Caller(0)
		bank.WithGomega(g).When(Deposit{ID: uuid.New(), Amount: 5}).Then(Deposited{})
		bank.WithGomega(g).Given(acc)
		bank.WithGomega(g).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 5}).ThenFails("x")
		bank.WithGomega(g).Then()
		bank.WithGomega(g).When(OpenAccount{ID: acc, Owner: "ann", Email: "ann@example.com"}).GivenCommands(Deposit{ID: acc, Amount: 1})
		bank.WithGomega(g).Result()
		bank.WithGomega(g).GivenCommands(Deposit{ID: uuid.New(), Amount: 1})
		bank.WithGomega(g).WhenEvent(acc, AccountOpened{}).WhenEvent(acc, AccountOpened{})
		Expect(at).To(Equal([]string{
			fmt.Sprintf("harness_test.go:%d", line+1),
			fmt.Sprintf("harness_test.go:%d", line+2),
			fmt.Sprintf("harness_test.go:%d", line+3),
			fmt.Sprintf("harness_test.go:%d", line+4),
			fmt.Sprintf("harness_test.go:%d", line+5),
			fmt.Sprintf("harness_test.go:%d", line+6),
			fmt.Sprintf("harness_test.go:%d", line+7),
			fmt.Sprintf("harness_test.go:%d", line+8),
		}))
	})
})
