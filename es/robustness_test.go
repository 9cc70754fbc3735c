package es_test

import (
	"context"
	"errors"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type pointerValidated struct{ ID uuid.UUID }

func (*pointerValidated) Validate() error { return errors.New("never called") }

type Ping struct{ Note uuid.UUID }

type BigNumber struct {
	N    int64
	Note string
}

var _ = Describe("robustness", func() {
	It("turns a panicking projector into a *PanicError and stores nothing", func() {
		boom := es.NewProjector("boom", InlineCounts)
		es.Project(boom, func(context.Context, es.Persistor, es.Envelope, NoteLine) error { panic("projector bug") })
		n := newNotebook(es.WorkerOptions{}, boom)
		_, err := n.Svc.Execute(n.ctx, WriteLine{Note: uuid.New()})
		var p *es.PanicError
		Expect(errors.As(err, &p)).To(BeTrue(), "got %v", err)
		Expect(p.Value).To(Equal("projector bug"))
		log, _ := n.Store.ReadLog(n.ctx, es.Cursor{}, 0)
		Expect(log).To(BeEmpty())
	})

	It("turns a panicking workflow into a *WorkflowError after the commit", func() {
		n := newNotebook(es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		w := es.NewWorkflow("explodes")
		es.React(w, func(context.Context, *es.Reaction, es.Envelope, NoteLine) error { panic("workflow bug") })
		n.Reg.AddWorkflow(w)
		res, err := n.Svc.Execute(n.ctx, WriteLine{Note: uuid.New()})
		Expect(err).NotTo(HaveOccurred())
		err = res.Err()
		var we *es.WorkflowError
		Expect(errors.As(err, &we)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("workflow bug"))
		log, _ := n.Store.ReadLog(n.ctx, es.Cursor{}, 0)
		Expect(log).To(HaveLen(1), "the command's events are stored")
	})

	It("reports a panicking after-commit hook as committed all the same", func() {
		n := newNotebook(es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		n.Reg.AfterCommit(func(context.Context, []es.Envelope) { panic("hook bug") })
		var later int
		n.Reg.AfterCommit(func(context.Context, []es.Envelope) { later++ })
		res, err := n.Svc.Execute(n.ctx, WriteLine{Note: uuid.New()})
		Expect(err).NotTo(HaveOccurred(), "the command committed")
		Expect(res.Events).To(HaveLen(1))
		Expect(res.Failures).To(HaveLen(1))
		err = res.Failures[0]
		var ac *es.AfterCommitError
		Expect(errors.As(err, &ac)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("command test.WriteLine committed, but an after-commit hook failed: panic: hook bug"))
		Expect(later).To(Equal(1), "the other hooks ran")
		log, _ := n.Store.ReadLog(n.ctx, es.Cursor{}, 0)
		Expect(log).To(HaveLen(1), "the events are stored")
	})

	It("stops workflows that trigger each other forever with ErrCascadeLimit", func() {
		n := newNotebook(es.WorkerOptions{}, LineCounter("async", AsyncCounts, nil).Async())
		w := es.NewWorkflow("again")
		es.React(w, func(_ context.Context, r *es.Reaction, e es.Envelope, _ NoteLine) error {
			r.Execute(WriteLine{Note: e.StreamID})
			return nil
		})
		n.Reg.AddWorkflow(w)
		svc, err := es.NewCommandService(n.ctx, n.Reg, n.Store, es.Options{MaxCascade: 5})
		Expect(err).NotTo(HaveOccurred())
		res, err := svc.Execute(n.ctx, WriteLine{Note: uuid.New()})
		Expect(err).NotTo(HaveOccurred(), "the command committed")
		Expect(res.Err()).To(MatchError(es.ErrCascadeLimit))
		log, _ := n.Store.ReadLog(n.ctx, es.Cursor{}, 0)
		Expect(log).To(HaveLen(5))
	})

	It("keeps big integers exact through upcasters", func() {
		ctx := context.Background()
		reg := es.NewRegistry()
		note := es.RegisterAggregate(reg, "test.Note", func() *Note { return new(Note) })
		es.RegisterEvent[BigNumber](note, "test.BigNumber", func(f map[string]any) error { f["Note"] = "upcast"; return nil })
		store := memstore.New()
		svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
		Expect(err).NotTo(HaveOccurred())
		id := uuid.New()
		Expect(store.Commit(ctx, &es.Commit{Command: es.CommandRecord{ID: uuid.New(), Type: "legacy"}, Streams: []es.StreamWrite{{
			StreamID: id, StreamType: "test.Note", Events: []es.EventRecord{{ID: uuid.New(), StreamID: id, StreamType: "test.Note",
				Version: 1, Type: "test.BigNumber", Schema: 1, Data: []byte(`{"N": 9007199254740993}`)}},
		}}}, nil)).To(Succeed())
		history, err := svc.History(ctx, id)
		Expect(err).NotTo(HaveOccurred())
		Expect(history[0].Event).To(Equal(BigNumber{N: 9007199254740993, Note: "upcast"}))
	})

	It("refuses a Validate with a pointer receiver at registration", func() {
		reg := es.NewRegistry()
		es.Handle(reg, "test.PointerValidated", func(context.Context, *es.UnitOfWork, pointerValidated) error { return nil })
		_, err := es.NewCommandService(context.Background(), reg, memstore.New(), es.Options{})
		Expect(err).To(MatchError(ContainSubstring("Validate has a pointer receiver")))
	})
})
