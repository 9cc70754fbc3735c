package pgtest_test

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
)

var _ = Describe("a PostgreSQL for tests", Label("integration"), func() {
	var db *pgtest.DB

	BeforeEach(func(ctx SpecContext) {
		_, err := pgtest.Pool(ctx) // skips or fails when there is no server
		Expect(err).NotTo(HaveOccurred())
		db, err = pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
	})

	It("takes the server from CONSEQUENT_TEST_DATABASE_URL when set, else starts a container", func() {
		if os.Getenv(pgtest.EnvDatabaseURL) != "" {
			Expect(db.Source).To(Equal(pgtest.EnvDatabaseURL))
		} else {
			Expect(db.Source).To(HavePrefix("container "))
		}
		AddReportEntry("pgtest provisioning", db.Source+": "+db.Timings.String())
	})

	It("works in a database of its own, cloned from the migrated template", func(ctx SpecContext) {
		var name string
		Expect(db.Pool.QueryRow(ctx, "SELECT current_database()").Scan(&name)).To(Succeed())
		Expect(name).To(Equal(db.Name))
		Expect(name).To(HaveSuffix("_p%d", GinkgoParallelProcess()))
		Expect(db.Template).To(HavePrefix("consequent_tmpl_"))

		Expect(tables(ctx, db.Pool, pgtest.Config().Schema)).NotTo(BeEmpty(), "pgstore's tables")
		var views bool
		Expect(db.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
			pgtest.Config().ViewSchema).Scan(&views)).To(Succeed())
		Expect(views).To(BeTrue(), "the view schema exists")
	})

	It("migrated the template once: migrating again changes nothing", func(ctx SpecContext) {
		before := tables(ctx, db.Pool, pgtest.Config().Schema)
		Expect(pgstore.Migrate(ctx, db.Pool, pgtest.Config())).To(Succeed())
		Expect(tables(ctx, db.Pool, pgtest.Config().Schema)).To(Equal(before))
	})

	It("gives a fresh, empty store to each caller of Backend", func(ctx SpecContext) {
		first, err := pgtest.Backend(ctx)
		Expect(err).NotTo(HaveOccurred())
		writeSomething(ctx, first)
		// The log shows a commit once no older transaction is in flight anywhere on
		// the server: other processes' databases share it when it comes from the DSN.
		Eventually(ctx, first.ReadLog).WithArguments(es.Cursor{}, 10).Should(HaveLen(1))
		Expect(tables(ctx, db.Pool, pgtest.Config().ViewSchema)).NotTo(BeEmpty())

		second, err := pgtest.Backend(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(second.ReadLog(ctx, es.Cursor{}, 10)).To(BeEmpty())
		Expect(tables(ctx, db.Pool, pgtest.Config().ViewSchema)).To(BeEmpty(), "view tables are dropped")
		Expect(rowCounts(ctx, db.Pool)).To(HaveEach(BeZero()), "pgstore tables other than the migration ledger are empty")

		writeSomething(ctx, second) // the same stream and view table again: nothing is left over
	})

	It("lets the next spec re-create a view table with other columns", func(ctx SpecContext) {
		id := uuid.MustParse("00000000-0000-0000-0000-00000000000b")
		for _, c := range []struct {
			col   es.Column
			value any
		}{
			{es.Column{Name: "n", Type: es.Int}, int64(1)},
			{es.Column{Name: "s", Type: es.Text}, "one"},
			{es.Column{Name: "n", Type: es.Text}, "one"},
		} {
			col := c.col
			store, err := pgtest.Backend(ctx)
			Expect(err).NotTo(HaveOccurred())
			def := es.TableDef{Name: "pgtest_shapes", Columns: []es.Column{{Name: "id", Type: es.UUID}, col}, Key: []string{"id"}}
			Expect(store.Views().CreateTables(ctx, def)).To(Succeed())
			for range 3 { // enough for pgx to cache the statements
				Expect(store.Views().Upsert(ctx, def.Name, es.Row{"id": id, col.Name: c.value})).To(Succeed())
				Expect(store.Views().Find(ctx, def.Name, es.Where{"id": id})).To(ConsistOf(HaveKeyWithValue(col.Name, c.value)))
			}
		}
	})

	It("makes more databases on request, migrated or empty", func(ctx SpecContext) {
		for _, migrated := range []bool{true, false} {
			dsn, drop, err := db.TempDatabase(ctx, migrated)
			Expect(err).NotTo(HaveOccurred())
			conn, err := pgx.Connect(ctx, dsn)
			Expect(err).NotTo(HaveOccurred())
			var n int
			Expect(conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", pgtest.Config().Schema).Scan(&n)).To(Succeed())
			Expect(n > 0).To(Equal(migrated))
			Expect(conn.Close(ctx)).To(Succeed())
			Expect(drop(ctx)).To(Succeed())
		}
	})

	It("measures clone and reset", Label("measurement"), func(ctx SpecContext) {
		exp := gmeasure.NewExperiment("pgtest")
		AddReportEntry(exp.Name, exp)
		exp.RecordDuration("container start or ping", db.Timings.Server)
		exp.RecordDuration("template (first process: build)", db.Timings.Template)
		exp.RecordDuration("clone at provisioning", db.Timings.Clone)

		exp.SampleDuration("clone + drop", func(int) {
			start := time.Now()
			_, drop, err := db.TempDatabase(ctx, true)
			Expect(err).NotTo(HaveOccurred())
			exp.RecordDuration("clone", time.Since(start))
			Expect(drop(ctx)).To(Succeed())
		}, gmeasure.SamplingConfig{N: 5})

		exp.SampleDuration("reset after a commit", func(int) {
			store, err := pgtest.Backend(ctx)
			Expect(err).NotTo(HaveOccurred())
			writeSomething(ctx, store)
			start := time.Now()
			Expect(db.Reset(ctx)).To(Succeed())
			exp.RecordDuration("reset", time.Since(start))
		}, gmeasure.SamplingConfig{N: 20})
	})
})

// writeSomething commits one event with a unique key, and fills a view table
// (created with SQL, so that only pgtest is under test here).
func writeSomething(ctx context.Context, store es.EventStore) {
	GinkgoHelper()
	stream := uuid.MustParse("00000000-0000-0000-0000-00000000000a")
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := &es.Commit{
		Command: es.CommandRecord{ID: uuid.New(), Type: "pgtest.Do", Data: []byte(`{}`), Time: now},
		Streams: []es.StreamWrite{{
			StreamID: stream, StreamType: "pgtest.Thing",
			Events: []es.EventRecord{{ID: uuid.New(), StreamID: stream, StreamType: "pgtest.Thing", Version: 1,
				Type: "pgtest.Happened", Data: []byte(`{"n":1}`), Meta: es.Meta{Time: now}}},
			UniqueKeys: []es.UniqueKey{{Scope: "pgtest", Key: "a"}},
		}},
	}
	Expect(store.Commit(ctx, c, nil)).To(Succeed())
	pool, err := pgtest.Pool(ctx)
	Expect(err).NotTo(HaveOccurred())
	things := pgx.Identifier{pgtest.Config().ViewSchema, "pgtest_things"}.Sanitize()
	_, err = pool.Exec(ctx, "CREATE TABLE "+things+" (id uuid PRIMARY KEY, n bigint)")
	Expect(err).NotTo(HaveOccurred())
	_, err = pool.Exec(ctx, "INSERT INTO "+things+" VALUES ($1, 1)", stream)
	Expect(err).NotTo(HaveOccurred())
}

func tables(ctx context.Context, pool *pgxpool.Pool, schema string) []string {
	GinkgoHelper()
	rows, err := pool.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema)
	Expect(err).NotTo(HaveOccurred())
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	Expect(err).NotTo(HaveOccurred())
	return names
}

// rowCounts counts the rows of every pgstore table except migration ledgers.
func rowCounts(ctx context.Context, pool *pgxpool.Pool) map[string]int {
	GinkgoHelper()
	counts := map[string]int{}
	for _, t := range tables(ctx, pool, pgtest.Config().Schema) {
		if strings.Contains(t, "migration") {
			continue
		}
		var n int
		Expect(pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{pgtest.Config().Schema, t}.Sanitize()).Scan(&n)).To(Succeed())
		counts[t] = n
	}
	return counts
}
