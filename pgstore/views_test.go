package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var parityTable = es.TableDef{
	Name: "parity_rows",
	Columns: []es.Column{
		{Name: "name", Type: es.Text}, {Name: "seq", Type: es.Int}, {Name: "score", Type: es.Float},
		{Name: "active", Type: es.Bool}, {Name: "at", Type: es.Time}, {Name: "ref", Type: es.UUID, Nullable: true},
		{Name: "blob", Type: es.Bytes, Nullable: true}, {Name: "doc", Type: es.JSON, Nullable: true},
		{Name: "note", Type: es.Text, Nullable: true},
	},
	Key:     []string{"name", "seq"},
	Indexes: [][]string{{"ref"}, {"active", "at"}},
}

// reserved uses SQL keywords as names: quoting must make them work.
var reservedTable = es.TableDef{
	Name:    "order",
	Columns: []es.Column{{Name: "user", Type: es.Text}, {Name: "select", Type: es.Int, Nullable: true}},
	Key:     []string{"user"},
}

type viewOp struct {
	name string
	run  func(ctx context.Context, p es.Persistor) (any, error)
}

// normalize makes results comparable across persistors: JSON values are
// compared as decoded values, errors by what callers branch on.
func normalize(v any, err error) any {
	if err != nil {
		return fmt.Sprintf("error (duplicate: %v)", errors.Is(err, es.ErrDuplicateRecord))
	}
	if v == nil {
		return "ok"
	}
	rows, ok := v.([]es.Row)
	if !ok {
		return v
	}
	out := make([]es.Row, len(rows))
	for i, r := range rows {
		out[i] = es.Row{}
		for k, val := range r {
			if c, _ := parityTable.Column(k); c.Type == es.JSON && val != nil {
				var x any
				Expect(json.Unmarshal(val.([]byte), &x)).To(Succeed())
				val = x
			}
			out[i][k] = val
		}
	}
	return out
}

func parityOps() []viewOp {
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", -7200))
	ref := newID()
	full := func(name string, seq int) es.Row {
		return es.Row{"name": name, "seq": seq, "score": 1.5, "active": true, "at": at, "ref": ref,
			"blob": []byte{0, 1, 2}, "doc": map[string]any{"tags": []string{"a", "b"}, "n": 1}, "note": "hi"}
	}
	minimal := func(name string, seq int) es.Row {
		return es.Row{"name": name, "seq": int64(seq), "score": float32(2), "active": false, "at": at.Add(time.Hour)}
	}
	const t = "parity_rows"
	insert := func(r es.Row) func(context.Context, es.Persistor) (any, error) {
		return func(ctx context.Context, p es.Persistor) (any, error) { return nil, p.Insert(ctx, t, r) }
	}
	find := func(w es.Where) func(context.Context, es.Persistor) (any, error) {
		return func(ctx context.Context, p es.Persistor) (any, error) { return p.Find(ctx, t, w) }
	}
	update := func(w es.Where, set es.Row) func(context.Context, es.Persistor) (any, error) {
		return func(ctx context.Context, p es.Persistor) (any, error) { return p.Update(ctx, t, w, set) }
	}
	del := func(w es.Where) func(context.Context, es.Persistor) (any, error) {
		return func(ctx context.Context, p es.Persistor) (any, error) { return p.Delete(ctx, t, w) }
	}
	upsert := func(r es.Row) func(context.Context, es.Persistor) (any, error) {
		return func(ctx context.Context, p es.Persistor) (any, error) { return nil, p.Upsert(ctx, t, r) }
	}
	return []viewOp{
		{"insert a full row", insert(full("b", 1))},
		{"insert an upper-case key", insert(full("B", 1))},
		{"insert a row without nullable columns", insert(minimal("a", 2))},
		{"insert a second row with another seq", insert(minimal("b", 0))},
		{"insert a duplicate key", insert(full("b", 1))},
		{"insert an unknown column", insert(es.Row{"name": "x", "seq": 1, "score": 1.0, "active": true, "at": at, "nope": 1})},
		{"insert null into a column that is not nullable", insert(es.Row{"name": "x", "seq": 1, "score": nil, "active": true, "at": at})},
		{"insert without a column that is not nullable", insert(es.Row{"name": "x", "seq": 1, "active": true, "at": at})},
		{"insert a value of the wrong type", insert(es.Row{"name": 5, "seq": 1, "score": 1.0, "active": true, "at": at})},
		{"find all, ordered by key bytewise", find(nil)},
		{"find where a nullable column is null", find(es.Where{"ref": nil})},
		{"find by uuid given as a string", find(es.Where{"ref": ref.String()})},
		{"find by time in another zone", find(es.Where{"at": at.In(time.UTC)})},
		{"find by part of the key", find(es.Where{"name": "b"})},
		{"find by an unknown column", find(es.Where{"nope": 1})},
		{"upsert replaces the whole row", upsert(es.Row{"name": "b", "seq": 1, "score": 9.0, "active": false, "at": at})},
		{"upsert inserts", upsert(full("c", 3))},
		{"find after upserts", find(nil)},
		{"update some columns", update(es.Where{"active": true}, es.Row{"score": 2.5, "note": nil})},
		{"update to a taken key", update(es.Where{"name": "c"}, es.Row{"name": "b", "seq": 1})},
		{"update the key", update(es.Where{"name": "c"}, es.Row{"name": "d", "seq": 4})},
		{"update nothing: counts matches", update(es.Where{"name": "d"}, es.Row{})},
		{"update null into a column that is not nullable", update(nil, es.Row{"score": nil})},
		{"update matching nothing", update(es.Where{"name": "zz"}, es.Row{"score": 1.0})},
		{"find after updates", find(nil)},
		{"delete by key", del(es.Where{"name": "B", "seq": 1})},
		{"delete matching nothing", del(es.Where{"name": "zz"})},
		{"find after delete", find(nil)},
		{"delete all", del(nil)},
		{"find in an empty table", find(nil)},
		{"find in an unknown table", func(ctx context.Context, p es.Persistor) (any, error) { return p.Find(ctx, "nope", nil) }},
		{"insert into an unknown table", func(ctx context.Context, p es.Persistor) (any, error) {
			return nil, p.Insert(ctx, "nope", es.Row{"id": 1})
		}},
		{"reserved words work as names", func(ctx context.Context, p es.Persistor) (any, error) {
			if err := p.Insert(ctx, "order", es.Row{"user": "u", "select": 1}); err != nil {
				return nil, err
			}
			if _, err := p.Update(ctx, "order", es.Where{"user": "u"}, es.Row{"select": 2}); err != nil {
				return nil, err
			}
			return p.Find(ctx, "order", es.Where{"select": 2})
		}},
	}
}

var _ = Describe("Views", Label("integration"), func() {
	BeforeEach(requireDB)

	It("behaves as memstore.Views, operation by operation", func(ctx SpecContext) {
		p, drop := newDatabase(ctx)
		DeferCleanup(drop)
		Expect(pgstore.Migrate(ctx, p, pgstore.Config{})).To(Succeed())
		pg, mem := pgstore.NewViews(p, ""), memstore.NewViews()
		for _, v := range []es.Persistor{pg, mem} {
			Expect(v.CreateTables(ctx, parityTable, reservedTable)).To(Succeed())
		}
		for _, op := range parityOps() {
			want := normalize(op.run(ctx, mem))
			got := normalize(op.run(ctx, pg))
			Expect(got).To(Equal(want), op.name)
		}
	})

	It("returns canonical values", func(ctx SpecContext) {
		v := store.Views()
		Expect(v.CreateTables(ctx, parityTable)).To(Succeed())
		id := newID()
		at := time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.Local)
		Expect(v.Insert(ctx, parityTable.Name, es.Row{"name": id.String(), "seq": int8(1), "score": float32(0.5),
			"active": true, "at": at, "ref": id, "blob": []byte("b"), "doc": json.RawMessage(`[1,2]`)})).To(Succeed())
		rows, err := v.Find(ctx, parityTable.Name, es.Where{"name": id.String()})
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(HaveLen(1))
		r := rows[0]
		Expect(r["seq"]).To(Equal(int64(1)))
		Expect(r["score"]).To(Equal(0.5))
		Expect(r["at"]).To(Equal(at.UTC().Truncate(time.Microsecond)))
		Expect(r["ref"]).To(Equal(id))
		Expect(r["blob"]).To(Equal([]byte("b")))
		Expect(r["doc"]).To(MatchJSON(`[1, 2]`))
		Expect(r["note"]).To(BeNil())
	})

	It("round-trips typed rows through es.Table", func(ctx SpecContext) {
		type post struct {
			ID      uuid.UUID `db:"id"`
			Title   string
			Tags    []string
			Author  *uuid.UUID
			Created time.Time
			Words   int
		}
		posts := es.NewTable[post]("typed_posts", "id").Index("author")
		v := store.Views()
		Expect(v.CreateTables(ctx, posts.Def())).To(Succeed())
		author := newID()
		p1 := post{ID: newID(), Title: "one", Tags: []string{"go"}, Author: &author, Created: time.Now().UTC().Truncate(time.Microsecond), Words: 3}
		p2 := post{ID: newID(), Title: "two", Created: p1.Created}
		Expect(posts.Insert(ctx, v, p1)).To(Succeed())
		Expect(posts.Insert(ctx, v, p2)).To(Succeed())
		Expect(posts.Get(ctx, v, es.Where{"id": p1.ID})).To(Equal(p1))
		Expect(posts.Get(ctx, v, es.Where{"id": p2.ID})).To(Equal(p2))
		Expect(posts.Update(ctx, v, es.Where{"author": author}, func(p *post) { p.Words++ })).To(Equal(int64(1)))
		got, err := posts.Get(ctx, v, es.Where{"id": p1.ID})
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Words).To(Equal(4))
		Expect(posts.Insert(ctx, v, p1)).To(MatchError(es.ErrDuplicateRecord))
	})

	It("creates tables idempotently, and refuses a table that exists with other columns", func(ctx SpecContext) {
		v := store.Views()
		def := es.TableDef{Name: "idem", Columns: []es.Column{{Name: "id", Type: es.Int}, {Name: "n", Type: es.Text, Nullable: true}}, Key: []string{"id"}, Indexes: [][]string{{"n"}}}
		Expect(v.CreateTables(ctx, def)).To(Succeed())
		Expect(v.CreateTables(ctx, def)).To(Succeed())
		Expect(pgstore.NewViews(pool, "").CreateTables(ctx, def)).To(Succeed())
		other := def
		other.Columns = []es.Column{{Name: "id", Type: es.Int}, {Name: "n", Type: es.Int}}
		Expect(v.CreateTables(ctx, other)).To(MatchError(ContainSubstring("exists with other columns")))
	})

	It("lets several processes create the same tables at once", func(ctx SpecContext) {
		for round := range 5 {
			defs := make([]es.TableDef, 3)
			for i := range defs {
				defs[i] = es.TableDef{Name: fmt.Sprintf("race_%d_%d", round, i),
					Columns: []es.Column{{Name: "id", Type: es.UUID}, {Name: "v", Type: es.Text}},
					Key:     []string{"id"}, Indexes: [][]string{{"v"}}}
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = pgstore.NewViews(pool, "").CreateTables(ctx, defs...)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				Expect(err).NotTo(HaveOccurred())
			}
		}
	})

	It("works inside a transaction, whose rollback leaves nothing", func(ctx SpecContext) {
		def := es.TableDef{Name: "in_tx", Columns: []es.Column{{Name: "id", Type: es.Int}}, Key: []string{"id"}}
		tx, err := pool.Begin(ctx)
		Expect(err).NotTo(HaveOccurred())
		v := pgstore.NewViews(tx, "")
		Expect(v.CreateTables(ctx, def)).To(Succeed())
		Expect(v.Insert(ctx, "in_tx", es.Row{"id": 1})).To(Succeed())
		Expect(v.Find(ctx, "in_tx", nil)).To(HaveLen(1))
		Expect(tx.Rollback(ctx)).To(Succeed())
		_, err = pgstore.NewViews(pool, "").Find(ctx, "in_tx", nil)
		Expect(err).To(MatchError(ContainSubstring("does not exist")))
	})
})

var _ = Describe("Views on a table made by hand", Label(pgtest.Label), func() {
	It("quote the column names PostgreSQL reports, quotes and all", func(ctx SpecContext) {
		s, err := pgtest.Store(ctx)
		Expect(err).NotTo(HaveOccurred())
		pool, err := pgtest.Pool(ctx)
		Expect(err).NotTo(HaveOccurred())
		_, err = pool.Exec(ctx, `CREATE TABLE consequent_views.by_hand (id bigint PRIMARY KEY, "say ""hi""" text)`)
		Expect(err).NotTo(HaveOccurred())
		v := s.Views()
		Expect(v.Insert(ctx, "by_hand", es.Row{"id": 1, `say "hi"`: "hello"})).To(Succeed())
		rows, err := v.Find(ctx, "by_hand", es.Where{`say "hi"`: "hello"})
		Expect(err).NotTo(HaveOccurred())
		Expect(rows).To(Equal([]es.Row{{"id": int64(1), `say "hi"`: "hello"}}))
	})
})
