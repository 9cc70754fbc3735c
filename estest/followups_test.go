package estest_test

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// registerOverdraft is the bank with a second workflow whose command fails:
// a withdrawal of 1500 makes it withdraw far more than the account holds.
func registerOverdraft(r *es.Registry) {
	BankOptions{Statements: true}.Register(r)
	w := es.NewWorkflow("overdraft")
	es.React(w, func(_ context.Context, r *es.Reaction, e es.Envelope, ev Withdrawn) error {
		if ev.Amount == 1500 {
			r.Execute(Withdraw{ID: e.StreamID, Amount: 1_000_000})
		}
		return nil
	})
	r.AddWorkflow(w)
}

var _ = Describe("a follow-up that fails after the When command committed", func() {
	acc := estest.ID(1)
	for _, mode := range []estest.WorkflowMode{estest.AllSync, estest.AllDurable} {
		overdraft := estest.New(registerOverdraft, estest.Options{Workflows: true, WorkflowMode: mode})
		given := func(t *recorder) *estest.Scenario {
			s := overdraft.Scenario()
			if t != nil {
				s = overdraft.WithT(t)
			}
			return s.Given(acc, AccountOpened{}, Deposited{Amount: 2000})
		}

		It("fails Then, naming the failed follow-up", func() {
			t := &recorder{}
			given(t).When(Withdraw{ID: acc, Amount: 1500}).Then(Withdrawn{Amount: 1500}, StatementSent{Balance: 500})
			Expect(t.output()).To(ContainSubstring("Then: expected 2 events, but after the command committed, a follow-up failed:\n  "))
			Expect(t.output()).To(ContainSubstring("overdraft"))
			Expect(t.output()).To(ContainSubstring("insufficient funds"))
			Expect(t.output()).To(ContainSubstring("Stored: 2 events\n  bank.Withdrawn {\"Amount\":1500}\n  bank.StatementSent {\"Balance\":500}\n"))
			Expect(t.output()).To(ContainSubstring("ThenFollowUpFails expects a failure after the commit"))
		})

		It("is expected with ThenFollowUpFails, after which Then checks the events", func() {
			given(nil).When(Withdraw{ID: acc, Amount: 1500}).
				ThenFollowUpFails(ErrInsufficientFunds).
				Then(Withdrawn{Amount: 1500}, StatementSent{Balance: 500})
		})

		It("is not the command's failure: ThenFails says the command committed", func() {
			t := &recorder{}
			given(t).When(Withdraw{ID: acc, Amount: 1500}).ThenFails(ErrInsufficientFunds)
			Expect(t.output()).To(ContainSubstring(`Then: expected the command to fail with an error that is "insufficient funds" (errors.Is), but it committed; what failed came after the commit:`))
			Expect(t.output()).To(ContainSubstring("ThenFollowUpFails checks a failure after the commit."))
		})

		It("is kept in the result: Err nil, FollowUpErr set", func() {
			r := given(nil).When(Withdraw{ID: acc, Amount: 1500}).Result()
			Expect(r.Err).NotTo(HaveOccurred())
			Expect(r.FollowUpErr).To(MatchError(ErrInsufficientFunds))
			Expect(r).To(estest.FailFollowUpWith(ErrInsufficientFunds))
			Expect(r).NotTo(estest.FailWith(ErrInsufficientFunds))
		})
	}

	It("lists the follow-ups of synchronous workflows in the result's Execution", func() {
		overdraft := estest.New(registerOverdraft, estest.Options{Workflows: true})
		r := overdraft.Given(acc, AccountOpened{}, Deposited{Amount: 2000}).When(Withdraw{ID: acc, Amount: 1500}).Result()
		Expect(r.Execution.Events).To(HaveLen(1))
		Expect(r.Execution.FollowUps).To(HaveExactElements(
			And(HaveField("Workflow", "statements"), HaveField("Command", SendStatement{ID: acc}), HaveField("Err", BeNil()), HaveField("Events", HaveLen(1))),
			And(HaveField("Workflow", "overdraft"), HaveField("Command", Withdraw{ID: acc, Amount: 1_000_000}), HaveField("Err", MatchError(ErrInsufficientFunds)), HaveField("Events", BeEmpty())),
		))
		var we *es.WorkflowError
		Expect(errors.As(r.Execution.Err(), &we)).To(BeTrue())
		Expect(we.Workflow).To(Equal("overdraft"))
	})

	It("explains ThenFollowUpFails when nothing failed after the commit, or the command failed", func() {
		t := &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 5}).ThenFollowUpFails(ErrInsufficientFunds)
		Expect(t.output()).To(ContainSubstring("Then: expected a follow-up of the command to fail with an error that is \"insufficient funds\" (errors.Is), but nothing failed after its commit.\nStored: 1 event\n  bank.Deposited"))
		t = &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).When(Withdraw{ID: acc, Amount: 5}).ThenFollowUpFails(ErrInsufficientFunds)
		Expect(t.output()).To(ContainSubstring("but the command failed, storing nothing:\n  es: command bank.Withdraw: insufficient funds"))
		t = &recorder{}
		bank.WithT(t).Given(acc, AccountOpened{}).WhenEvent(acc, Withdrawn{Amount: 5}).ThenFollowUpFails("x")
		Expect(t.output()).To(ContainSubstring("ThenFollowUpFails after WhenEvent"))
	})

	It("fails GivenCommands, saying that the command committed", func() {
		t := &recorder{}
		overdraft := estest.New(registerOverdraft, estest.Options{Workflows: true})
		overdraft.WithT(t).Given(acc, AccountOpened{}, Deposited{Amount: 2000}).GivenCommands(Withdraw{ID: acc, Amount: 1500})
		Expect(t.output()).To(ContainSubstring("estest: given command testdomain.Withdraw committed, but a follow-up failed:"))
	})
})

// closingStore is a memstore that counts its Close calls, as a backend that
// makes a database per scenario would drop it.
type closingStore struct {
	*memstore.Store
	closed *atomic.Int32
	err    error
}

func (s closingStore) Close() error {
	s.closed.Add(1)
	return s.err
}

// cleanupRecorder is a recorder with a Cleanup method, as *testing.T has.
type cleanupRecorder struct {
	recorder
	cleanups []func()
}

func (r *cleanupRecorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// end runs the cleanups, last first, as a test's end does.
func (r *cleanupRecorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

var _ = Describe("a backend's store that implements io.Closer", func() {
	acc := estest.ID(1)
	var (
		opened, closed atomic.Int32
		closeErr       error
		closing        *estest.Fixture
	)
	BeforeEach(func() {
		opened.Store(0)
		closed.Store(0)
		closeErr = nil
		closing = estest.New(RegisterBank, estest.Options{Workflows: true, Backend: func(context.Context) (es.EventStore, error) {
			opened.Add(1)
			return closingStore{Store: memstore.New(), closed: &closed, err: closeErr}, nil
		}})
	})

	It("is closed once when the spec ends, not before", func() {
		DeferCleanup(func() { Expect(closed.Load()).To(BeEquivalentTo(1), "closed when the spec ended") }) // runs after the scenario's
		closing.Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 1}).Then(Deposited{Amount: 1})
		Expect(opened.Load()).To(BeEquivalentTo(1))
		Expect(closed.Load()).To(BeZero(), "still open while the spec runs")
	})

	It("is closed at the end of a plain go test, through its Cleanup", func() {
		t := &cleanupRecorder{}
		closing.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 1}).Then(Deposited{Amount: 1})
		Expect(closed.Load()).To(BeZero())
		t.end()
		Expect(closed.Load()).To(BeEquivalentTo(1))
		Expect(t.failures).To(BeEmpty())
	})

	It("fails the test when Close fails", func() {
		closeErr = errors.New("drop database: still in use")
		t := &cleanupRecorder{}
		closing.WithT(t).Given(acc, AccountOpened{}).When(Deposit{ID: acc, Amount: 1})
		t.end()
		Expect(t.output()).To(ContainSubstring("estest: releasing the scenario's store (estest_test.closingStore): drop database: still in use"))
	})

	It("is closed by TestEventStore after each case", func(ctx SpecContext) {
		Expect(estest.TestEventStore(ctx, func(context.Context) (es.EventStore, error) {
			opened.Add(1)
			return closingStore{Store: memstore.New(), closed: &closed}, nil
		})).To(Succeed())
		Expect(opened.Load()).To(BeNumerically(">", 10))
		Expect(closed.Load()).To(Equal(opened.Load()))
	})
})
