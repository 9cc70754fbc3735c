package projectortest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/projectortest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type (
	Opened    struct{ Owner string }
	Deposited struct{ Amount int }
)

type Account struct{ es.AggregateRoot }

func (*Account) On(any) {}

type Balance struct {
	ID     uuid.UUID `db:"id"`
	Owner  string
	Amount int
}

var Balances = es.NewTable[Balance]("balances", "id")

func register(r *es.Registry) {
	a := es.RegisterAggregate(r, "bank.Account", func() *Account { return new(Account) })
	es.RegisterEvent[Opened](a, "bank.Opened")
	es.RegisterEvent[Deposited](a, "bank.Deposited")
}

// balances is idempotent: it upserts, and remembers nothing it cannot recompute.
func balances(insert bool) *es.Projector {
	p := es.NewProjector("balances", Balances)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Opened) error {
		if insert {
			return Balances.Insert(ctx, v, Balance{ID: e.StreamID, Owner: ev.Owner})
		}
		return Balances.Upsert(ctx, v, Balance{ID: e.StreamID, Owner: ev.Owner})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Deposited) error {
		_, err := Balances.Update(ctx, v, es.Where{"id": e.StreamID}, func(b *Balance) { b.Amount = ev.Amount })
		return err
	})
	return p
}

type recorder struct{ failures []string }

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) output() string { return strings.TrimPrefix(strings.Join(r.failures, "\n"), "\n") }

var _ = Describe("a projector scenario", func() {
	a, b := estest.ID(1), estest.ID(2)
	spec := projectortest.New(register, balances(false), projectortest.Options{ReplayTwice: true})

	It("passes when the table holds exactly the records", func() {
		spec.Given(a, Opened{Owner: "ann"}, Deposited{Amount: 5}).
			Given(b, Opened{Owner: "bob"}).
			ThenRecords(Balances, Balance{ID: b, Owner: "bob"}, Balance{ID: a, Owner: "ann", Amount: 5})
	})

	It("checks an empty table", func() {
		spec.WithT(&recorder{}).ThenNoRecords(Balances)
	})

	It("reports missing, unexpected and differing rows field by field", func() {
		t := &recorder{}
		spec.WithT(t).Given(a, Opened{Owner: "ann"}, Deposited{Amount: 5}).Given(b, Opened{Owner: "bob"}).
			ThenRecords(Balances, Balance{ID: a, Owner: "ann", Amount: 6}, Balance{ID: estest.ID(3)})
		Expect(t.output()).To(Equal(`Given:
  stream 00000000-0000-0000-0000-000000000001 (bank.Account)
    1 bank.Opened {"Owner":"ann"}
    2 bank.Deposited {"Amount":5}
  stream 00000000-0000-0000-0000-000000000002 (bank.Account)
    1 bank.Opened {"Owner":"bob"}
Then: the rows of balances differ (2 expected, 2 actual):
  key                                      status
  id=00000000-0000-0000-0000-000000000001  differs
  id=00000000-0000-0000-0000-000000000002  unexpected
  id=00000000-0000-0000-0000-000000000003  missing

  row id=00000000-0000-0000-0000-000000000001:
    Amount: expected 6, actual 5

  row id=00000000-0000-0000-0000-000000000003, missing:
    expected {ID:00000000-0000-0000-0000-000000000003 Owner: Amount:0}

  row id=00000000-0000-0000-0000-000000000002, unexpected:
    actual {ID:00000000-0000-0000-0000-000000000002 Owner:bob Amount:0}

Compared: every column of every row of balances, matched by primary key. Every suffix of the history was applied again and changed nothing (ReplayTwice).
`))
	})

	It("catches a projector that is not idempotent", func() {
		t := &recorder{}
		projectortest.New(register, balances(true), projectortest.Options{ReplayTwice: true}).WithT(t).
			Given(a, Opened{Owner: "ann"}).ThenRecords(Balances, Balance{ID: a, Owner: "ann"})
		Expect(t.output()).To(ContainSubstring("projectortest: the projector is not idempotent: applying events 1 to 1 again failed"))
		Expect(t.output()).To(ContainSubstring("duplicate record"))
		Expect(t.output()).To(ContainSubstring("write the row with Upsert, not Insert"))
		Expect(t.output()).To(MatchRegexp(`handler at projectortest/projectortest_test\.go:\d+`), "where the handler is")
		Expect(t.output()).NotTo(ContainSubstring("wrapError"), "a message, not a dump")
	})

	It("runs under the spec's context", func(ctx SpecContext) {
		spec.WithContext(ctx).Given(a, Opened{Owner: "ann"}).ThenRecords(Balances, Balance{ID: a, Owner: "ann"})
		done, cancel := context.WithCancel(ctx)
		cancel()
		t := &recorder{}
		spec.WithT(t).WithContext(done).Given(a, Opened{Owner: "ann"})
		Expect(t.output()).To(ContainSubstring("context canceled"))
	})

	It("catches a running total, which a replay from the start would hide", func() {
		total := es.NewProjector("balances", Balances)
		es.Project(total, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Opened) error {
			return Balances.Upsert(ctx, v, Balance{ID: e.StreamID, Owner: ev.Owner})
		})
		es.Project(total, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Deposited) error {
			_, err := Balances.Update(ctx, v, es.Where{"id": e.StreamID}, func(b *Balance) { b.Amount += ev.Amount })
			return err
		})
		t := &recorder{}
		projectortest.New(register, total, projectortest.Options{ReplayTwice: true}).WithT(t).
			Given(a, Opened{Owner: "ann"}, Deposited{Amount: 5}).ThenRecords(Balances, Balance{ID: a, Owner: "ann", Amount: 5})
		Expect(t.output()).To(ContainSubstring("applying events 2 to 2 again (from bank.Deposited"))
	})

	It("runs a projector async and waits until it has caught up", func() {
		async := projectortest.New(register, balances(false), projectortest.Options{Async: true, ReplayTwice: true})
		s := async.Given(a, Opened{Owner: "ann"}, Deposited{Amount: 5})
		rows, err := s.Views().Find(context.Background(), Balances.Name(), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(BeEmpty(), "nothing is applied inline")
		s.ThenRecords(Balances, Balance{ID: a, Owner: "ann", Amount: 5})
	})

	It("reports an async projector that stops at an event", func() {
		failing := es.NewProjector("failing", Balances)
		es.Project(failing, func(context.Context, es.Persistor, es.Envelope, Deposited) error { return errors.New("boom") })
		t := &recorder{}
		projectortest.New(register, failing, projectortest.Options{Async: true}).WithT(t).
			Given(a, Opened{}, Deposited{Amount: 1}).ThenNoRecords(Balances)
		Expect(t.output()).To(ContainSubstring("projection failing stopped at bank.Deposited of stream 00000000-0000-0000-0000-000000000001 version 2"))
	})

	It("points at the spec's own line", func() {
		var at []string
		g := NewGomega(func(_ string, skip ...int) {
			_, file, line, _ := runtime.Caller(skip[0] + 1)
			at = append(at, fmt.Sprintf("%s:%d", filepath.Base(file), line))
		})
		noDatabase := projectortest.New(register, balances(false), projectortest.Options{
			Backend: func(context.Context) (es.EventStore, error) { return nil, errors.New("no database") }})
		_, _, line, _ := runtime.Caller(0)
		spec.WithGomega(g).Given(a, Opened{Owner: "ann"}).ThenRecords(Balances)
		spec.WithGomega(g).Given(a, Opened{Owner: "ann"}).ThenNoRecords(Balances)
		noDatabase.WithGomega(g).ThenNoRecords(Balances)
		noDatabase.WithGomega(g).Views()
		spec.WithGomega(g).Given(a)
		Expect(at).To(Equal([]string{
			fmt.Sprintf("projectortest_test.go:%d", line+1),
			fmt.Sprintf("projectortest_test.go:%d", line+2),
			fmt.Sprintf("projectortest_test.go:%d", line+3),
			fmt.Sprintf("projectortest_test.go:%d", line+4),
			fmt.Sprintf("projectortest_test.go:%d", line+5),
		}))
	})

	It("runs only the projector under test and refuses undeclared tables", func() {
		other := es.NewProjector("sneaky")
		es.Project(other, func(ctx context.Context, v es.Persistor, e es.Envelope, _ Opened) error {
			return Balances.Insert(ctx, v, Balance{ID: e.StreamID})
		})
		t := &recorder{}
		projectortest.New(register, other).WithT(t).Given(a, Opened{})
		Expect(t.output()).To(ContainSubstring("table not managed by this projector"))
	})
})

// closingStore is a memstore that counts its Close calls, as a backend that
// makes a database per scenario would drop it.
type closingStore struct {
	*memstore.Store
	closed *atomic.Int32
}

func (s closingStore) Close() error {
	s.closed.Add(1)
	return nil
}

var _ = Describe("a backend's store that implements io.Closer", func() {
	It("is closed once when the spec ends, not before", func() {
		var closed atomic.Int32
		spec := projectortest.New(register, balances(false), projectortest.Options{Async: true,
			Backend: func(context.Context) (es.EventStore, error) { return closingStore{memstore.New(), &closed}, nil }})
		DeferCleanup(func() { Expect(closed.Load()).To(BeEquivalentTo(1), "closed when the spec ended") }) // runs after the scenario's
		a := uuid.New()
		spec.Given(a, Opened{Owner: "ann"}).ThenRecords(Balances, Balance{ID: a, Owner: "ann"})
		Expect(closed.Load()).To(BeZero(), "still open while the spec runs")
	})
})
