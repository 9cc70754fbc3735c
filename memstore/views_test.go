package memstore_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Views", func() {
	var (
		ctx   context.Context
		views *memstore.Views
	)
	// people has a composite key (team, n), a nullable and a time column.
	people := es.TableDef{Name: "people", Key: []string{"team", "n"}, Columns: []es.Column{
		{Name: "team", Type: es.Text},
		{Name: "n", Type: es.Int},
		{Name: "name", Type: es.Text},
		{Name: "nick", Type: es.Text, Nullable: true},
		{Name: "seen", Type: es.Time, Nullable: true},
		{Name: "id", Type: es.UUID, Nullable: true},
	}}
	find := func(p es.Persistor, where es.Where) []es.Row {
		GinkgoHelper()
		rows, err := p.Find(ctx, "people", where)
		Expect(err).NotTo(HaveOccurred())
		return rows
	}
	names := func(rows []es.Row) []string {
		out := []string{}
		for _, r := range rows {
			out = append(out, r["name"].(string))
		}
		return out
	}
	BeforeEach(func() {
		ctx = context.Background()
		views = memstore.NewViews()
		Expect(views.CreateTables(ctx, people)).To(Succeed())
	})

	It("creates tables idempotently, refusing a table of the same name with other columns", func() {
		Expect(views.CreateTables(ctx, people)).To(Succeed())
		other := people
		other.Columns = people.Columns[:2]
		Expect(views.CreateTables(ctx, other)).To(MatchError(ContainSubstring("create table people: exists with other columns or another key")))
	})

	It("lets the first of two transactions that insert one key commit, and refuses the second", func() {
		tx1, tx2 := views.Begin(), views.Begin()
		Expect(tx1.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "first"})).To(Succeed())
		Expect(tx2.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "second"})).To(Succeed()) // not visible yet
		Expect(tx1.Commit()).To(Succeed())
		Expect(tx2.Commit()).To(MatchError(es.ErrDuplicateRecord))
		Expect(names(find(views, nil))).To(Equal([]string{"first"}))
	})

	It("refuses the second of concurrent inserts of one key", func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := range 50 {
			wg.Go(func() {
				if views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": fmt.Sprint(i)}) == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		Expect(ok).To(Equal(1))
	})

	It("keeps both of two transactions' updates of different columns of one row", func() {
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "ann"})).To(Succeed())
		tx1, tx2 := views.Begin(), views.Begin()
		Expect(tx1.Update(ctx, "people", es.Where{"team": "a", "n": 1}, es.Row{"name": "Ann"})).To(Equal(int64(1)))
		Expect(tx2.Update(ctx, "people", es.Where{"team": "a", "n": 1}, es.Row{"nick": "annie"})).To(Equal(int64(1)))
		Expect(tx1.Commit()).To(Succeed())
		Expect(tx2.Commit()).To(Succeed())
		rows := find(views, nil)
		Expect(rows).To(HaveLen(1))
		Expect(rows[0]["name"]).To(Equal("Ann"), "the second commit must not write back the name it read before the first committed")
		Expect(rows[0]["nick"]).To(Equal("annie"))
	})

	It("updates nothing of a row another transaction deleted meanwhile", func() {
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "ann"})).To(Succeed())
		tx := views.Begin()
		Expect(tx.Update(ctx, "people", es.Where{"team": "a", "n": 1}, es.Row{"name": "Ann"})).To(Equal(int64(1)))
		Expect(views.Delete(ctx, "people", es.Where{"team": "a", "n": 1})).To(Equal(int64(1)))
		Expect(tx.Commit()).To(Succeed())
		Expect(find(views, nil)).To(BeEmpty(), "an update does not bring a deleted row back")
	})

	It("refuses a duplicate key, a missing column, an unknown column, NULL in a non-null column and an unknown table", func() {
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "x"})).To(Succeed())
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "y"})).To(MatchError(es.ErrDuplicateRecord))
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 2})).To(MatchError(ContainSubstring("column name is missing")))
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 2, "name": "x", "age": 3})).To(MatchError(ContainSubstring(`has no column "age"`)))
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 2, "name": nil})).To(MatchError(ContainSubstring("null value in a column that is not nullable")))
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": "two", "name": "x"})).To(MatchError(ContainSubstring("a int column cannot hold string")))
		Expect(views.Insert(ctx, "nobody", es.Row{})).To(MatchError(ContainSubstring("create it with CreateTables")))
		_, err := views.Find(ctx, "nobody", nil)
		Expect(err).To(HaveOccurred())
		Expect(find(views, nil)).To(HaveLen(1))
	})

	It("upserts: inserts, then replaces the whole row", func() {
		Expect(views.Upsert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "x", "nick": "ex"})).To(Succeed())
		Expect(views.Upsert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "y"})).To(Succeed())
		Expect(find(views, nil)).To(Equal([]es.Row{{"team": "a", "n": int64(1), "name": "y", "nick": nil, "seen": nil, "id": nil}}))
	})

	It("updates and deletes the matching rows, returning how many", func() {
		for i, name := range []string{"x", "y", "z"} {
			Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": i, "name": name})).To(Succeed())
		}
		Expect(views.Insert(ctx, "people", es.Row{"team": "b", "n": 0, "name": "x"})).To(Succeed())
		n, err := views.Update(ctx, "people", es.Where{"name": "x"}, es.Row{"nick": "ex"})
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(int64(2)))
		Expect(names(find(views, es.Where{"nick": "ex"}))).To(Equal([]string{"x", "x"}))
		n, err = views.Update(ctx, "people", es.Where{"name": "nobody"}, es.Row{"nick": "ex"})
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeZero())

		n, err = views.Update(ctx, "people", es.Where{"team": "a", "n": 1}, es.Row{"n": 0})
		Expect(err).To(MatchError(es.ErrDuplicateRecord), "a key change onto an existing key")
		Expect(n).To(BeZero())

		n, err = views.Delete(ctx, "people", es.Where{"team": "a"})
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(int64(3)))
		Expect(names(find(views, nil))).To(Equal([]string{"x"}))
	})

	It("finds rows ordered by key, whatever the insertion order", func() {
		for _, r := range []es.Row{
			{"team": "b", "n": 1, "name": "b1"},
			{"team": "a", "n": 10, "name": "a10"},
			{"team": "a", "n": 2, "name": "a2"},
			{"team": "b", "n": 0, "name": "b0"},
		} {
			Expect(views.Insert(ctx, "people", r)).To(Succeed())
		}
		Expect(names(find(views, nil))).To(Equal([]string{"a2", "a10", "b0", "b1"}))
		Expect(names(find(views, es.Where{"team": "b"}))).To(Equal([]string{"b0", "b1"}))
	})

	It("orders by keys of every type", func() {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		u1, u2 := uuid.MustParse("00000000-0000-0000-0000-000000000001"), uuid.MustParse("10000000-0000-0000-0000-000000000000")
		mixed := es.TableDef{Name: "mixed", Key: []string{"b", "f", "t", "u", "raw"}, Columns: []es.Column{
			{Name: "b", Type: es.Bool}, {Name: "f", Type: es.Float}, {Name: "t", Type: es.Time},
			{Name: "u", Type: es.UUID}, {Name: "raw", Type: es.Bytes}, {Name: "name", Type: es.Text},
		}}
		Expect(views.CreateTables(ctx, mixed)).To(Succeed())
		for _, r := range []es.Row{
			{"b": true, "f": 0.5, "t": t0, "u": u1, "raw": []byte{1}, "name": "true"},
			{"b": false, "f": 2.5, "t": t0, "u": u1, "raw": []byte{1}, "name": "f2.5"},
			{"b": false, "f": 0.5, "t": t0.Add(time.Hour), "u": u1, "raw": []byte{1}, "name": "t+1h"},
			{"b": false, "f": 0.5, "t": t0, "u": u2, "raw": []byte{1}, "name": "u2"},
			{"b": false, "f": 0.5, "t": t0, "u": u1, "raw": []byte{2}, "name": "raw2"},
			{"b": false, "f": 0.5, "t": t0, "u": u1, "raw": []byte{1}, "name": "first"},
		} {
			Expect(views.Insert(ctx, "mixed", r)).To(Succeed())
		}
		rows, err := views.Find(ctx, "mixed", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(names(rows)).To(Equal([]string{"first", "raw2", "u2", "t+1h", "f2.5", "true"}))
	})

	It("keeps canonical values: times in UTC to the microsecond, ints as int64, uuids from strings", func() {
		local := time.Date(2026, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("CEST", 2*3600))
		id := uuid.New()
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": int8(1), "name": "x", "seen": local, "id": id.String()})).To(Succeed())
		rows := find(views, es.Where{"seen": local, "id": id})
		Expect(rows).To(HaveLen(1), "where values are canonicalised too")
		Expect(rows[0]["seen"]).To(Equal(time.Date(2026, 5, 6, 5, 8, 9, 123_456_000, time.UTC)))
		Expect(rows[0]["n"]).To(Equal(int64(1)))
		Expect(rows[0]["id"]).To(Equal(id))
	})

	It("hands out copies: changing a found row changes nothing stored", func() {
		Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "x"})).To(Succeed())
		find(views, nil)[0]["name"] = "changed"
		Expect(names(find(views, nil))).To(Equal([]string{"x"}))
	})

	Describe("transactions", func() {
		It("are invisible to others until Commit, and see their own writes", func() {
			Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "old"})).To(Succeed())
			tx := views.Begin()
			Expect(tx.Insert(ctx, "people", es.Row{"team": "a", "n": 2, "name": "new"})).To(Succeed())
			_, err := tx.Update(ctx, "people", es.Where{"n": 1}, es.Row{"name": "renamed"})
			Expect(err).NotTo(HaveOccurred())
			Expect(names(find(tx, nil))).To(Equal([]string{"renamed", "new"}))
			Expect(names(find(views, nil))).To(Equal([]string{"old"}))

			Expect(tx.Commit()).To(Succeed())
			Expect(names(find(views, nil))).To(Equal([]string{"renamed", "new"}))
		})

		It("leave no trace when never committed, deletes included", func() {
			Expect(views.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "x"})).To(Succeed())
			tx := views.Begin()
			Expect(tx.Delete(ctx, "people", nil)).To(Equal(int64(1)))
			Expect(find(tx, nil)).To(BeEmpty())
			Expect(tx.Insert(ctx, "people", es.Row{"team": "a", "n": 1, "name": "again"})).To(Succeed(), "the deleted key is free inside the tx")
			Expect(names(find(views, nil))).To(Equal([]string{"x"}))
		})

		It("are safe alongside concurrent readers and writers", func() {
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					defer GinkgoRecover()
					tx := views.Begin()
					Expect(tx.Insert(ctx, "people", es.Row{"team": "t", "n": i, "name": "x"})).To(Succeed())
					_, err := views.Find(ctx, "people", nil)
					Expect(err).NotTo(HaveOccurred())
					other := people
					other.Name = fmt.Sprintf("people_%d", i)
					Expect(views.CreateTables(ctx, other)).To(Succeed())
					_, err = tx.Delete(ctx, "people", es.Where{"n": i})
					Expect(err).NotTo(HaveOccurred())
					Expect(views.Upsert(ctx, "people", es.Row{"team": "u", "n": i, "name": "y"})).To(Succeed())
					Expect(tx.Commit()).To(Succeed())
				})
			}
			wg.Wait()
			Expect(find(views, nil)).To(HaveLen(8))
		})
	})
})
