package es_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
)

// The examples' domain: wallets that money is added to and spent from.

type (
	WalletOpened struct{ Owner string }
	MoneyAdded   struct{ Amount int }
	MoneySpent   struct{ Amount int }
)

var ErrNotEnoughMoney = errors.New("not enough money")

type Wallet struct {
	es.AggregateRoot
	Owner   string
	Balance int
}

func (w *Wallet) Spend(amount int) error {
	if amount > w.Balance {
		return ErrNotEnoughMoney
	}
	return es.Record(w, MoneySpent{Amount: amount})
}

func (w *Wallet) On(event any) {
	switch e := event.(type) {
	case WalletOpened:
		w.Owner = e.Owner
	case MoneyAdded:
		w.Balance += e.Amount
	case MoneySpent:
		w.Balance -= e.Amount
	}
}

type (
	OpenWallet struct {
		WalletID uuid.UUID
		Owner    string
	}
	AddMoney struct {
		WalletID uuid.UUID
		Amount   int
	}
	SpendMoney struct {
		WalletID uuid.UUID
		Amount   int
	}
)

func (c AddMoney) Validate() error {
	var v es.ValidationError
	v.Check(c.Amount > 0, "Amount", "must be positive")
	return v.Err()
}

// registerWallets is the examples' registration function.
func registerWallets(r *es.Registry) {
	wallet := es.RegisterAggregate(r, "shop.Wallet", func() *Wallet { return new(Wallet) })
	es.RegisterEvent[WalletOpened](wallet, "shop.WalletOpened")
	es.RegisterEvent[MoneyAdded](wallet, "shop.MoneyAdded")
	es.RegisterEvent[MoneySpent](wallet, "shop.MoneySpent")

	es.Handle(r, "shop.OpenWallet", func(ctx context.Context, u *es.UnitOfWork, cmd OpenWallet) error {
		w, err := es.Create[*Wallet](ctx, u, cmd.WalletID)
		if err != nil {
			return err
		}
		return es.Record(w, WalletOpened{Owner: cmd.Owner})
	})
	es.Handle(r, "shop.AddMoney", func(ctx context.Context, u *es.UnitOfWork, cmd AddMoney) error {
		w, err := es.Load[*Wallet](ctx, u, cmd.WalletID)
		if err != nil {
			return err
		}
		return es.Record(w, MoneyAdded{Amount: cmd.Amount})
	})
	es.Handle(r, "shop.SpendMoney", func(ctx context.Context, u *es.UnitOfWork, cmd SpendMoney) error {
		w, err := es.Load[*Wallet](ctx, u, cmd.WalletID)
		if err != nil {
			return err
		}
		return w.Spend(cmd.Amount)
	})
}

// newWalletService builds a service on a fresh in-memory store, with a clock and
// ids that make the output predictable.
func newWalletService(register func(*es.Registry)) (*es.CommandService, *es.ManualClock) {
	r := es.NewRegistry()
	register(r)
	clock := es.NewManualClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	svc, err := es.NewCommandService(context.Background(), r, memstore.New(),
		es.Options{Clock: clock, IDs: &es.SequentialIDs{}})
	if err != nil {
		panic(err)
	}
	return svc, clock
}

func ExampleNewCommandService() {
	ctx := context.Background()
	r := es.NewRegistry()
	registerWallets(r)
	svc, err := es.NewCommandService(ctx, r, memstore.New(), es.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}

	id := uuid.MustParse("6a3c1b6e-0000-4000-8000-000000000001")
	for _, cmd := range []any{
		OpenWallet{WalletID: id, Owner: "Ann"},
		AddMoney{WalletID: id, Amount: 10},
		AddMoney{WalletID: id, Amount: -5},
		SpendMoney{WalletID: id, Amount: 50},
	} {
		res, err := svc.Execute(ctx, cmd)
		if err != nil { // nothing of the command was stored
			fmt.Println("failed:", err)
			continue
		}
		for _, e := range res.Events {
			fmt.Printf("stored %s, version %d, log position %d\n", e.Type, e.Version, e.Position)
		}
	}

	history, _ := svc.History(ctx, id)
	for _, e := range history {
		fmt.Printf("v%d %s %+v\n", e.Version, e.Type, e.Event)
	}
	// Output:
	// stored shop.WalletOpened, version 1, log position 1
	// stored shop.MoneyAdded, version 2, log position 2
	// failed: invalid shop.AddMoney: Amount must be positive
	// failed: es: command shop.SpendMoney: not enough money
	// v1 shop.WalletOpened {Owner:Ann}
	// v2 shop.MoneyAdded {Amount:10}
}

// Execute's error means that nothing of the command was stored. Once it
// committed, what fails after the commit (here the command a workflow issues)
// is data in the result: the command stays stored.
func ExampleCommandService_Execute() {
	w := es.NewWorkflow("spend at once")
	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, _ WalletOpened) error {
		r.Execute(SpendMoney{WalletID: e.StreamID, Amount: 100})
		return nil
	})
	svc, _ := newWalletService(func(r *es.Registry) {
		registerWallets(r)
		r.AddWorkflow(w)
	})
	ctx := context.Background()
	res, err := svc.Execute(ctx, OpenWallet{WalletID: svc.NewID(), Owner: "Ann"})
	if err != nil {
		fmt.Println("nothing stored:", err)
		return
	}
	fmt.Println("stored", res.Events[0].Type, "at log position", res.Events[0].Position)
	for _, f := range res.FollowUps {
		fmt.Printf("workflow %q issued %T: %v\n", f.Workflow, f.Command, f.Err)
	}
	fmt.Println("failures after the commit:", len(res.Failures))
	// Output:
	// stored shop.WalletOpened at log position 1
	// workflow "spend at once" issued es_test.SpendMoney: es: command shop.SpendMoney: not enough money
	// failures after the commit: 1
}

// A handler loads and creates aggregates through its unit of work; here one
// command splits a wallet into a new one, and both change in one commit.
func ExampleLoad() {
	type SplitWallet struct {
		From, To uuid.UUID
		Amount   int
	}
	svc, _ := newWalletService(func(r *es.Registry) {
		registerWallets(r)
		es.Handle(r, "shop.SplitWallet", func(ctx context.Context, u *es.UnitOfWork, cmd SplitWallet) error {
			from, err := es.Load[*Wallet](ctx, u, cmd.From)
			if err != nil {
				return err
			}
			to, err := es.Create[*Wallet](ctx, u, cmd.To)
			if err != nil {
				return err
			}
			if err := from.Spend(cmd.Amount); err != nil {
				return err
			}
			if err := es.Record(to, WalletOpened{Owner: from.Owner}); err != nil {
				return err
			}
			return es.Record(to, MoneyAdded{Amount: cmd.Amount})
		})
	})
	ctx := context.Background()
	a, b := svc.NewID(), svc.NewID()
	_, _ = svc.Execute(ctx, OpenWallet{WalletID: a, Owner: "Ann"})
	_, _ = svc.Execute(ctx, AddMoney{WalletID: a, Amount: 100})

	res, err := svc.Execute(ctx, SplitWallet{From: a, To: b, Amount: 30})
	fmt.Println(err, len(res.Events), "events in one commit")
	_, err = svc.Execute(ctx, SplitWallet{From: a, To: b, Amount: 30})
	fmt.Println(errors.Is(err, es.ErrAggregateExists))
	_, err = svc.Execute(ctx, SplitWallet{From: svc.NewID(), To: svc.NewID(), Amount: 1})
	fmt.Println(errors.Is(err, es.ErrAggregateNotFound))

	for _, id := range []uuid.UUID{a, b} {
		w, _ := es.LoadAt[*Wallet](ctx, svc, id, es.StreamQuery{})
		fmt.Println(w.Owner, w.Balance, w.Version())
	}
	// Output:
	// <nil> 3 events in one commit
	// true
	// true
	// Ann 70 3
	// Ann 30 2
}

type WalletRecord struct {
	ID      uuid.UUID `db:"wallet_id"`
	Owner   string
	Balance int
	Updated time.Time
}

var WalletRecords = es.NewTable[WalletRecord]("wallet_records", "wallet_id").Index("owner")

// A projector keeps a view table up to date, inside every commit.
func ExampleProject() {
	p := es.NewProjector("wallets", WalletRecords)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev WalletOpened) error {
		return WalletRecords.Insert(ctx, v, WalletRecord{ID: e.StreamID, Owner: ev.Owner, Updated: e.Time})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev MoneyAdded) error {
		_, err := WalletRecords.Update(ctx, v, es.Where{"wallet_id": e.StreamID}, func(r *WalletRecord) {
			r.Balance += ev.Amount
			r.Updated = e.Time
		})
		return err
	})
	svc, clock := newWalletService(func(r *es.Registry) {
		registerWallets(r)
		r.AddProjector(p)
	})
	ctx := context.Background()
	a, b := svc.NewID(), svc.NewID()
	_, _ = svc.Execute(ctx, OpenWallet{WalletID: b, Owner: "Bob"})
	_, _ = svc.Execute(ctx, OpenWallet{WalletID: a, Owner: "Ann"})
	clock.Advance(time.Hour)
	_, _ = svc.Execute(ctx, AddMoney{WalletID: a, Amount: 5})

	fmt.Println(WalletRecords.Def().Columns)
	rows, _ := WalletRecords.Find(ctx, svc.Views(), es.Where{})
	for _, r := range rows {
		fmt.Println(r.Owner, r.Balance, r.Updated.Format(time.Kitchen))
	}
	ann, _ := WalletRecords.Get(ctx, svc.Views(), es.Where{"owner": "Ann"})
	fmt.Println(ann.ID == a)
	// Output:
	// [{wallet_id uuid false} {owner text false} {balance int false} {updated time false}]
	// Ann 5 10:00AM
	// Bob 0 9:00AM
	// true
}

// A workflow reacts to committed events with commands of its own: here every new
// wallet gets a welcome bonus.
func ExampleReact() {
	w := es.NewWorkflow("welcome bonus")
	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, _ WalletOpened) error {
		r.Execute(AddMoney{WalletID: e.StreamID, Amount: 5})
		return nil
	})
	svc, _ := newWalletService(func(r *es.Registry) {
		registerWallets(r)
		r.AddWorkflow(w)
	})
	ctx := context.Background()
	id := svc.NewID()
	res, err := svc.Execute(ctx, OpenWallet{WalletID: id, Owner: "Ann"})
	fmt.Println(err)
	for _, f := range res.FollowUps {
		fmt.Printf("%s issued %+v, stored as %s version %d\n", f.Workflow, f.Command, f.Events[0].Type, f.Events[0].Version)
	}

	history, _ := svc.History(ctx, id)
	opened, bonus := history[0], history[1]
	fmt.Printf("%s, then %s %+v\n", opened.Type, bonus.Type, bonus.Event)
	cmds, _ := svc.Store().Commands(ctx, bonus.CommandID)
	fmt.Println("caused by the opening:", cmds[0].CausationID == opened.ID)
	fmt.Println("same correlation:", bonus.CorrelationID == opened.CorrelationID)
	// Output:
	// <nil>
	// welcome bonus issued {WalletID:00000000-0000-0000-0000-000000000001 Amount:5}, stored as shop.MoneyAdded version 2
	// shop.WalletOpened, then shop.MoneyAdded {Amount:5}
	// caused by the opening: true
	// same correlation: true
}

func ExampleDryRunReport_Print() {
	p := es.NewProjector("wallets", WalletRecords)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev WalletOpened) error {
		return WalletRecords.Insert(ctx, v, WalletRecord{ID: e.StreamID, Owner: ev.Owner})
	})
	w := es.NewWorkflow("welcome bonus")
	es.React(w, func(ctx context.Context, r *es.Reaction, e es.Envelope, _ WalletOpened) error {
		r.Execute(AddMoney{WalletID: e.StreamID, Amount: 5})
		return nil
	})
	svc, _ := newWalletService(func(r *es.Registry) {
		registerWallets(r)
		r.AddProjector(p)
		r.AddWorkflow(w)
	})
	ctx := context.Background()
	id := uuid.MustParse("00000000-0000-0000-0000-0000000000aa")
	report, err := svc.DryRun(ctx,
		OpenWallet{WalletID: id, Owner: "Ann"},
		SpendMoney{WalletID: id, Amount: 1},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = report.Print(os.Stdout)
	// Output:
	// shop.OpenWallet {WalletID:00000000-0000-0000-0000-0000000000aa Owner:Ann}
	//   shop.WalletOpened v1 00000000-0000-0000-0000-0000000000aa {"Owner":"Ann"}
	//     projectors: wallets
	//     workflows: welcome bonus
	//     would execute es_test.AddMoney {WalletID:00000000-0000-0000-0000-0000000000aa Amount:5}
	// shop.SpendMoney {WalletID:00000000-0000-0000-0000-0000000000aa Amount:1}
	//   fails: es: command shop.SpendMoney: load shop.Wallet 00000000-0000-0000-0000-0000000000aa: aggregate not found
}

// LoadAt rebuilds an aggregate as it was, at a version or at a time.
func ExampleLoadAt() {
	svc, clock := newWalletService(registerWallets)
	ctx := context.Background()
	id := svc.NewID()
	_, _ = svc.Execute(ctx, OpenWallet{WalletID: id, Owner: "Ann"})
	for _, amount := range []int{10, 20, 30} {
		clock.Advance(24 * time.Hour)
		_, _ = svc.Execute(ctx, AddMoney{WalletID: id, Amount: amount})
	}

	w, _ := es.LoadAt[*Wallet](ctx, svc, id, es.StreamQuery{ToVersion: 2})
	fmt.Println("at version 2:", w.Balance)
	jan3 := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	w, _ = es.LoadAt[*Wallet](ctx, svc, id, es.StreamQuery{Until: jan3})
	fmt.Println("on January 3rd:", w.Balance, "at version", w.Version())
	w, _ = es.LoadAt[*Wallet](ctx, svc, id, es.StreamQuery{})
	fmt.Println("now:", w.Balance)
	// Output:
	// at version 2: 10
	// on January 3rd: 30 at version 3
	// now: 60
}

// MoneyAdded was once stored as {"Cents": n}; an upcaster turns old payloads into
// the current shape when they are read. The stored rows never change.
func ExampleUpcaster() {
	centsToAmount := func(fields map[string]any) error {
		cents, ok := fields["Cents"].(json.Number)
		if !ok {
			return fmt.Errorf("Cents is %v", fields["Cents"])
		}
		n, err := cents.Int64()
		if err != nil {
			return err
		}
		fields["Amount"] = n / 100
		delete(fields, "Cents")
		return nil
	}
	svc, _ := newWalletService(func(r *es.Registry) {
		wallet := es.RegisterAggregate(r, "shop.Wallet", func() *Wallet { return new(Wallet) })
		es.RegisterEvent[WalletOpened](wallet, "shop.WalletOpened")
		es.RegisterEvent[MoneyAdded](wallet, "shop.MoneyAdded", centsToAmount)
	})
	ctx := context.Background()
	id := svc.NewID()
	record := func(version int64, typ string, schema int, data string) es.EventRecord {
		return es.EventRecord{ID: svc.NewID(), StreamID: id, StreamType: "shop.Wallet",
			Version: version, Type: typ, Schema: schema, Data: []byte(data)}
	}
	// What an older program stored:
	err := svc.Store().Commit(ctx, &es.Commit{
		Command: es.CommandRecord{ID: svc.NewID(), Type: "legacy.Import"},
		Streams: []es.StreamWrite{{StreamID: id, StreamType: "shop.Wallet", Events: []es.EventRecord{
			record(1, "shop.WalletOpened", 1, `{"Owner":"Ann"}`),
			record(2, "shop.MoneyAdded", 1, `{"Cents":1200}`),
			record(3, "shop.MoneyAdded", 2, `{"Amount":3}`),
		}}},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	history, _ := svc.History(ctx, id)
	for _, e := range history {
		fmt.Printf("v%d schema %d %s -> %+v\n", e.Version, e.Schema, e.Data, e.Event)
	}
	// Output:
	// v1 schema 1 {"Owner":"Ann"} -> {Owner:Ann}
	// v2 schema 1 {"Cents":1200} -> {Amount:12}
	// v3 schema 2 {"Amount":3} -> {Amount:3}
}

// Middleware adds to a command's metadata, which is stored with the command
// record and its events: here the request id of the caller's context.
func ExampleSetMetadata() {
	ctx := context.Background()
	type requestIDKey struct{}
	r := es.NewRegistry()
	registerWallets(r)
	r.Use(func(next es.HandlerFunc) es.HandlerFunc {
		return func(ctx context.Context, cmd any) error {
			if id, ok := ctx.Value(requestIDKey{}).(string); ok {
				es.SetMetadata(ctx, "request_id", id)
			}
			return next(ctx, cmd)
		}
	})
	svc, err := es.NewCommandService(ctx, r, memstore.New(), es.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}

	id := uuid.MustParse("6a3c1b6e-0000-4000-8000-000000000001")
	req := context.WithValue(ctx, requestIDKey{}, "req-42")
	_, _ = svc.Execute(req, OpenWallet{WalletID: id, Owner: "Ann"}, es.WithMetadata("tenant", "acme"))
	history, _ := svc.History(ctx, id)
	fmt.Println(history[0].Metadata)
	// Output:
	// map[request_id:req-42 tenant:acme]
}
