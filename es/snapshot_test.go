package es_test

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
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
		bankOptions{account: []es.AggregateOption{es.SnapshotEvery(n, schema)}}.register(r)
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
