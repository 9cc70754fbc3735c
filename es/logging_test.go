package es_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// logBuffer is a slog destination safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ = Describe("the command service's log", func() {
	It("logs each command at debug, without its payload, refusals at debug, and failures at error", func() {
		var buf logBuffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		w := newWorld(nil, es.Options{Logger: log})
		id := w.open("Ann", "secret@example.com")
		w.exec(Deposit{ID: id, Amount: 4242})
		Expect(w.svc.Execute(w.ctx, Deposit{ID: id, Amount: -1})).Error().NotTo(Succeed())

		out := buf.String()
		Expect(out).To(MatchRegexp(`level=DEBUG msg="command executed" command=bank.Deposit duration=\S+ id=\S+ events=1`))
		Expect(out).To(MatchRegexp(`level=DEBUG msg="command refused" command=bank.Deposit .*error=`))
		Expect(out).NotTo(ContainSubstring("4242"), "no payloads")
		Expect(out).NotTo(ContainSubstring("secret@example.com"), "no payloads")
	})

	It("says nothing below warn by default, and warns of a conflict it retries", func() {
		var buf logBuffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		r := es.NewRegistry()
		RegisterBank(r)
		store := &conflictOnce{EventStore: memstore.New()}
		svc, err := es.NewCommandService(context.Background(), r, store, es.Options{Logger: log, ConflictRetries: 1})
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.Execute(context.Background(), OpenAccount{ID: uuid.New(), Owner: "Ann", Email: "a@x"})).To(estest.Committed())
		Expect(buf.String()).NotTo(ContainSubstring("command executed"))
		Expect(buf.String()).To(MatchRegexp(`level=WARN msg="command conflict: running it again" command=bank.OpenAccount attempt=1 retries=1 error=`))
	})
})

// conflictOnce is a store whose first commit conflicts.
type conflictOnce struct {
	es.EventStore
	done bool
}

func (s *conflictOnce) Commit(ctx context.Context, c *es.Commit, inTx func(context.Context, es.Persistor) error) error {
	if !s.done {
		s.done = true
		return fmt.Errorf("test: %w", es.ErrConcurrencyConflict)
	}
	return s.EventStore.Commit(ctx, c, inTx)
}
