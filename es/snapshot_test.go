package es_test

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// inspect is a command whose handler reports how it found an account.
type inspect struct{ ID uuid.UUID }

type loaded struct {
	Restored bool
	Applied  int
	Balance  int64
	Version  int64
}

// registerSnapshotting registers the bank with snapshots every n events of the given
// schema, and spec.Inspect, which stores what its handler saw in *seen.
func registerSnapshotting(n, schema int, seen *loaded) func(*es.Registry) {
	return func(r *es.Registry) {
		BankOptions{Account: []es.AggregateOption{es.SnapshotEvery(n, schema)}}.Register(r)
		es.Handle(r, "spec.Inspect", func(ctx context.Context, u *es.UnitOfWork, cmd inspect) error {
			a, err := es.Load[*Account](ctx, u, cmd.ID)
			if err != nil {
				return err
			}
			*seen = loaded{a.Restored, a.Applied, a.Balance, a.Version()}
			return nil
		})
	}
}

var _ = Describe("snapshots", func() {
	var (
		w    *world
		seen loaded
		id   uuid.UUID
	)
	snapshotVersion := func(schema int) int64 {
		GinkgoHelper()
		s, err := w.store.LoadSnapshot(w.ctx, id, schema, 0)
		Expect(err).NotTo(HaveOccurred())
		if s == nil {
			return 0
		}
		Expect(s.StreamType).To(Equal("bank.Account"))
		return s.Version
	}
	BeforeEach(func() {
		w = newWorld(registerSnapshotting(3, 1, &seen))
		id = w.open("Ann", "a@x")
	})

	It("are stored in the commit that reaches the threshold, then every n events", func() {
		w.exec(Deposit{ID: id, Amount: 10})
		Expect(snapshotVersion(1)).To(BeZero())
		w.exec(Deposit{ID: id, Amount: 20})
		Expect(snapshotVersion(1)).To(Equal(int64(3)))
		w.exec(Deposit{ID: id, Amount: 1})
		w.exec(Deposit{ID: id, Amount: 1})
		Expect(snapshotVersion(1)).To(Equal(int64(3)))
		w.exec(Deposit{ID: id, Amount: 1})
		Expect(snapshotVersion(1)).To(Equal(int64(6)))
	})

	It("are where loads start: only later events are applied", func() {
		w.exec(Deposit{ID: id, Amount: 10})
		w.exec(Deposit{ID: id, Amount: 20})
		w.exec(Deposit{ID: id, Amount: 5})

		w.exec(inspect{ID: id})
		Expect(seen).To(Equal(loaded{Restored: true, Applied: 1, Balance: 35, Version: 4}))
	})

	It("are used by LoadAt up to a version at or after the snapshot", func() {
		for range 4 {
			w.exec(Deposit{ID: id, Amount: 1})
		}
		a, err := es.LoadAt[*Account](w.ctx, w.svc, id, es.StreamQuery{ToVersion: 4})
		Expect(err).NotTo(HaveOccurred())
		Expect(loaded{a.Restored, a.Applied, a.Balance, a.Version()}).To(Equal(loaded{true, 1, 3, 4}))

		a, err = es.LoadAt[*Account](w.ctx, w.svc, id, es.StreamQuery{ToVersion: 2})
		Expect(err).NotTo(HaveOccurred())
		Expect(loaded{a.Restored, a.Applied, a.Balance, a.Version()}).To(Equal(loaded{false, 2, 1, 2}))
	})

	It("of another schema are ignored: the aggregate is rebuilt from its events and a new snapshot taken", func() {
		w.exec(Deposit{ID: id, Amount: 10})
		w.exec(Deposit{ID: id, Amount: 20})
		w.exec(Deposit{ID: id, Amount: 5})
		Expect(snapshotVersion(1)).To(Equal(int64(3)))

		w = w.withRegistry(registerSnapshotting(3, 2, &seen), es.Options{})
		w.exec(inspect{ID: id})
		Expect(seen).To(Equal(loaded{Restored: false, Applied: 4, Balance: 35, Version: 4}))
		Expect(snapshotVersion(2)).To(BeZero())

		w.exec(Deposit{ID: id, Amount: 1})
		Expect(snapshotVersion(2)).To(Equal(int64(5)), "the first commit after the change snapshots again")
		w.exec(inspect{ID: id})
		Expect(seen).To(Equal(loaded{Restored: true, Applied: 0, Balance: 36, Version: 5}))
	})

	It("are ignored by time travel", func() {
		w.exec(Deposit{ID: id, Amount: 10})
		w.clock.Advance(time.Hour)
		w.exec(Deposit{ID: id, Amount: 20})
		w.exec(Deposit{ID: id, Amount: 5})
		a, err := es.LoadAt[*Account](w.ctx, w.svc, id, es.StreamQuery{Until: w.clock.Now()})
		Expect(err).NotTo(HaveOccurred())
		Expect(loaded{a.Restored, a.Applied, a.Balance, a.Version()}).To(Equal(loaded{false, 4, 35, 4}))
	})
})

var _ = Describe("TakeSnapshot", func() {
	var (
		w    *world
		seen loaded
		id   uuid.UUID
	)
	BeforeEach(func() {
		w = newWorld(registerSnapshotting(100, 1, &seen))
		id = w.open("Ann", "a@x")
		w.exec(Deposit{ID: id, Amount: 10})
	})

	It("snapshots an aggregate at its current version, however few events followed the last snapshot", func() {
		snap, err := es.TakeSnapshot(w.ctx, w.svc.Registry(), w.store, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(snap).To(HaveField("Version", int64(2)))
		Expect(snap).To(HaveField("StreamType", "bank.Account"))

		w.exec(inspect{ID: id})
		Expect(seen).To(Equal(loaded{Restored: true, Applied: 0, Balance: 10, Version: 2}))

		By("taking none when the newest is current")
		Expect(es.TakeSnapshot(w.ctx, w.svc.Registry(), w.store, id)).To(BeNil())
	})

	It("refuses a type without snapshots, and a stream that does not exist", func() {
		_, err := es.TakeSnapshot(w.ctx, w.svc.Registry(), w.store, uuid.New())
		Expect(err).To(MatchError(es.ErrAggregateNotFound))

		w = w.withRegistry(RegisterBank, es.Options{})
		_, err = es.TakeSnapshot(w.ctx, w.svc.Registry(), w.store, id)
		Expect(err).To(MatchError(es.ErrNoSnapshots))
		Expect(err).To(MatchError(ContainSubstring("bank.Account: the aggregate type takes no snapshots (register it with es.SnapshotEvery)")))
	})
})

var _ = Describe("a registry's aggregate types", func() {
	It("are listed by name, with their events and snapshot policy", func() {
		r := es.NewRegistry()
		registerSnapshotting(50, 3, new(loaded))(r)
		types := r.AggregateTypes()
		Expect(types).To(HaveLen(2))
		Expect(types[0].Name()).To(Equal("bank.Account"))
		Expect(types[1].Name()).To(Equal("bank.Counter"))
		Expect(types[0].EventTypes()).To(Equal([]string{"bank.AccountClosed", "bank.AccountOpened", "bank.Deposited", "bank.EmailChanged", "bank.StatementSent", "bank.Withdrawn"}))
		n, schema := types[0].Snapshots()
		Expect([]int{n, schema}).To(Equal([]int{50, 3}))
		n, _ = types[1].Snapshots()
		Expect(n).To(BeZero())
		t, ok := r.AggregateType("bank.Counter")
		Expect(ok).To(BeTrue())
		Expect(t).To(BeIdenticalTo(types[1]))
	})
})
