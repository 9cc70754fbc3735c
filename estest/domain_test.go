package estest_test

import (
	"context"
	"errors"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// A small bank: the harness's own test domain.

type (
	AccountOpened  struct{ Owner string }
	MoneyDeposited struct {
		Amount   int
		Currency string
	}
	MoneyWithdrawn struct{ Amount int }
	StatementSent  struct{ Balance int }
)

type (
	OpenAccount struct {
		ID    uuid.UUID
		Owner string
	}
	Deposit struct {
		ID     uuid.UUID
		Amount int
	}
	Withdraw struct {
		ID     uuid.UUID
		Amount int
	}
	SendStatement struct {
		ID uuid.UUID
	}
)

func (c Deposit) Validate() error {
	var v es.ValidationError
	v.Check(c.Amount > 0, "Amount", "must be positive")
	v.Check(c.ID != uuid.Nil, "ID", "is required")
	return v.Err()
}

var ErrInsufficientFunds = errors.New("insufficient funds")

type Account struct {
	es.AggregateRoot
	balance int
}

func (a *Account) On(event any) {
	switch e := event.(type) {
	case MoneyDeposited:
		a.balance += e.Amount
	case MoneyWithdrawn:
		a.balance -= e.Amount
	}
}

func registerBank(r *es.Registry) {
	acc := es.RegisterAggregate(r, "bank.Account", func() *Account { return new(Account) })
	es.RegisterEvent[AccountOpened](acc, "bank.AccountOpened")
	es.RegisterEvent[MoneyDeposited](acc, "bank.MoneyDeposited")
	es.RegisterEvent[MoneyWithdrawn](acc, "bank.MoneyWithdrawn")
	es.RegisterEvent[StatementSent](acc, "bank.StatementSent")
	es.Handle(r, "bank.OpenAccount", func(ctx context.Context, u *es.UnitOfWork, c OpenAccount) error {
		a, err := es.Create[*Account](ctx, u, c.ID)
		if err != nil {
			return err
		}
		return es.Record(a, AccountOpened{Owner: c.Owner})
	})
	es.Handle(r, "bank.Deposit", func(ctx context.Context, u *es.UnitOfWork, c Deposit) error {
		a, err := es.Load[*Account](ctx, u, c.ID)
		if err != nil {
			return err
		}
		return es.Record(a, MoneyDeposited{Amount: c.Amount, Currency: "EUR"})
	})
	es.Handle(r, "bank.Withdraw", func(ctx context.Context, u *es.UnitOfWork, c Withdraw) error {
		a, err := es.Load[*Account](ctx, u, c.ID)
		if err != nil {
			return err
		}
		if a.balance < c.Amount {
			return ErrInsufficientFunds
		}
		return es.Record(a, MoneyWithdrawn{Amount: c.Amount})
	})
	es.Handle(r, "bank.SendStatement", func(ctx context.Context, u *es.UnitOfWork, c SendStatement) error {
		a, err := es.Load[*Account](ctx, u, c.ID)
		if err != nil {
			return err
		}
		return es.Record(a, StatementSent{Balance: a.balance})
	})
	w := es.NewWorkflow("statements")
	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, ev MoneyWithdrawn) error {
		if ev.Amount >= 1000 {
			r.Execute(SendStatement{ID: e.StreamID})
		}
		return nil
	})
	r.AddWorkflow(w)
}
