package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"strings"
)

// kind is something consequent generate makes.
type kind struct {
	name   string
	short  string
	fields bool // whether it takes fields
	plan   func(d *domain, name string, fields []field, opts genOptions) (*plan, error)
}

// genOptions are the flags of the generators.
type genOptions struct {
	aggregate string // the aggregate of an event
}

var kinds = []kind{
	{"aggregate", "an aggregate: its type, its registration and a spec to write", true, planAggregate},
	{"command", "a command: its type, a handler to write, its registration and a spec to write", true, planCommand},
	{"event", "an event of an aggregate: its type, its registration and a spec to write", true, planEvent},
	{"projector", "a projector and its view table: the row type, the table, the projector, its registration and a spec to write", true, planProjector},
	{"workflow", "a workflow: its constructor, its registration and a spec to write", false, planWorkflow},
}

const esPkg = consequentModule + "/es"

func planAggregate(d *domain, name string, fields []field, _ genOptions) (*plan, error) {
	for _, f := range fields {
		if token.IsKeyword(f.Var) {
			return nil, misuse("field %s: %s is a Go keyword; name the field otherwise", f.Key, f.Var)
		}
	}
	base := snake(name)
	data := typeData{
		Package: d.pkg, Name: name, Qualified: d.pkg + "." + name, Fields: fields,
		Imports: append([]string{esPkg}, fieldPackages(fields)...), Receiver: strings.ToLower(name[:1]),
	}
	command, event := "Add"+name, name+"Added"
	spec := specData{
		SpecFunc: unexported(name) + "Specs", Subject: "the " + name + " aggregate",
		Describe: name, It: "decides what happens to a " + name,
		Example: []string{
			fmt.Sprintf("spec := estest.New(%s.Register, estest.Options{Backend: backend})", d.pkg),
			fmt.Sprintf("spec.When(%s.%s{…}).Then(%s.%s{…})", d.pkg, command, d.pkg, event),
		},
		Message: fmt.Sprintf("%s has no spec yet: generate its first command and event "+
			"(consequent generate command %s %s_id:uuid; consequent generate event %s), "+
			"then write here, in %s, what %s decides: Given/When/Then",
			name, command, base, event, d.rel(base+"_test.go"), name),
	}
	p, err := newPlan(d, base, data, "aggregate.go.tmpl", spec)
	if err != nil {
		return nil, err
	}
	p.declares = []string{name}
	p.register = fmt.Sprintf("%s.RegisterAggregate(%s, %q, func() *%s { return new(%s) })",
		d.register.es, d.register.param, data.Qualified, name, name)
	p.registerAt, p.newGroup = calls(d.register.es, "RegisterAggregate", "RegisterEvent"), true
	return p, nil
}

func planCommand(d *domain, name string, fields []field, _ genOptions) (*plan, error) {
	base := snake(name)
	data := typeData{
		Package: d.pkg, Name: name, Qualified: d.pkg + "." + name, Fields: fields,
		File: d.rel(base + ".go"), Handler: "handle" + name,
		Imports: append([]string{"context", "errors", esPkg}, fieldPackages(fields)...),
	}
	spec := specData{
		SpecFunc: unexported(name) + "Specs", Subject: "the " + name + " command",
		Describe: name, It: "records the events of " + name,
		Example: []string{
			fmt.Sprintf("spec := estest.New(%s.Register, estest.Options{Backend: backend})", d.pkg),
			fmt.Sprintf("spec.Given(id, the events before…).When(%s{…}).Then(the events it records…)", data.Qualified),
		},
		Message: fmt.Sprintf("%s has no spec yet: write one here, in %s: Given(the events before), "+
			"When(%s{…}), Then(the events it records); then make it pass in %s (%s)",
			name, d.rel(base+"_test.go"), data.Qualified, data.Handler, data.File),
	}
	p, err := newPlan(d, base, data, "command.go.tmpl", spec)
	if err != nil {
		return nil, err
	}
	p.declares = []string{name, data.Handler}
	p.register = fmt.Sprintf("%s.Handle(%s, %q, %s)", d.register.es, d.register.param, data.Qualified, data.Handler)
	p.registerAt = calls(d.register.es, "Handle")
	return p, nil
}

func planEvent(d *domain, name string, fields []field, opts genOptions) (*plan, error) {
	agg, err := eventAggregate(d, name, opts.aggregate)
	if err != nil {
		return nil, err
	}
	base := snake(name)
	data := typeData{
		Package: d.pkg, Name: name, Qualified: d.pkg + "." + name, Fields: fields,
		Aggregate: agg.typeName, Imports: fieldPackages(fields),
	}
	spec := specData{
		SpecFunc: unexported(name) + "Specs", Subject: "the " + name + " event",
		Describe: name, It: "is recorded by a command of " + agg.typeName,
		Example: []string{
			fmt.Sprintf("spec := estest.New(%s.Register, estest.Options{Backend: backend})", d.pkg),
			fmt.Sprintf("spec.Given(id, the events before…).When(the command that records it).Then(%s{…})", data.Qualified),
		},
		Message: fmt.Sprintf("%s has no spec yet: write one here, in %s: When(the command that records it), "+
			"Then(%s{…}); then record it with es.Record in a method of %s, and apply it in %s.On",
			name, d.rel(base+"_test.go"), data.Qualified, agg.typeName, agg.typeName),
	}
	p, err := newPlan(d, base, data, "event.go.tmpl", spec)
	if err != nil {
		return nil, err
	}
	p.declares = []string{name}
	variable := agg.variable
	if _, assigned := agg.stmt.(*ast.AssignStmt); assigned && variable == "" {
		return nil, failure("%s: keep the registration of %s in a variable (x := es.RegisterAggregate(…)) to register its events",
			d.relPath(d.register.file), agg.typeName)
	}
	if variable == "" { // keep the aggregate's registration: task := es.RegisterAggregate(…)
		variable = unexported(agg.typeName)
		if token.IsKeyword(variable) || variable == d.register.param || variable == d.register.es {
			variable += "Type"
		}
		p.extra = append(p.extra, insertion{offset: d.register.offset(agg.stmt.Pos()), text: variable + " := "})
	}
	p.register = fmt.Sprintf("%s.RegisterEvent[%s](%s, %q)", d.register.es, name, variable, data.Qualified)
	p.registerAt = func(s ast.Stmt) bool { return s == agg.stmt || mentions(variable)(s) }
	return p, nil
}

// eventAggregate is the aggregate an event belongs to: the one named, else the
// one whose name starts the event's (TaskArchived: Task), else the only one.
func eventAggregate(d *domain, event, named string) (registeredAggregate, error) {
	aggs := d.register.aggregates()
	var names []string
	for _, a := range aggs {
		names = append(names, a.typeName)
	}
	if named != "" {
		for _, a := range aggs {
			if a.typeName == exported(named) {
				return a, nil
			}
		}
		return registeredAggregate{}, failure("aggregate %s is not registered in %s (registered: %s)",
			named, d.relPath(d.register.file), strings.Join(names, ", "))
	}
	var best registeredAggregate
	for _, a := range aggs {
		if strings.HasPrefix(event, a.typeName) && len(a.typeName) > len(best.typeName) {
			best = a
		}
	}
	switch {
	case best.typeName != "":
		return best, nil
	case len(aggs) == 1:
		return aggs[0], nil
	case len(aggs) == 0:
		return best, failure("%s registers no aggregate for %s: generate one first (consequent generate aggregate NAME)",
			d.relPath(d.register.file), event)
	}
	return best, misuse("which aggregate records %s? name it: --aggregate %s", event, strings.Join(names, "|"))
}

func planProjector(d *domain, name string, fields []field, _ genOptions) (*plan, error) {
	name = strings.TrimSuffix(name, "Projector")
	for _, f := range fields {
		if f.Key == "aggregate_id" {
			return nil, misuse("field %s: every row has aggregate_id already", f.Key)
		}
	}
	base := snake(name) + "_projector"
	data := typeData{
		Package: d.pkg, Name: name, Fields: fields,
		Record: name + "Record", Records: name + "Records", Table: snake(name) + "_records",
		Constructor: "New" + name + "Projector", ProjectorName: base,
		Imports: append([]string{esPkg, "github.com/google/uuid"}, fieldPackages(fields)...),
	}
	data.Qualified = d.pkg + "." + data.Constructor
	data.File = d.rel(base + ".go")
	spec := specData{
		SpecFunc: unexported(name) + "ProjectorSpecs", Subject: "the " + name + " projector",
		Describe: name + "Projector", It: "keeps " + data.Table,
		Example: []string{
			fmt.Sprintf("rows := projectortest.New(%s.Register, %s(), projectortest.Options{Backend: backend, ReplayTwice: true})",
				d.pkg, data.Qualified),
			fmt.Sprintf("rows.Given(id, the events it handles…).ThenRecords(%s.%s, %s.%s{…})", d.pkg, data.Records, d.pkg, data.Record),
		},
		Message: fmt.Sprintf("the %s projector has no spec yet: write one here, in %s: Given(id, the events it handles), "+
			"ThenRecords(%s.%s, %s.%s{…}); then handle each event with es.Project in %s (%s)",
			name, d.rel(base+"_test.go"), d.pkg, data.Records, d.pkg, data.Record, data.Constructor, data.File),
	}
	p, err := newPlan(d, base, data, "projector.go.tmpl", spec)
	if err != nil {
		return nil, err
	}
	p.declares = []string{data.Record, data.Records, data.Constructor}
	p.register = fmt.Sprintf("%s.AddProjector(%s())", d.register.param, data.Constructor)
	p.registerAt, p.newGroup = calls(d.register.param, "AddProjector"), false
	return p, nil
}

func planWorkflow(d *domain, name string, _ []field, _ genOptions) (*plan, error) {
	name = strings.TrimSuffix(name, "Workflow")
	base := snake(name) + "_workflow"
	data := typeData{
		Package: d.pkg, Name: name, Constructor: "New" + name + "Workflow", WorkflowName: snake(name),
	}
	data.Qualified = d.pkg + "." + data.Constructor
	data.File = d.rel(base + ".go")
	spec := specData{
		SpecFunc: unexported(name) + "WorkflowSpecs", Subject: "the " + name + " workflow",
		Describe: "the " + data.WorkflowName + " workflow", It: "reacts to an event with commands",
		Example: []string{
			fmt.Sprintf("spec := estest.New(%s.Register, estest.Options{Backend: backend})", d.pkg),
			"spec.Given(id, the history…).WhenEvent(id, the event it reacts to).ThenCommands(the commands it issues…)",
		},
		Message: fmt.Sprintf("the %s workflow has no spec yet: write one here, in %s: WhenEvent(id, the event it reacts to), "+
			"ThenCommands(the commands it issues); then react with es.React in %s (%s)",
			name, d.rel(base+"_test.go"), data.Constructor, data.File),
	}
	p, err := newPlan(d, base, data, "workflow.go.tmpl", spec)
	if err != nil {
		return nil, err
	}
	p.declares = []string{data.Constructor}
	p.register = fmt.Sprintf("%s.AddWorkflow(%s())", d.register.param, data.Constructor)
	p.registerAt = calls(d.register.param, "AddWorkflow")
	return p, nil
}
