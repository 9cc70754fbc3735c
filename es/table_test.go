package es_test

import (
	"context"
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type tags struct {
	Names []string `json:"names"`
}

// everything has a field of every column type.
type everything struct {
	AggregateID uuid.UUID `db:"id"`
	HTTPStatus  int
	Name        string
	Score       float64
	Active      bool
	At          time.Time
	Raw         []byte
	Note        *string
	Closed      *time.Time
	Tags        tags
	Labels      []string
	Attrs       map[string]int
	Extra       *tags
	Skipped     string `db:"-"`
	unexported  int
}

var _ = everything{}.unexported

var Everything = es.NewTable[everything]("everything", "id").Index("name", "active")

var _ = Describe("Table", func() {
	ctx := context.Background()

	It("maps fields to columns: snake_case names, db tags, pointers nullable, other types JSON", func() {
		d := Everything.Def()
		Expect(d.Name).To(Equal("everything"))
		Expect(Everything.Name()).To(Equal("everything"))
		Expect(d.Key).To(Equal([]string{"id"}))
		Expect(d.Indexes).To(Equal([][]string{{"name", "active"}}))
		Expect(d.Columns).To(Equal([]es.Column{
			{Name: "id", Type: es.UUID},
			{Name: "http_status", Type: es.Int},
			{Name: "name", Type: es.Text},
			{Name: "score", Type: es.Float},
			{Name: "active", Type: es.Bool},
			{Name: "at", Type: es.Time},
			{Name: "raw", Type: es.Bytes},
			{Name: "note", Type: es.Text, Nullable: true},
			{Name: "closed", Type: es.Time, Nullable: true},
			{Name: "tags", Type: es.JSON, Nullable: true},
			{Name: "labels", Type: es.JSON, Nullable: true},
			{Name: "attrs", Type: es.JSON, Nullable: true},
			{Name: "extra", Type: es.JSON, Nullable: true},
		}))
	})

	It("keeps a definition mistake, saying what to fix and where, and reports it on registration and use", func() {
		_, _, line, _ := goruntime.Caller(0)
		for i, c := range []struct {
			err  error
			want string
		}{
			{es.NewTable[everything]("t", "nope").Err(), `key column "nope" is not a field of es_test.everything (tag the field`},
			{es.NewTable[everything]("t", "note").Err(), `key column "note" must not be a pointer`},
			{es.NewTable[everything]("t").Err(), "no primary key"},
			{es.NewTable[int]("t", "x").Err(), "row type int is not a struct"},
			{es.NewTable[everything]("", "id").Err(), "has no name"},
			{es.NewTable[everything]("t", "id").Index("nope").Err(), `index column "nope" does not exist`},
		} {
			Expect(c.err).To(MatchError(ContainSubstring(c.want)))
			Expect(c.err).To(MatchError(HavePrefix(fmt.Sprintf("es/table_test.go:%d: ", line+5+i))), "where it was declared")
		}
		Expect(es.NewTable[everything]("t", "id").Err()).NotTo(HaveOccurred())

		broken := es.NewTable[everything]("broken", "nope")
		_, err := broken.Find(context.Background(), memstore.New().Views(), nil)
		Expect(err).To(MatchError(broken.Err()))
		r := es.NewRegistry()
		RegisterBank(r)
		r.AddProjector(es.NewProjector("broken_projector", broken))
		_, err = es.NewCommandService(context.Background(), r, memstore.New(), es.Options{})
		Expect(err).To(MatchError(ContainSubstring(`projector "broken_projector": table: es/table_test.go:`)))
		Expect(err).To(MatchError(ContainSubstring(`key column "nope" is not a field`)))
	})

	It("converts records to canonical rows and back (RowOf, RecordOf)", func() {
		note := "n"
		closed := time.Date(2026, 2, 3, 4, 5, 6, 789_123_456, time.FixedZone("X", 3600))
		rec := everything{AggregateID: uuid.New(), HTTPStatus: 404, Name: "x", Score: 1.5, Active: true,
			At: closed, Raw: []byte{1, 2}, Note: &note, Closed: &closed, Tags: tags{Names: []string{"a"}},
			Labels: []string{"l"}, Attrs: map[string]int{"k": 1}, Extra: &tags{Names: []string{"e"}}, Skipped: "gone"}
		row, err := Everything.RowOf(rec)
		Expect(err).NotTo(HaveOccurred())
		canonicalTime := time.Date(2026, 2, 3, 3, 5, 6, 789_123_000, time.UTC)
		Expect(row).To(Equal(es.Row{
			"id": rec.AggregateID, "http_status": int64(404), "name": "x", "score": 1.5, "active": true,
			"at": canonicalTime, "raw": []byte{1, 2}, "note": "n", "closed": canonicalTime,
			"tags": []byte(`{"names":["a"]}`), "labels": []byte(`["l"]`), "attrs": []byte(`{"k":1}`),
			"extra": []byte(`{"names":["e"]}`),
		}))

		back, err := Everything.RecordOf(row)
		Expect(err).NotTo(HaveOccurred())
		want := rec
		want.At, want.Closed, want.Skipped = canonicalTime, &canonicalTime, ""
		Expect(back).To(Equal(want))

		row, err = Everything.RowOf(everything{})
		Expect(err).NotTo(HaveOccurred())
		Expect(row["note"]).To(BeNil())
		Expect(row["extra"]).To(BeNil())
		back, err = Everything.RecordOf(row)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.(everything).Note).To(BeNil())
		Expect(back.(everything).Extra).To(BeNil())

		_, err = Everything.RowOf(AccountRecord{})
		Expect(err).To(MatchError(ContainSubstring("record is a es_test.AccountRecord, want es_test.everything")))
	})

	Describe("on a persistor", func() {
		var views *memstore.Views
		a, b := uuid.MustParse("00000000-0000-0000-0000-00000000000a"), uuid.MustParse("00000000-0000-0000-0000-00000000000b")
		BeforeEach(func() {
			views = memstore.NewViews()
			Expect(views.CreateTables(ctx, AccountRecords.Def())).To(Succeed())
			Expect(AccountRecords.Insert(ctx, views, AccountRecord{ID: b, Owner: "Bob", Balance: 2})).To(Succeed())
			Expect(AccountRecords.Insert(ctx, views, AccountRecord{ID: a, Owner: "Ann", Balance: 1})).To(Succeed())
		})

		It("finds rows ordered by key, and gets exactly one", func() {
			Expect(AccountRecords.Find(ctx, views, es.Where{})).To(Equal([]AccountRecord{{a, "Ann", 1}, {b, "Bob", 2}}))
			Expect(AccountRecords.Get(ctx, views, es.Where{"owner": "Bob"})).To(Equal(AccountRecord{b, "Bob", 2}))
			_, err := AccountRecords.Get(ctx, views, es.Where{"owner": "Cy"})
			Expect(err).To(MatchError(es.ErrRecordNotFound))
			_, err = AccountRecords.Get(ctx, views, es.Where{})
			Expect(err).To(MatchError(ContainSubstring("2 rows match, want one")))
		})

		It("refuses a duplicate key and upserts", func() {
			Expect(AccountRecords.Insert(ctx, views, AccountRecord{ID: a})).To(MatchError(es.ErrDuplicateRecord))
			Expect(AccountRecords.Upsert(ctx, views, AccountRecord{ID: a, Owner: "Ann2"})).To(Succeed())
			Expect(AccountRecords.Get(ctx, views, es.Where{"id": a})).To(Equal(AccountRecord{a, "Ann2", 0}))
		})

		It("updates matching rows, counting them, and refuses to change a key", func() {
			n, err := AccountRecords.Update(ctx, views, es.Where{}, func(r *AccountRecord) { r.Balance *= 10 })
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(int64(2)))
			Expect(AccountRecords.Find(ctx, views, es.Where{})).To(Equal([]AccountRecord{{a, "Ann", 10}, {b, "Bob", 20}}))

			_, err = AccountRecords.Update(ctx, views, es.Where{"id": a}, func(r *AccountRecord) { r.ID = uuid.New() })
			Expect(err).To(MatchError(ContainSubstring("account_records: update changed key column id")))
			Expect(AccountRecords.Get(ctx, views, es.Where{"id": a})).To(Equal(AccountRecord{a, "Ann", 10}))
		})

		It("sets columns in one statement, without reading, and refuses keys and unknown columns", func() {
			Expect(AccountRecords.Set(ctx, views, es.Where{"id": a}, es.Row{"balance": 7, "owner": "Ann2"})).To(Succeed())
			Expect(AccountRecords.Set(ctx, views, es.Where{"id": uuid.New()}, es.Row{"balance": 8})).To(Succeed())
			Expect(AccountRecords.Find(ctx, views, es.Where{})).To(Equal([]AccountRecord{{a, "Ann2", 7}, {b, "Bob", 2}}))
			Expect(AccountRecords.Set(ctx, views, es.Where{"id": a}, es.Row{"id": uuid.New()})).To(MatchError(ContainSubstring("id is a key column")))
			Expect(AccountRecords.Set(ctx, views, es.Where{"id": a}, es.Row{"nope": 1})).To(MatchError(ContainSubstring("no column nope")))
		})

		It("deletes matching rows, counting them", func() {
			Expect(AccountRecords.Delete(ctx, views, es.Where{"owner": "Ann"})).To(Equal(int64(1)))
			Expect(AccountRecords.Delete(ctx, views, es.Where{"owner": "Ann"})).To(Equal(int64(0)))
			Expect(AccountRecords.Find(ctx, views, es.Where{})).To(Equal([]AccountRecord{{b, "Bob", 2}}))
		})

		It("stores JSON, nullable and time columns through a persistor", func() {
			Expect(views.CreateTables(ctx, Everything.Def())).To(Succeed())
			rec := everything{AggregateID: a, At: testStart, Tags: tags{Names: []string{"x"}}, Labels: []string{"y"}}
			Expect(Everything.Insert(ctx, views, rec)).To(Succeed())
			Expect(Everything.Get(ctx, views, es.Where{"id": a})).To(Equal(rec))
		})
	})
})
