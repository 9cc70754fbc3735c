package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/consequent/consequent/pgstore"
	"github.com/consequent/consequent/pgstore/pgtest"
)

// result is what a run of a binary printed and how it exited.
type result struct {
	out, err string
	code     int
}

// environ is the specs' environment without the application's database
// variable and blogx's, so that only what a spec passes counts.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSEQUENT_DATABASE_URL=") && !strings.HasPrefix(kv, "BLOGX") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// command returns the command that runs bin with args, in environ(env...).
func command(ctx context.Context, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = environ(env...)
	return cmd
}

// run runs bin with args to its end.
func run(ctx context.Context, bin string, env []string, args ...string) result {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := command(ctx, bin, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		code = exit.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	fmt.Fprintf(GinkgoWriter, "$ %s %s\n%s%s(exit %d)\n", bin, strings.Join(args, " "), out.String(), errOut.String(), code)
	return result{out: out.String(), err: errOut.String(), code: code}
}

// blogCmd runs the blog on database dsn.
func blogCmd(ctx context.Context, dsn string, args ...string) result {
	GinkgoHelper()
	return run(ctx, blogBin, nil, append(args, "--database-url", dsn)...)
}

// succeeds requires a run to exit 0 with nothing on stderr, and returns its output.
func succeeds(r result) string {
	GinkgoHelper()
	Expect(r.code).To(Equal(0), "stderr: %s", r.err)
	return r.out
}

// failsWith requires a run to exit with code and print one line, msg, on stderr.
func failsWith(r result, code int, msg string) {
	GinkgoHelper()
	Expect(r.code).To(Equal(code), "stdout: %s\nstderr: %s", r.out, r.err)
	Expect(r.err).To(Equal(msg+"\n"), "one line on stderr")
	Expect(r.out).To(BeEmpty())
}

// newDatabase returns the DSN of a database of its own for the spec, dropped
// after it: with the event store migrated, or empty.
func newDatabase(ctx context.Context, migrated bool) string {
	GinkgoHelper()
	_, err := pgtest.Pool(ctx) // skips, or fails under make integration-test, without a server
	Expect(err).NotTo(HaveOccurred())
	db, err := pgtest.Open(ctx)
	Expect(err).NotTo(HaveOccurred())
	dsn, drop, err := db.TempDatabase(ctx, migrated)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(drop)
	return dsn
}

// history is what seed wrote.
type history struct {
	author uuid.UUID
	posts  []uuid.UUID // the first is published, then retitled
}

// pgxPool returns a pool on dsn, closed after the spec.
func pgxPool(ctx context.Context, dsn string) *pgxpool.Pool {
	GinkgoHelper()
	pool, err := pgxpool.New(ctx, dsn)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(pool.Close)
	return pool
}

// service returns a command service of the blog (version 1) on dsn.
func service(ctx context.Context, dsn string) *es.CommandService {
	GinkgoHelper()
	reg := es.NewRegistry()
	blog.Register(reg)
	store, err := pgstore.New(pgxPool(ctx, dsn), pgstore.Config{})
	Expect(err).NotTo(HaveOccurred())
	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(svc.Close)
	return svc
}

// seed deploys the blog's version 1 on dsn and gives it a history: an
// author, n posts by ben, the first published (its workflow queues a
// notification) and retitled.
func seed(ctx context.Context, dsn string, n int) history {
	GinkgoHelper()
	svc := service(ctx, dsn)
	h := history{author: uuid.Must(uuid.NewV7())}
	Expect(svc.Execute(ctx, blog.AddAuthor{AuthorID: h.author, Name: "Ben", Email: "ben@example.com"})).To(estest.Committed())
	for i := range n {
		id := uuid.Must(uuid.NewV7())
		Expect(svc.Execute(ctx, blog.AddPost{PostID: id, Author: "ben", Title: fmt.Sprintf("Post %d", i+1), Content: "Hello"},
			es.ByUser("ben"))).To(estest.Committed())
		h.posts = append(h.posts, id)
	}
	Expect(svc.Execute(ctx, blog.PublishPost{PostID: h.posts[0]}, es.ByUser("ben"))).To(estest.Committed())
	Expect(svc.Execute(ctx, blog.ChangePostTitle{PostID: h.posts[0], Title: "Hello, world"}, es.ByUser("ben"))).To(estest.Committed())
	settled(ctx, svc.Store())
	// The publication workflow is durable: a worker issues the notification.
	w, err := es.NewProjectionWorker(svc.Registry(), svc.Store(), es.WorkerOptions{Service: svc})
	Expect(err).NotTo(HaveOccurred())
	Expect(w.CatchUp(ctx)).To(Succeed())
	settled(ctx, svc.Store())
	return h
}

// settled waits until the log's readers see every committed event: a
// transaction in flight anywhere on the server holds its watermark back.
func settled(ctx context.Context, store es.EventStore) {
	GinkgoHelper()
	rms := store.(es.ReadModelStore)
	Eventually(ctx, func(ctx context.Context) (int64, error) {
		all, err := rms.CountLog(ctx, es.Cursor{}, nil, true)
		if err != nil {
			return -1, err
		}
		visible, err := rms.CountLog(ctx, es.Cursor{}, nil, false)
		return all - visible, err
	}).Should(BeZero())
}
