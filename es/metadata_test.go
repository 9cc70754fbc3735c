package es_test

import (
	"context"
	"log/slog"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("SetMetadata", func() {
	// stored returns the metadata of the command record and of each event of a stream.
	stored := func(w *world, id uuid.UUID) (command map[string]string, events []map[string]string) {
		GinkgoHelper()
		recs, err := w.store.LoadStream(w.ctx, id, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		for _, r := range recs {
			events = append(events, r.Metadata)
		}
		cmds, err := w.store.Commands(w.ctx, recs[len(recs)-1].CommandID)
		Expect(err).NotTo(HaveOccurred())
		Expect(cmds).To(HaveLen(1))
		return cmds[0].Metadata, events
	}

	It("lets middleware add metadata to the command record and its events, over WithMetadata's", func() {
		w := newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.Use(func(next es.HandlerFunc) es.HandlerFunc {
				return func(ctx context.Context, cmd any) error {
					Expect(es.SetMetadata(ctx, "traceparent", "00-abc-def-01")).To(BeTrue())
					Expect(es.SetMetadata(ctx, "tenant", "from middleware")).To(BeTrue())
					return next(ctx, cmd)
				}
			})
		})
		id := uuid.New()
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"}, es.WithMetadata("tenant", "acme"), es.WithMetadata("ip", "10.0.0.1"))

		want := map[string]string{"traceparent": "00-abc-def-01", "tenant": "from middleware", "ip": "10.0.0.1"}
		command, events := stored(w, id)
		Expect(command).To(Equal(want))
		Expect(events).To(Equal([]map[string]string{want}))
	})

	It("works from a handler too, and keeps what was set across a conflict's retry", func() {
		r := es.NewRegistry()
		RegisterBank(r)
		es.Handle(r, "test.Tagged", func(ctx context.Context, u *es.UnitOfWork, c tagged) error {
			es.SetMetadata(ctx, "handler", "was here")
			a, err := es.Create[*Account](ctx, u, c.ID)
			if err != nil {
				return err
			}
			return es.Record(a, AccountOpened{Owner: "Ann", Email: "ann@example.com"})
		})
		r.Use(func(next es.HandlerFunc) es.HandlerFunc {
			return func(ctx context.Context, cmd any) error {
				es.SetMetadata(ctx, "middleware", "too")
				err := next(ctx, cmd)
				es.SetMetadata(ctx, "after", "the commit: not stored")
				return err
			}
		})
		store := &conflictOnce{EventStore: newWorld(nil).store}
		svc, err := es.NewCommandService(context.Background(), r, store, es.Options{ConflictRetries: 1, Logger: slog.New(slog.DiscardHandler)})
		Expect(err).NotTo(HaveOccurred())
		id := uuid.New()
		Expect(svc.Execute(context.Background(), tagged{ID: id})).To(estest.Committed())
		recs, err := store.LoadStream(context.Background(), id, es.StreamQuery{})
		Expect(err).NotTo(HaveOccurred())
		Expect(recs).To(HaveLen(1))
		Expect(recs[0].Metadata).To(Equal(map[string]string{"handler": "was here", "middleware": "too"}))
	})

	It("gives commands that workflows issue their WithMetadata values, not those set with SetMetadata", func() {
		counter := uuid.New()
		w := newWorld(func(r *es.Registry) {
			RegisterBank(r)
			r.AddWorkflow(welcome(counter))
			r.Use(func(next es.HandlerFunc) es.HandlerFunc {
				return func(ctx context.Context, cmd any) error {
					if _, ok := cmd.(OpenAccount); ok {
						es.SetMetadata(ctx, "only", "the first command")
					}
					return next(ctx, cmd)
				}
			})
		})
		id := uuid.New()
		w.exec(OpenAccount{ID: id, Owner: "Ann", Email: "ann@example.com"}, es.WithMetadata("tenant", "acme"))
		_, events := stored(w, id)
		Expect(events).To(Equal([]map[string]string{
			{"tenant": "acme", "only": "the first command"},
			{"tenant": "acme"}, // the deposits the workflow issued
			{"tenant": "acme"},
		}))
	})

	It("stores nothing and says so outside a command's execution", func() {
		Expect(es.SetMetadata(context.Background(), "k", "v")).To(BeFalse())
	})
})

// tagged opens an account from a handler that sets metadata.
type tagged struct{ ID uuid.UUID }
