package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))

func newCommand() es.CommandRecord {
	id := uuid.Must(uuid.NewV7())
	return es.CommandRecord{ID: id, Type: "test.Do", Data: []byte(`{"n": 1}`), Time: t0, UserID: "alice",
		CorrelationID: id, Metadata: map[string]string{"ip": "127.0.0.1"}}
}

// write returns n events of stream id (type "test.Thing") after version expected,
// recorded by cmd.
func write(cmd es.CommandRecord, id uuid.UUID, expected int64, n int) es.StreamWrite {
	w := es.StreamWrite{StreamID: id, StreamType: "test.Thing", ExpectedVersion: expected}
	for i := range n {
		v := expected + int64(i) + 1
		w.Events = append(w.Events, es.EventRecord{
			ID: uuid.Must(uuid.NewV7()), StreamID: id, StreamType: "test.Thing", Version: v,
			Type: "test.Happened", Schema: 1, Data: fmt.Appendf(nil, `{"n": %d, "s": "x"}`, v),
			Meta: es.Meta{Time: t0, CommandID: cmd.ID, CorrelationID: cmd.CorrelationID, CausationID: cmd.ID,
				UserID: cmd.UserID, Metadata: map[string]string{"k": "v"}},
		})
	}
	return w
}

// commitOf builds a commit of one command and the given writes, made with write.
func commitOf(writes ...func(es.CommandRecord) es.StreamWrite) *es.Commit {
	c := &es.Commit{Command: newCommand()}
	for _, w := range writes {
		c.Streams = append(c.Streams, w(c.Command))
	}
	return c
}

func stream(id uuid.UUID, expected int64, n int) func(es.CommandRecord) es.StreamWrite {
	return func(cmd es.CommandRecord) es.StreamWrite { return write(cmd, id, expected, n) }
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// startChild starts this test binary again as a child process that runs only
// the test named test, with the environment variable env set to value; the
// child is killed (if still running) when the spec ends. Kill specs use it.
func startChild(test, env, value string) *exec.Cmd {
	GinkgoHelper()
	child := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	child.Env = append(os.Environ(), env+"="+value)
	child.Stdout, child.Stderr = GinkgoWriter, GinkgoWriter
	Expect(child.Start()).To(Succeed())
	DeferCleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	return child
}

// childDSN is the test database's DSN with the connections named app, so
// that a spec can watch its child's connections (waitOpenTransaction).
func childDSN(db *pgtest.DB, app string) string {
	sep := "?"
	if strings.Contains(db.DSN, "?") {
		sep = "&"
	}
	return db.DSN + sep + "application_name=" + app
}

// waitOpenTransaction waits until a connection named app (childDSN) sits in a
// transaction that has written and not committed: the moment a kill spec
// kills its child. why says what that transaction is.
func waitOpenTransaction(ctx context.Context, db *pgtest.DB, app, why string) {
	GinkgoHelper()
	Eventually(ctx, func(ctx context.Context) (int, error) {
		var open int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND state = 'idle in transaction' AND backend_xid IS NOT NULL`, app).Scan(&open)
		return open, err
	}).WithPolling(time.Millisecond).Should(Equal(1), why)
}

// childStore is the start of a kill spec's child process (a Test function the
// spec runs with startChild): it skips the test unless env holds a DSN (why
// says whose process it is), and returns a context that ends within a minute
// (a child never outlives a lost parent by much) and a store on that database.
func childStore(t *testing.T, env, why string) (context.Context, *pgstore.Store) {
	dsn := os.Getenv(env)
	if dsn == "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store, err := pgstore.New(pool, pgtest.Config())
	if err != nil {
		t.Fatal(err)
	}
	return ctx, store
}
