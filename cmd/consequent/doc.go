// Command consequent starts and grows applications built with Consequent.
//
// Install it with
//
//	go install github.com/consequent/consequent/cmd/consequent@latest
//
// or run it from a checkout of Consequent with go run ./cmd/consequent.
//
// # New projects
//
//	consequent new NAME [--module PATH] [--consequent-path DIR]
//
// writes the directory NAME: a to-do list service (package todo: the Task
// aggregate, its commands, events, the task_records projector and a workflow),
// Given/When/Then and projector specs that run on the in-memory store and, under
// the label "integration", on PostgreSQL, a small HTTP service, a Makefile and a
// README. `make test` passes at once. The module path is NAME unless --module says
// otherwise; --consequent-path points go.mod at a checkout of Consequent (a
// replace directive), to work on both or offline.
//
// # Generators
//
//	consequent generate aggregate|command|event|projector|workflow NAME [field:type…]
//
// runs inside such a project (it finds the root by go.mod, and the domain package
// by its func Register(reg *es.Registry)). It adds the type in a file of its own,
// its line in Register, and a spec that fails with what to write next, and prints
// every file it created or changed. Fields such as title:string count:int due:time
// id:uuid become struct fields with json tags (an aggregate's are unexported state
// fields; a projector's are its rows' columns). It never overwrites: a type or file
// that exists is refused, unless it is exactly what the same command generated
// before ("exists, nothing changed").
//
// # Exit codes
//
// 0 on success, 2 for misuse (an unknown command, a wrong argument or flag, run
// outside a project), 1 when the work could not be done (a type exists already, a
// file could not be written). Errors are one line on standard error.
package main

//go:generate cp ../../go.mod templates/deps/consequent.mod
//go:generate cp ../../go.sum templates/deps/consequent.sum
//go:generate sh needed_deps.sh
