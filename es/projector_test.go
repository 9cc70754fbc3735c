package es_test

import (
	"context"
	"errors"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// AccountRecord is a row of the account_records view table.
type AccountRecord struct {
	ID      uuid.UUID
	Owner   string
	Balance int64
}

var AccountRecords = es.NewTable[AccountRecord]("account_records", "id")

// newAccountProjector keeps account_records.
func newAccountProjector() *es.Projector {
	p := es.NewProjector("accounts", AccountRecords)
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev AccountOpened) error {
		return AccountRecords.Insert(ctx, v, AccountRecord{ID: e.StreamID, Owner: ev.Owner})
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Deposited) error {
		_, err := AccountRecords.Update(ctx, v, es.Where{"id": e.StreamID}, func(r *AccountRecord) { r.Balance += ev.Amount })
		return err
	})
	es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, ev Withdrawn) error {
		_, err := AccountRecords.Update(ctx, v, es.Where{"id": e.StreamID}, func(r *AccountRecord) { r.Balance -= ev.Amount })
		return err
	})
	return p
}

var errUnlucky = errors.New("13 is unlucky")

var _ = Describe("projectors", func() {
	var w *world
	rows := func() []AccountRecord {
		GinkgoHelper()
		rs, err := AccountRecords.Find(w.ctx, w.svc.Views(), es.Where{})
		Expect(err).NotTo(HaveOccurred())
		return rs
	}

	It("have their tables created by NewCommandService and run inline, in the commit", func() {
		var inHook []AccountRecord
		w = newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.AddProjector(newAccountProjector())
			r.AfterCommit(func(ctx context.Context, _ []es.Envelope) {
				inHook, _ = AccountRecords.Find(ctx, w.svc.Views(), es.Where{})
			})
		})
		Expect(rows()).To(BeEmpty())
		id := uuid.MustParse("00000000-0000-0000-0000-00000000000a")
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "a@x"})
		Expect(inHook).To(Equal([]AccountRecord{{ID: id, Owner: "Ann"}}), "read tables are never behind the events")
		w.exec(Deposit{ID: id, Amount: 10})
		Expect(rows()).To(Equal([]AccountRecord{{ID: id, Owner: "Ann", Balance: 10}}))
	})

	It("may write only the tables they declare (ErrTableNotManaged), and the command fails whole", func() {
		other := es.NewTable[AccountRecord]("other_records", "id")
		sneaky := es.NewProjector("sneaky")
		es.Project(sneaky, func(ctx context.Context, v es.Persistor, e es.Envelope, _ AccountOpened) error {
			return other.Insert(ctx, v, AccountRecord{ID: e.StreamID})
		})
		w = newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.AddProjector(newAccountProjector())
			r.AddProjector(sneaky)
		})
		_, err := w.svc.Execute(w.ctx, OpenAccount{ID: uuid.New(), Owner: "Ann", Email: "a@x"})
		Expect(err).To(MatchError(es.ErrTableNotManaged))
		Expect(err).To(MatchError(ContainSubstring("projector sneaky writes table other_records")))
		Expect(err).To(MatchError(ContainSubstring("declare it in es.NewProjector")))
		Expect(w.log()).To(BeEmpty())
		Expect(rows()).To(BeEmpty(), "the other projector's insert is rolled back")
	})

	It("that fail roll back the whole commit: events and every table write", func() {
		superstitious := es.NewProjector("superstitious")
		es.Project(superstitious, func(_ context.Context, _ es.Persistor, _ es.Envelope, ev Deposited) error {
			if ev.Amount == 13 {
				return errUnlucky
			}
			return nil
		})
		w = newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.AddProjector(newAccountProjector())
			r.AddProjector(superstitious)
		})
		from, to := w.open("Ann", "ann@x"), w.open("Bob", "bob@x")
		w.exec(Deposit{ID: from, Amount: 20})
		before := w.log()

		_, err := w.svc.Execute(w.ctx, Transfer{From: from, To: to, Amount: 13})
		Expect(err).To(MatchError(errUnlucky))
		Expect(err).To(MatchError(ContainSubstring("bank.Transfer")))
		Expect(err).To(MatchError(ContainSubstring("projector superstitious: bank.Deposited of stream " + to.String() + " version 2")))
		Expect(w.log()).To(Equal(before))
		Expect(rows()).To(ConsistOf(
			AccountRecord{ID: from, Owner: "Ann", Balance: 20},
			AccountRecord{ID: to, Owner: "Bob"},
		), "the Withdrawn projected before the failure is rolled back")
	})

	It("tell what they handle and which tables they manage", func() {
		p := newAccountProjector()
		Expect(p.Name()).To(Equal("accounts"))
		Expect(p.Handles(Deposited{})).To(BeTrue())
		Expect(p.Handles(EmailChanged{})).To(BeFalse())
		Expect(p.Tables()).To(Equal([]es.TableDef{AccountRecords.Def()}))
	})

	It("may read any table but write only their own, through every Persistor method", func() {
		other := es.NewTable[AccountRecord]("other_records", "id")
		views := memstore.NewViews()
		ctx := context.Background()
		Expect(views.CreateTables(ctx, AccountRecords.Def(), other.Def())).To(Succeed())
		Expect(other.Insert(ctx, views, AccountRecord{ID: uuid.New()})).To(Succeed())

		var errs []error
		p := es.NewProjector("p", AccountRecords)
		es.Project(p, func(ctx context.Context, v es.Persistor, e es.Envelope, _ Deposited) error {
			rs, err := other.Find(ctx, v, es.Where{})
			Expect(err).NotTo(HaveOccurred())
			Expect(rs).To(HaveLen(1))
			row := es.Row{"id": uuid.New(), "owner": "", "balance": 0}
			errs = append(errs,
				v.Insert(ctx, "other_records", row),
				v.Upsert(ctx, "other_records", row),
				func() error { _, err := v.Update(ctx, "other_records", es.Where{}, es.Row{"owner": "x"}); return err }(),
				func() error { _, err := v.Delete(ctx, "other_records", es.Where{}); return err }(),
				v.CreateTables(ctx, other.Def()),
				v.Upsert(ctx, "account_records", row),
			)
			return nil
		})
		Expect(p.Apply(ctx, views, es.Envelope{Event: Deposited{}})).To(Succeed())
		Expect(errs).To(HaveLen(6))
		for _, err := range errs[:5] {
			Expect(err).To(MatchError(es.ErrTableNotManaged))
		}
		Expect(errs[5]).NotTo(HaveOccurred())
	})
})
