package es_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The specs' own small domain: bank accounts (with a unique email address and
// snapshots) and counters (for races). It is deliberately not the blog.

// ErrInsufficientFunds refuses a withdrawal larger than the balance.
var ErrInsufficientFunds = errors.New("insufficient funds")

type (
	AccountOpened struct {
		Owner string `json:"owner"`
		Email string `json:"email"`
	}
	Deposited     struct{ Amount int64 }
	Withdrawn     struct{ Amount int64 }
	EmailChanged  struct{ Email string }
	AccountClosed struct{}

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
// application's decision, the store compares keys exactly.
func (a *Account) UniqueKeys() []es.UniqueKey {
	if a.Closed {
		return nil
	}
	return []es.UniqueKey{{Scope: "account_email", Key: strings.ToLower(a.Email)}}
}

type accountSnapshot struct {
	Owner   string `json:"owner"`
	Email   string `json:"email"`
	Balance int64  `json:"balance"`
	Closed  bool   `json:"closed"`
}

func (a *Account) MarshalSnapshot() ([]byte, error) {
	return json.Marshal(accountSnapshot{a.Owner, a.Email, a.Balance, a.Closed})
}

func (a *Account) UnmarshalSnapshot(data []byte) error {
	var s accountSnapshot
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

type (
	OpenAccount struct {
		ID    uuid.UUID
		Owner string
		Email string
	}
	Deposit struct {
		ID     uuid.UUID
		Amount int64
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
	Increment struct {
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
	return v.Err()
}

// bankOptions lets specs vary the registration.
type bankOptions struct {
	account []es.AggregateOption
	opened  []es.Upcaster // upcasters of AccountOpened
}

// registerBank is the specs' registration function.
func registerBank(r *es.Registry) { bankOptions{}.register(r) }

func (o bankOptions) register(r *es.Registry) {
	account := es.RegisterAggregate(r, "bank.Account", func() *Account { return new(Account) }, o.account...)
	es.RegisterEvent[AccountOpened](account, "bank.AccountOpened", o.opened...)
	es.RegisterEvent[Deposited](account, "bank.Deposited")
	es.RegisterEvent[Withdrawn](account, "bank.Withdrawn")
	es.RegisterEvent[EmailChanged](account, "bank.EmailChanged")
	es.RegisterEvent[AccountClosed](account, "bank.AccountClosed")

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
		return a.Deposit(cmd.Amount)
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
}

// testStart is where the specs' manual clocks start.
var testStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// world is one store and one command service with deterministic time and ids.
type world struct {
	ctx   context.Context
	store *memstore.Store
	svc   *es.CommandService
	clock *es.ManualClock
	ids   *es.SequentialIDs
}

// newWorld builds a service on a fresh memory store; register defaults to
// registerBank, and opts' Clock and IDs are set unless given.
func newWorld(register func(*es.Registry), opts ...es.Options) *world {
	GinkgoHelper()
	if register == nil {
		register = registerBank
	}
	var o es.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	w := &world{ctx: context.Background(), store: memstore.New(), clock: es.NewManualClock(testStart), ids: &es.SequentialIDs{}}
	if o.Clock == nil {
		o.Clock = w.clock
	}
	if o.IDs == nil {
		o.IDs = w.ids
	}
	r := es.NewRegistry()
	register(r)
	svc, err := es.NewCommandService(w.ctx, r, w.store, o)
	Expect(err).NotTo(HaveOccurred())
	w.svc = svc
	return w
}

// exec executes cmd and requires success.
func (w *world) exec(cmd any, opts ...es.ExecOption) {
	GinkgoHelper()
	Expect(w.svc.Execute(w.ctx, cmd, opts...)).To(estest.Committed())
}

// open opens an account and returns its id.
func (w *world) open(owner, email string) uuid.UUID {
	GinkgoHelper()
	id := uuid.New()
	w.exec(OpenAccount{ID: id, Owner: owner, Email: email})
	return id
}

// events returns the decoded payloads of a stream, oldest first.
func (w *world) events(id uuid.UUID) []any {
	GinkgoHelper()
	envs, err := w.svc.History(w.ctx, id)
	Expect(err).NotTo(HaveOccurred())
	out := make([]any, 0, len(envs))
	for _, e := range envs {
		out = append(out, e.Event)
	}
	return out
}

// log returns every event in the store's global log.
func (w *world) log() []es.EventRecord {
	GinkgoHelper()
	recs, err := w.store.ReadLog(w.ctx, es.Cursor{}, 0)
	Expect(err).NotTo(HaveOccurred())
	return recs
}

// account loads an account as of now, outside any unit of work.
func (w *world) account(id uuid.UUID) *Account {
	GinkgoHelper()
	a, err := es.Get[*Account](w.ctx, w.svc, id)
	Expect(err).NotTo(HaveOccurred())
	return a
}
