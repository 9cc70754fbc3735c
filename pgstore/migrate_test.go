package pgstore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Migrate", Label("integration"), func() {
	BeforeEach(requireDB)

	It("is safe from several processes at once and idempotent", func(ctx SpecContext) {
		p, drop := newDatabase(ctx)
		DeferCleanup(drop)
		cfg := pgstore.Config{Schema: "es_custom", ViewSchema: "views_custom"}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = pgstore.Migrate(ctx, p, cfg)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(pgstore.Migrate(ctx, p, cfg)).To(Succeed())
		var versions []int32
		rows, err := p.Query(ctx, `SELECT version FROM es_custom.schema_migrations ORDER BY version`)
		Expect(err).NotTo(HaveOccurred())
		for rows.Next() {
			var v int32
			Expect(rows.Scan(&v)).To(Succeed())
			versions = append(versions, v)
		}
		Expect(rows.Err()).NotTo(HaveOccurred())
		Expect(versions).To(Equal(migrationVersions()), "every embedded migration, once")

		By("working in the configured schemas")
		s, err := pgstore.New(p, cfg)
		Expect(err).NotTo(HaveOccurred())
		id := newID()
		Expect(s.Commit(ctx, commitOf(stream(id, 0, 1)), nil)).To(Succeed())
		Expect(s.StreamInfo(ctx, id)).To(Equal(es.StreamInfo{Type: "test.Thing", Version: 1}))
		table := es.TableDef{Name: "things", Columns: []es.Column{{Name: "id", Type: es.UUID}}, Key: []string{"id"}}
		Expect(s.Views().CreateTables(ctx, table)).To(Succeed())
		var n int
		Expect(p.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'views_custom' AND tablename = 'things'`).Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1))
		Expect(p.QueryRow(ctx, `SELECT count(*) FROM es_custom.events`).Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1))
	})
})

var _ = Describe("Migrations", Label("integration"), func() {
	BeforeEach(requireDB)

	It("lists every migration as pending in a new database, then as applied, without changing anything", func(ctx SpecContext) {
		p, drop := newDatabase(ctx)
		DeferCleanup(drop)
		cfg := pgstore.Config{Schema: "es_status", ViewSchema: "views_status"}
		pending, err := pgstore.Migrations(ctx, p, cfg)
		Expect(err).NotTo(HaveOccurred())
		files, err := filepath.Glob("migrations/*.sql")
		Expect(err).NotTo(HaveOccurred())
		Expect(pending).To(HaveLen(len(files)))
		for i, m := range pending {
			Expect(m.Version).To(Equal(i + 1))
			Expect(m.Name).To(HavePrefix(fmt.Sprintf("%03d_", i+1)))
			Expect(m.Applied).To(BeZero())
		}
		var schemas int
		Expect(p.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = 'es_status'`).Scan(&schemas)).To(Succeed())
		Expect(schemas).To(BeZero(), "Migrations created the schema")

		before := time.Now().Add(-time.Minute)
		Expect(pgstore.Migrate(ctx, p, cfg)).To(Succeed())
		applied, err := pgstore.Migrations(ctx, p, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(applied).To(HaveLen(len(files)))
		for i, m := range applied {
			Expect(m.Name).To(Equal(pending[i].Name))
			Expect(m.Applied).To(BeTemporally(">", before))
			Expect(m.Applied.Location()).To(Equal(time.UTC))
		}

		By("counting a migration whose row is gone as pending")
		_, err = p.Exec(ctx, `DELETE FROM es_status.schema_migrations WHERE version = 5`)
		Expect(err).NotTo(HaveOccurred())
		applied, err = pgstore.Migrations(ctx, p, cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(applied[4].Applied).To(BeZero())
		Expect(applied[3].Applied).NotTo(BeZero())
	})

	It("refuses an invalid schema name before touching the database", func(ctx SpecContext) {
		_, err := pgstore.Migrations(ctx, nil, pgstore.Config{Schema: "Bad"})
		Expect(err).To(MatchError(ContainSubstring(`invalid Config.Schema "Bad"`)))
	})
})

var _ = Describe("configuration", func() {
	It("validates schema names before touching the database", func(ctx SpecContext) {
		for _, cfg := range []pgstore.Config{
			{Schema: "Consequent"},
			{Schema: `x"; DROP TABLE y; --`},
			{ViewSchema: "1views"},
			{Schema: "same", ViewSchema: "same"},
			{Schema: "a234567890123456789012345678901234567890123456789012345678901234"},
		} {
			Expect(pgstore.Migrate(ctx, nil, cfg)).To(MatchError(HavePrefix("pgstore: ")), "%+v", cfg)
			s, err := pgstore.New(nil, cfg)
			Expect(err).To(MatchError(HavePrefix("pgstore: ")), "%+v: New fails at once", cfg)
			Expect(s).To(BeNil())
		}
		_, err := pgstore.NewViews(nil, "Bad").Find(ctx, "t", nil)
		Expect(err).To(MatchError(ContainSubstring(`invalid view schema "Bad"`)))
	})

	It("validates table and column names", func(ctx SpecContext) {
		v := pgstore.NewViews(nil, "")
		col := []es.Column{{Name: "id", Type: es.Int}}
		for _, def := range []es.TableDef{
			{Name: "Rows", Columns: col, Key: []string{"id"}},
			{Name: `rows"; DROP`, Columns: col, Key: []string{"id"}},
			{Name: "rows", Columns: []es.Column{{Name: "Id", Type: es.Int}}, Key: []string{"Id"}},
			{Name: "rows", Columns: col},
			{Name: "rows", Columns: col, Key: []string{"nope"}},
			{Name: "rows", Columns: col, Key: []string{"id"}, Indexes: [][]string{{"nope"}}},
			{Name: "rows", Columns: []es.Column{{Name: "id", Type: es.ColumnType(99)}}, Key: []string{"id"}},
		} {
			Expect(v.CreateTables(ctx, def)).To(MatchError(HavePrefix("pgstore: ")), "%+v", def)
		}
		_, err := v.Find(ctx, "no such", nil)
		Expect(err).To(MatchError(ContainSubstring("invalid table name")))
	})
})

// migrationVersions returns the versions of the migration files, in order.
func migrationVersions() []int32 {
	GinkgoHelper()
	files, err := os.ReadDir("migrations")
	Expect(err).NotTo(HaveOccurred())
	var out []int32
	for _, f := range files {
		prefix, _, _ := strings.Cut(f.Name(), "_")
		v, err := strconv.Atoi(prefix)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, int32(v))
	}
	return out
}
