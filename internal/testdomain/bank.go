// Package testdomain holds the small domains of the module's own specs and
// benchmarks, written once: the bank (accounts with a unique email address and
// snapshots, and counters for races) and the notebook (notes.go: notes get
// lines, counted by projectors inline and async). They are deliberately not
// the blog of examples/blog.
//
// Spec packages import it with a dot, as they import Ginkgo and Gomega: the
// specs speak the domain's words (OpenAccount, Deposited, WriteLine).
package testdomain

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// ErrInsufficientFunds refuses a withdrawal larger than the balance.
var ErrInsufficientFunds = errors.New("insufficient funds")

// The bank's events.
type (
	AccountOpened struct {
		Owner string `json:"owner"`
		Email string `json:"email"`
		Note  string `json:"note,omitempty"`
	}
	Deposited struct {
		Amount    int64
		Currency  string `json:",omitempty"`
		Reference string `json:",omitempty"`
	}
	Withdrawn     struct{ Amount int64 }
	EmailChanged  struct{ Email string }
	AccountClosed struct{}
	StatementSent struct{ Balance int64 }

	Incremented struct{ By int }
)

// Account is a bank account. Applied counts On calls, and Restored is set only by
// UnmarshalSnapshot: together they prove how an account was loaded.
type Account struct {
	es.AggregateRoot
	Owner    string
	Email    string
	Balance  int64
	Closed   bool
	Applied  int
	Restored bool
}

func (a *Account) On(event any) {
	a.Applied++
	switch e := event.(type) {
	case AccountOpened:
		a.Owner, a.Email = e.Owner, e.Email
	case Deposited:
		a.Balance += e.Amount
	case Withdrawn:
		a.Balance -= e.Amount
	case EmailChanged:
		a.Email = e.Email
	case AccountClosed:
		a.Closed = true
	}
}

// UniqueKeys makes email addresses unique, ignoring case: folding case is the
// application's decision, the store compares keys exactly. An account without
// an address claims no key.
func (a *Account) UniqueKeys() []es.UniqueKey {
	if a.Closed {
		return nil
	}
	return []es.UniqueKey{{Scope: "account_email", Key: strings.ToLower(a.Email)}}
}

// AccountSnapshot is an account's snapshot, as stored.
type AccountSnapshot struct {
	Owner   string `json:"owner"`
	Email   string `json:"email"`
	Balance int64  `json:"balance"`
	Closed  bool   `json:"closed"`
}

func (a *Account) MarshalSnapshot() ([]byte, error) {
	return json.Marshal(AccountSnapshot{a.Owner, a.Email, a.Balance, a.Closed})
}

func (a *Account) UnmarshalSnapshot(data []byte) error {
	var s AccountSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	a.Owner, a.Email, a.Balance, a.Closed, a.Restored = s.Owner, s.Email, s.Balance, s.Closed, true
	return nil
}

func (a *Account) Deposit(amount int64) error { return es.Record(a, Deposited{Amount: amount}) }

func (a *Account) Withdraw(amount int64) error {
	if amount > a.Balance {
		return ErrInsufficientFunds
	}
	return es.Record(a, Withdrawn{Amount: amount})
}

// Counter counts.
type Counter struct {
	es.AggregateRoot
	N int
}

func (c *Counter) On(event any) {
	if e, ok := event.(Incremented); ok {
		c.N += e.By
	}
}

// The bank's commands.
type (
	OpenAccount struct {
		ID    uuid.UUID
		Owner string
		Email string
	}
	Deposit struct {
		ID       uuid.UUID
		Amount   int64
		Currency string `json:",omitempty"`
	}
	Withdraw struct {
		ID     uuid.UUID
		Amount int64
	}
	ChangeEmail struct {
		ID    uuid.UUID
		Email string
	}
	CloseAccount struct{ ID uuid.UUID }
	Transfer     struct {
		From, To uuid.UUID
		Amount   int64
	}
	SendStatement struct{ ID uuid.UUID }
	Increment     struct {
		ID uuid.UUID
		By int
	}
)

func (c OpenAccount) Validate() error {
	var v es.ValidationError
	v.Check(c.ID != uuid.Nil, "ID", "is required")
	v.Check(strings.TrimSpace(c.Owner) != "", "Owner", "can't be blank")
	v.Check(strings.Contains(c.Email, "@"), "Email", "is not an email address")
	return v.Err()
}

func (c Deposit) Validate() error {
	var v es.ValidationError
	v.Check(c.Amount > 0, "Amount", "must be positive")
	v.Check(c.ID != uuid.Nil, "ID", "is required")
	return v.Err()
}

// BankOptions vary the bank's registration.
type BankOptions struct {
	Account    []es.AggregateOption // the account's, e.g. es.SnapshotEvery
	Opened     []es.Upcaster        // upcasters of AccountOpened
	Statements bool                 // the workflow "statements": a withdrawal of 1,000 or more sends a statement
}

// RegisterBank is the bank's registration function.
func RegisterBank(r *es.Registry) { BankOptions{}.Register(r) }

// Register registers the bank as o says.
func (o BankOptions) Register(r *es.Registry) {
	account := es.RegisterAggregate(r, "bank.Account", func() *Account { return new(Account) }, o.Account...)
	es.RegisterEvent[AccountOpened](account, "bank.AccountOpened", o.Opened...)
	es.RegisterEvent[Deposited](account, "bank.Deposited")
	es.RegisterEvent[Withdrawn](account, "bank.Withdrawn")
	es.RegisterEvent[EmailChanged](account, "bank.EmailChanged")
	es.RegisterEvent[AccountClosed](account, "bank.AccountClosed")
	es.RegisterEvent[StatementSent](account, "bank.StatementSent")

	counter := es.RegisterAggregate(r, "bank.Counter", func() *Counter { return new(Counter) })
	es.RegisterEvent[Incremented](counter, "bank.Incremented")

	es.Handle(r, "bank.OpenAccount", func(ctx context.Context, u *es.UnitOfWork, cmd OpenAccount) error {
		a, err := es.Create[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		return es.Record(a, AccountOpened{Owner: cmd.Owner, Email: cmd.Email})
	})
	es.Handle(r, "bank.Deposit", func(ctx context.Context, u *es.UnitOfWork, cmd Deposit) error {
		a, err := es.Load[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		return es.Record(a, Deposited{Amount: cmd.Amount, Currency: cmd.Currency})
	})
	es.Handle(r, "bank.Withdraw", func(ctx context.Context, u *es.UnitOfWork, cmd Withdraw) error {
		a, err := es.Load[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		return a.Withdraw(cmd.Amount)
	})
	es.Handle(r, "bank.ChangeEmail", func(ctx context.Context, u *es.UnitOfWork, cmd ChangeEmail) error {
		a, err := es.Load[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		return es.Record(a, EmailChanged{Email: cmd.Email})
	})
	es.Handle(r, "bank.CloseAccount", func(ctx context.Context, u *es.UnitOfWork, cmd CloseAccount) error {
		a, err := es.Load[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		return es.Record(a, AccountClosed{})
	})
	es.Handle(r, "bank.Transfer", func(ctx context.Context, u *es.UnitOfWork, cmd Transfer) error {
		from, err := es.Load[*Account](ctx, u, cmd.From)
		if err != nil {
			return err
		}
		to, err := es.Load[*Account](ctx, u, cmd.To)
		if err != nil {
			return err
		}
		if err := from.Withdraw(cmd.Amount); err != nil {
			return err
		}
		return to.Deposit(cmd.Amount)
	})
	es.Handle(r, "bank.SendStatement", func(ctx context.Context, u *es.UnitOfWork, cmd SendStatement) error {
		a, err := es.Load[*Account](ctx, u, cmd.ID)
		if err != nil {
			return err
		}
		return es.Record(a, StatementSent{Balance: a.Balance})
	})
	es.Handle(r, "bank.Increment", func(ctx context.Context, u *es.UnitOfWork, cmd Increment) error {
		c, err := es.Load[*Counter](ctx, u, cmd.ID)
		if errors.Is(err, es.ErrAggregateNotFound) {
			c, err = es.Create[*Counter](ctx, u, cmd.ID)
		}
		if err != nil {
			return err
		}
		return es.Record(c, Incremented{By: cmd.By})
	})

	if o.Statements {
		w := es.NewWorkflow("statements")
		es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, ev Withdrawn) error {
			if ev.Amount >= 1000 {
				r.Execute(SendStatement{ID: e.StreamID})
			}
			return nil
		})
		r.AddWorkflow(w)
	}
}
