package es_test

import (
	"context"
	"fmt"
	goruntime "runtime"
	"strings"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/consequent/consequent/memstore"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// plain is an aggregate that cannot snapshot.
type plain struct{ es.AggregateRoot }

func (*plain) On(any) {}

type plainHappened struct{}
type notAStruct int

var _ = Describe("Registry", func() {
	var (
		ctx context.Context
		r   *es.Registry
	)
	BeforeEach(func() {
		ctx = context.Background()
		r = es.NewRegistry()
	})
	build := func() error {
		_, err := es.NewCommandService(ctx, r, memstore.New(), es.Options{})
		return err
	}

	It("accepts a correct registration", func() {
		RegisterBank(r)
		Expect(r.Err()).NotTo(HaveOccurred())
		Expect(build()).To(Succeed())
	})

	It("names events, aggregates and commands by their registered names", func() {
		RegisterBank(r)
		name, ok := r.EventName(Deposited{})
		Expect(ok).To(BeTrue())
		Expect(name).To(Equal("bank.Deposited"))
		_, ok = r.EventName(&Deposited{})
		Expect(ok).To(BeFalse())
		agg, ok := r.AggregateOf(Incremented{})
		Expect(ok).To(BeTrue())
		Expect(agg.Name()).To(Equal("bank.Counter"))
		cmd, ok := r.CommandName(Transfer{})
		Expect(ok).To(BeTrue())
		Expect(cmd).To(Equal("bank.Transfer"))
		_, ok = r.CommandName(struct{}{})
		Expect(ok).To(BeFalse())
	})

	It("reports every mistake at once, each with its fix", func() {
		a := es.RegisterAggregate(r, "p", func() *plain { return new(plain) })
		es.RegisterAggregate(r, "p", func() *Counter { return new(Counter) })
		es.RegisterEvent[plainHappened](a, "p.Happened")
		es.RegisterEvent[Deposited](a, "p.Happened")
		es.RegisterEvent[plainHappened](a, "p.Other")
		es.RegisterEvent[notAStruct](a, "p.NotAStruct")
		es.Handle(r, "p.Do", func(context.Context, *es.UnitOfWork, Deposit) error { return nil })
		es.Handle(r, "p.Do2", func(context.Context, *es.UnitOfWork, Deposit) error { return nil })
		es.Handle(r, "p.Do", func(context.Context, *es.UnitOfWork, Withdraw) error { return nil })
		es.Handle(r, "", func(context.Context, *es.UnitOfWork, Transfer) error { return nil })

		err := build()
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(SatisfyAll(
			ContainSubstring(`aggregate name "p" registered twice`),
			ContainSubstring("give each type its own name"),
			ContainSubstring(`event name "p.Happened" registered twice`),
			ContainSubstring(`event type es_test.plainHappened registered twice (as "p.Happened" and "p.Other")`),
			ContainSubstring("events must be struct types"),
			ContainSubstring("a second handler for command testdomain.Deposit"),
			ContainSubstring("merge them"),
			ContainSubstring(`command name "p.Do" registered twice`),
			ContainSubstring("Handle[testdomain.Transfer]: empty command name"),
		))
	})

	It("names the file and line of the registration call, says to remove an exact duplicate, and reports no knock-on mistakes", func() {
		a := es.RegisterAggregate(r, "p", func() *plain { return new(plain) })
		es.RegisterEvent[plainHappened](a, "p.Happened")
		_, _, line, _ := goruntime.Caller(0)
		es.RegisterEvent[plainHappened](a, "p.Happened") // the line after Caller's
		es.RegisterEvent[notAStruct](a, "p.NotAStruct")
		p := es.NewProjector("knock-on")
		es.Project(p, func(context.Context, es.Persistor, es.Envelope, notAStruct) error { return nil })
		r.AddProjector(p)

		err := build()
		Expect(err).To(HaveOccurred())
		Expect(strings.Split(err.Error(), "\n")).To(ConsistOf(
			fmt.Sprintf(`es: es/registry_test.go:%d: event es_test.plainHappened ("p.Happened") registered twice: remove the second RegisterEvent`, line+1),
			fmt.Sprintf(`es: es/registry_test.go:%d: RegisterEvent[es_test.notAStruct]: events must be struct types`, line+2),
		), "the projector of the rejected type is no second mistake")
	})

	It("reports a projector that handles an unregistered event", func() {
		RegisterBank(r)
		p := es.NewProjector("stray")
		es.Project(p, func(context.Context, es.Persistor, es.Envelope, plainHappened) error { return nil })
		r.AddProjector(p)
		Expect(build()).To(MatchError(ContainSubstring(
			`projector "stray" handles es_test.plainHappened, which is not a registered event: register it with es.RegisterEvent`)))
	})

	It("reports a workflow that reacts to an unregistered event", func() {
		RegisterBank(r)
		w := es.NewWorkflow("stray")
		es.React(w, func(context.Context, *es.Reaction, es.Envelope, plainHappened) error { return nil })
		r.AddWorkflow(w)
		Expect(build()).To(MatchError(ContainSubstring(
			`workflow "stray" reacts to es_test.plainHappened, which is not a registered event: register it with es.RegisterEvent`)))
	})

	It("reports a projector or workflow registered twice", func() {
		RegisterBank(r)
		r.AddProjector(es.NewProjector("twice"))
		r.AddProjector(es.NewProjector("twice"))
		r.AddWorkflow(es.NewWorkflow("twice"))
		r.AddWorkflow(es.NewWorkflow("twice"))
		err := build()
		Expect(err).To(MatchError(ContainSubstring(`projector "twice" registered twice`)))
		Expect(err).To(MatchError(ContainSubstring(`workflow "twice" registered twice`)))
	})

	It("reports SnapshotEvery on an aggregate that is not a Snapshotter", func() {
		es.RegisterAggregate(r, "p", func() *plain { return new(plain) }, es.SnapshotEvery(10, 1))
		Expect(build()).To(MatchError(ContainSubstring(
			"aggregate p uses SnapshotEvery but *es_test.plain does not implement es.Snapshotter")))
	})

	It("reports each mistake once, however often a service is built from the registry", func() {
		RegisterBank(r)
		p := es.NewProjector("stray")
		es.Project(p, func(context.Context, es.Persistor, es.Envelope, plainHappened) error { return nil })
		r.AddProjector(p)
		Expect(build()).To(HaveOccurred())
		err := build()
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(Equal(`es: projector "stray" handles es_test.plainHappened, which is not a registered event: register it with es.RegisterEvent`))
	})

	It("refuses to execute a command without a handler, naming the fix", func() {
		w := newWorld(nil)
		_, err := w.svc.Execute(w.ctx, struct{ X int }{})
		Expect(err).To(MatchError(es.ErrNoHandler))
		Expect(err).To(MatchError(ContainSubstring("register one with es.Handle")))
	})
})
