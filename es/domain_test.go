package es_test

import (
	"context"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The specs' world: the test domain's bank (package internal/testdomain) on a
// memory store.

// testStart is where the specs' manual clocks start.
var testStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// world is one store and one command service with deterministic time and ids.
type world struct {
	ctx   context.Context
	store *memstore.Store
	svc   *es.CommandService
	clock *es.ManualClock
	ids   *es.SequentialIDs
}

// newWorld builds a service on a fresh memory store; register defaults to
// RegisterBank, and opts' Clock and IDs are set unless given.
func newWorld(register func(*es.Registry), opts ...es.Options) *world {
	GinkgoHelper()
	if register == nil {
		register = RegisterBank
	}
	var o es.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	w := &world{ctx: context.Background(), store: memstore.New(), clock: es.NewManualClock(testStart), ids: &es.SequentialIDs{}}
	if o.Clock == nil {
		o.Clock = w.clock
	}
	if o.IDs == nil {
		o.IDs = w.ids
	}
	r := es.NewRegistry()
	register(r)
	svc, err := es.NewCommandService(w.ctx, r, w.store, o)
	Expect(err).NotTo(HaveOccurred())
	w.svc = svc
	return w
}

// exec executes cmd and requires success.
func (w *world) exec(cmd any, opts ...es.ExecOption) {
	GinkgoHelper()
	Expect(w.svc.Execute(w.ctx, cmd, opts...)).To(estest.Committed())
}

// open opens an account and returns its id.
func (w *world) open(owner, email string) uuid.UUID {
	GinkgoHelper()
	id := uuid.New()
	w.exec(OpenAccount{ID: id, Owner: owner, Email: email})
	return id
}

// events returns the decoded payloads of a stream, oldest first.
func (w *world) events(id uuid.UUID) []any {
	GinkgoHelper()
	envs, err := w.svc.History(w.ctx, id)
	Expect(err).NotTo(HaveOccurred())
	out := make([]any, 0, len(envs))
	for _, e := range envs {
		out = append(out, e.Event)
	}
	return out
}

// log returns every event in the store's global log.
func (w *world) log() []es.EventRecord {
	GinkgoHelper()
	recs, err := w.store.ReadLog(w.ctx, es.Cursor{}, 0)
	Expect(err).NotTo(HaveOccurred())
	return recs
}

// account loads an account as of now, outside any unit of work.
func (w *world) account(id uuid.UUID) *Account {
	GinkgoHelper()
	a, err := es.Get[*Account](w.ctx, w.svc, id)
	Expect(err).NotTo(HaveOccurred())
	return a
}
