package cli_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/pgstore/pgtest"
)

var _ = Describe("db", Label(pgtest.Label), func() {
	It("creates the database, migrates the event store and shows the migrations", func(ctx SpecContext) {
		dsn := newDatabase(ctx, false)
		By("dropping the spec's database, for db create to create it")
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		_, err = db.Pool.Exec(ctx, "DROP DATABASE "+databaseName(dsn))
		Expect(err).NotTo(HaveOccurred())
		failsWith(blogCmd(ctx, dsn, "db", "status"), 1,
			`blog: database "`+databaseName(dsn)+`" does not exist: create it with blog db create`)

		Expect(succeeds(blogCmd(ctx, dsn, "db", "create"))).To(Equal(`created database "` + databaseName(dsn) + `"` + "\n"))
		Expect(succeeds(blogCmd(ctx, dsn, "db", "create"))).To(Equal(`database "` + databaseName(dsn) + `" exists` + "\n"))

		status := succeeds(blogCmd(ctx, dsn, "db", "status"))
		Expect(status).To(ContainSubstring(fmt.Sprintf("migrations  0 applied, %d pending: run blog db migrate\n", migrationCount())))
		Expect(status).To(MatchRegexp(`(?m)^1\s+001_init.sql\s+pending$`))
		failsWith(blogCmd(ctx, dsn, "projections", "status"), 1,
			`blog: database "`+databaseName(dsn)+`" holds no event store: run blog db migrate`)

		var applied strings.Builder
		files, err := filepath.Glob("../pgstore/migrations/*.sql")
		Expect(err).NotTo(HaveOccurred())
		for _, f := range files {
			fmt.Fprintf(&applied, "applied %s\n", filepath.Base(f))
		}
		Expect(succeeds(blogCmd(ctx, dsn, "db", "migrate"))).To(Equal(applied.String() +
			`the event store in database "` + databaseName(dsn) + `" is up to date (` + fmt.Sprint(migrationCount()) + ` migrations)` + "\n"))
		Expect(succeeds(blogCmd(ctx, dsn, "db", "migrate"))).To(Equal(
			`the event store in database "` + databaseName(dsn) + `" is up to date (` + fmt.Sprint(migrationCount()) + ` migrations), nothing to apply` + "\n"))

		status = succeeds(blogCmd(ctx, dsn, "db", "status"))
		Expect(status).To(MatchRegexp(`^database    \S+ on \S+:\d+ \(PostgreSQL \d+\.\d+\)\n`))
		Expect(status).To(ContainSubstring(fmt.Sprintf("schemas     consequent (events), consequent_views (view tables)\nmigrations  %d applied, 0 pending\n", migrationCount())))
		Expect(status).To(MatchRegexp(`(?m)^5\s+005_read_models.sql\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`))

		var st struct {
			Database   string
			Applied    int
			Pending    int
			Migrations []struct {
				Version int
				Name    string
				Applied *string
			}
		}
		Expect(json.Unmarshal([]byte(succeeds(blogCmd(ctx, dsn, "db", "status", "--json"))), &st)).To(Succeed())
		Expect(st.Database).To(Equal(databaseName(dsn)))
		Expect([]int{st.Applied, st.Pending}).To(Equal([]int{migrationCount(), 0}))
		Expect(st.Migrations).To(HaveLen(migrationCount()))
		Expect(st.Migrations[0].Name).To(Equal("001_init.sql"))
		Expect(st.Migrations[4].Applied).NotTo(BeNil())
	})
})

// databaseName is the database a DSN (a URL, as pgtest makes them) names.
func databaseName(dsn string) string {
	GinkgoHelper()
	u, err := url.Parse(dsn)
	Expect(err).NotTo(HaveOccurred())
	return u.Path[1:]
}

// migrationCount is the number of pgstore's embedded migrations.
func migrationCount() int {
	files, err := filepath.Glob("../pgstore/migrations/*.sql")
	Expect(err).NotTo(HaveOccurred())
	return len(files)
}
