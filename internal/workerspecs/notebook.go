// Package workerspecs holds the projection worker's specs, written once and run
// on each store: memstore's from package es, pgstore's from package pgstore.
// Specs that only one store can run (a watermark held back on purpose, a worker
// process killed) stay with that store.
//
// Its Notebook, the notebook of package testdomain on a store with a worker, is
// the fixture of those specs and of the stores' own.
package workerspecs

import (
	"context"
	"log/slog"

	"github.com/consequent/consequent/es"
	. "github.com/consequent/consequent/internal/testdomain"
	"github.com/google/uuid"
	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Notebook is the notebook on a store: an inline line counter into
// InlineCounts, the given projectors, and a projection worker built before the
// command service (it wakes on the service's commits).
type Notebook[S es.ProjectionStore] struct {
	Reg    *es.Registry
	Store  S
	Svc    *es.CommandService
	Worker *es.ProjectionWorker
}

// NewNotebook builds a notebook on store; the worker and the service log nowhere
// unless opts give the worker a Logger.
func NewNotebook[S es.ProjectionStore](ctx context.Context, store S, opts es.WorkerOptions, projectors ...*es.Projector) *Notebook[S] {
	ginkgo.GinkgoHelper()
	n := &Notebook[S]{Reg: es.NewRegistry(), Store: store}
	RegisterNotes(n.Reg)
	n.Reg.AddProjector(LineCounter("inline", InlineCounts, nil))
	for _, p := range projectors {
		n.Reg.AddProjector(p)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	n.Worker, err = es.NewProjectionWorker(n.Reg, n.Store, opts)
	Expect(err).NotTo(HaveOccurred())
	n.Svc, err = es.NewCommandService(ctx, n.Reg, n.Store, es.Options{ConflictRetries: 100, Logger: opts.Logger})
	Expect(err).NotTo(HaveOccurred())
	return n
}

// Write writes lines lines to note, one command each.
func (n *Notebook[S]) Write(ctx context.Context, note uuid.UUID, lines int) {
	ginkgo.GinkgoHelper()
	for i := range lines {
		Expect(committed(n.Svc.Execute(ctx, WriteLine{Note: note, N: i}))).To(Succeed())
	}
}

// Counts returns the rows of the counter table t.
func (n *Notebook[S]) Counts(ctx context.Context, t *es.Table[LineCount]) []LineCount {
	ginkgo.GinkgoHelper()
	rows, err := t.Find(ctx, n.Store.Views(), nil)
	Expect(err).NotTo(HaveOccurred())
	return rows
}

// Readable waits until the log shows events events. A worker reads the log below
// its watermark, which on PostgreSQL any transaction in flight on the server
// holds back for a while; once the events show, one CatchUp applies them all.
func (n *Notebook[S]) Readable(ctx context.Context, events int) {
	ginkgo.GinkgoHelper()
	Eventually(func() ([]es.EventRecord, error) { return n.Store.ReadLog(ctx, es.Cursor{}, 0) }).Should(HaveLen(events))
}

// committed is the error of an Execute that did not commit, or of what failed
// after its commit: nil when the command and everything after it succeeded.
func committed(res *es.Result, err error) error {
	if err != nil {
		return err
	}
	return res.Err()
}
