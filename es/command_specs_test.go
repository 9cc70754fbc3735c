package es_test

import (
	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The bank's commands as Given/When/Then specs: the runtime seen through estest,
// which drives the real command service built from RegisterBank.
var bankSpec = estest.New(RegisterBank)

var _ = Describe("the bank's commands (estest)", func() {
	ann, bob := estest.ID(1), estest.ID(2)
	opened := func(owner string) AccountOpened {
		return AccountOpened{Owner: owner, Email: owner + "@example.com"}
	}

	It("opens an account", func() {
		bankSpec.When(OpenAccount{ID: ann, Owner: "ann", Email: "ann@example.com"}).
			Then(opened("ann"))
	})

	It("refuses invalid input, naming every field", func() {
		bankSpec.When(OpenAccount{Email: "nope"}).
			ThenFails(estest.Invalid("ID", "Owner", "Email"))
	})

	It("refuses to open an account twice", func() {
		bankSpec.Given(ann, opened("ann")).
			When(OpenAccount{ID: ann, Owner: "ann", Email: "other@example.com"}).
			ThenFails(es.ErrAggregateExists)
	})

	It("refuses a deposit to an account that does not exist", func() {
		bankSpec.When(Deposit{ID: ann, Amount: 1}).ThenFails(es.ErrAggregateNotFound)
	})

	It("refuses to withdraw more than the balance", func() {
		bankSpec.Given(ann, opened("ann"), Deposited{Amount: 5}).
			When(Withdraw{ID: ann, Amount: 10}).
			ThenFails(ErrInsufficientFunds)
	})

	It("transfers between two accounts in one unit of work", func() {
		bankSpec.Given(ann, opened("ann"), Deposited{Amount: 50}).
			Given(bob, opened("bob")).
			When(Transfer{From: ann, To: bob, Amount: 30}).
			Then(Withdrawn{Amount: 30}, Deposited{Amount: 30})
	})

	It("keeps email addresses unique, ignoring case", func() {
		bankSpec.Given(ann, opened("ann")).
			When(OpenAccount{ID: bob, Owner: "bob", Email: "ANN@example.com"}).
			ThenFails(estest.ErrorAs(func(e *es.UniqueKeyError) bool { return e.Holder == ann && e.Claim == bob }))
	})

	It("frees an address when its account changes it", func() {
		bankSpec.GivenCommands(
			OpenAccount{ID: ann, Owner: "ann", Email: "ann@example.com"},
			ChangeEmail{ID: ann, Email: "ann@new.example.com"},
		).
			When(OpenAccount{ID: bob, Owner: "bob", Email: "ann@example.com"}).
			Then(AccountOpened{Owner: "bob", Email: "ann@example.com"})
	})

	Describe("with the welcome workflow", func() {
		counter := estest.ID(99)
		register := func(r *es.Registry) {
			RegisterBank(r)
			r.AddWorkflow(welcome(counter))
		}

		It("issues two welcome deposits for a new account", func() {
			estest.New(register).
				WhenEvent(ann, opened("ann")).
				ThenCommands(Deposit{ID: ann, Amount: 1}, Deposit{ID: ann, Amount: 2})
		})

		It("issues nothing for a large deposit", func() {
			estest.New(register).
				Given(ann, opened("ann")).
				WhenEvent(ann, Deposited{Amount: 100}).
				ThenNoCommands()
		})

		It("runs the issued commands after the command when asked to", func() {
			estest.New(register, estest.Options{Workflows: true}).
				When(OpenAccount{ID: ann, Owner: "ann", Email: "ann@example.com"}).
				Then(opened("ann"), Deposited{Amount: 1}, Deposited{Amount: 2}, Incremented{By: 1})
		})
	})

	It("gives handlers the scenario's clock", func() {
		s := bankSpec.When(OpenAccount{ID: ann, Owner: "ann", Email: "ann@example.com"})
		s.Then(opened("ann"))
		Expect(s.Result().Events[0].Time).To(Equal(estest.DefaultStart()))
		Expect(s.Result().Events[0].StreamID).To(Equal(ann))
	})
})
