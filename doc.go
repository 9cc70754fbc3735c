// Package consequent is the root of Consequent, a CQRS and Event Sourcing framework
// for Go in the spirit of Sequent: commands are validated and handled, aggregates
// decide and record events, events are the source of truth, projectors keep read
// tables up to date, and workflows react to events.
//
// The root package holds no code, only this overview and the acceptance suite that
// drives the example blog end to end. The packages are:
//
//   - [github.com/consequent/consequent/es]: the contracts and the runtime — events,
//     commands, aggregates, the unit of work, the command service, projectors,
//     workflows and the EventStore interface.
//   - github.com/consequent/consequent/memstore: the in-memory event store and view
//     tables, for specs and prototypes.
//   - github.com/consequent/consequent/pgstore: the PostgreSQL event store.
//   - github.com/consequent/consequent/estest: Given/When/Then specs for command
//     handlers and workflows, on any backend.
//   - github.com/consequent/consequent/projectortest: projector specs: given events,
//     then rows.
//   - github.com/consequent/consequent/cmd/consequent: the consequent command, which
//     writes a new project (consequent new) and adds types to it (consequent generate).
//   - github.com/consequent/consequent/examples/blog: Sequent's blog, in Go, served
//     over HTTP: the tutorial.
//
// Start with the README, then the blog's specs.
package consequent
