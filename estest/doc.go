// Package estest is Consequent's Given/When/Then harness: specs for command
// handlers and workflows that run the application's real command service, built
// from its own registration function, on the in-memory store (package memstore)
// or on PostgreSQL.
//
// # Command specs
//
// A [Fixture] is made once per application; each spec starts a [Scenario]:
//
//	var blogSpec = estest.New(blog.Register)
//
//	It("refuses to publish twice", func() {
//		blogSpec.Given(postID, blog.PostAdded{}, blog.PostPublished{}).
//			When(blog.PublishPost{PostID: postID}).
//			ThenFails(blog.ErrAlreadyPublished)
//	})
//
// Given stores history as if the aggregate had recorded it (the stream's type
// follows from the events' registration; unique keys are claimed and inline
// projectors run). When executes the command: validation, handler, unique keys,
// commit and projectors all take part. Then compares the events the command
// stored, read back from the store, with the expected ones: payloads, in order,
// exactly, every field. Envelope fields (ids, versions, positions, times) are
// ignored. Any expected item may instead be a Gomega matcher, given the event
// value, for partial checks; [EventLike] compares all fields but some.
//
// [Scenario.ThenFails] takes a sentinel error (errors.Is), a message fragment or a
// matcher; [Invalid] matches validation errors by field. [Scenario.ThenNoEvents]
// checks a command that changes nothing.
//
// As with [es.CommandService.Execute], a command fails only when it stored
// nothing. What fails after it committed (a workflow, a command a workflow
// issued, an after-commit hook) is a follow-up failure: Then and ThenFails
// report it, naming it, unless [Scenario.ThenFollowUpFails] expects it, after
// which Then checks the events stored. [Committed] matches Execute's result
// outside scenarios.
//
// # Failure output
//
// A failing Then prints what was given, the command and a table of expected and
// actual events, then every differing field as "Field: expected X, actual Y", and a
// footer naming what was ignored:
//
//	Given:
//	  stream 00000000-0000-0000-0000-000000000001 (bank.Account)
//	    1 bank.AccountOpened {"Owner":"ann"}
//	When:
//	  bank.Deposit {"ID":"00000000-0000-0000-0000-000000000001","Amount":100}
//	Then: the events differ:
//	  #  expected             actual
//	  1  bank.MoneyDeposited  bank.MoneyDeposited  differs
//	  2  bank.MoneyWithdrawn  (none)               missing
//
//	  event 1, bank.MoneyDeposited:
//	    Amount: expected 1000, actual 100
//
// When the command failed, its error is printed instead of the table.
//
// # Workflow specs
//
// [Scenario.WhenEvent] stores an event and runs the application's workflows on it;
// [Scenario.ThenCommands] checks the commands they issued, which are not executed.
// [Scenario.AdvanceClock] moves the scenario's clock, which workflows read through
// their [es.Reaction]. To see a workflow's commands executed, set
// [Options.Workflows]: Then then sees their events too. Durable workflows are
// driven by a worker to the end of the log after each command (never over the
// history Given stored); [Options.WorkflowMode] runs every workflow
// synchronously or durably, so that one set of specs checks both modes.
//
// # Scheduled commands
//
// [Scenario.ThenScheduled] checks the commands pending once the When command
// ran, in due order: [At] for a time and a command, a command value, or a
// matcher. [Scenario.AdvanceClock] runs those that came due: before When their
// events are history, after it Then sees them.
//
//	blogSpec.When(blog.AddPost{PostID: id, …}).
//		ThenScheduled(estest.At(estest.DefaultStart().Add(7*24*time.Hour), blog.RemindAuthor{PostID: id}))
//
// # Runners and backends
//
// Failures go to Ginkgo through Gomega's default fail handler; under plain go test
// use [Fixture.WithT]. Failures point at the spec's own line. Each scenario has its
// own store from [Options.Backend] ([Memory] by default), a manual clock starting
// at [DefaultStart] and sequential ids, so specs are deterministic and can run in
// parallel. A store that implements io.Closer (a database made for the
// scenario) is closed when the spec ends; see [Backend]. Write spec bodies in a function of the backend to run them on both:
//
//	func blogSpecs(backend estest.Backend) { … estest.New(blog.Register, estest.Options{Backend: backend}) … }
//
// # Conformance
//
// [TestEventStore] checks any [es.EventStore], its views included, against the
// contract; the in-memory store ([memstore.Store]) and pgstore both pass it.
//
// estest is not meant for dot-import (Ginkgo already exports When).
package estest
