package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"os"
	"path/filepath"
	"slices"
)

// plan is everything one generate run writes, worked out before anything is
// written: new files, and a statement each for Register and for the suite.
type plan struct {
	subject  string   // what it generates, for messages: todo.ArchiveTask
	declares []string // the package-level names of the new type's file
	typeFile genFile
	specFile genFile
	specFunc string

	register   string // the statement to add to Register
	registerAt func(ast.Stmt) bool
	newGroup   bool        // a blank line before it
	extra      []insertion // further insertions into Register's file
}

// genFile is a file to create.
type genFile struct {
	path    string // absolute
	content []byte
}

// typeData is what the templates of generated types see.
type typeData struct {
	Package, Name, Qualified, File string
	Fields                         []field
	Imports                        []string
	Receiver, Handler, Aggregate   string
	Record, Records, Table         string
	Constructor, ProjectorName     string
	WorkflowName                   string
}

// specData is what the template of a spec skeleton sees.
type specData struct {
	Package, SpecFunc, Subject, Describe, It, Message string
	Example                                           []string
}

// newPlan renders the type's file and its spec into d's directory, at base.go and
// base_test.go.
func newPlan(d *domain, base string, data typeData, tmpl string, spec specData) (*plan, error) {
	p := &plan{subject: data.Qualified, specFunc: spec.SpecFunc}
	p.typeFile.path = filepath.Join(d.dir, base+".go")
	p.specFile.path = filepath.Join(d.dir, base+"_test.go")
	var err error
	if p.typeFile.content, err = render("generate/"+tmpl, data); err != nil {
		return nil, err
	}
	spec.Package = d.pkg
	if p.specFile.content, err = render("generate/spec_test.go.tmpl", spec); err != nil {
		return nil, err
	}
	return p, nil
}

// state is how much of a plan is in the project already.
type state int

const (
	absent   state = iota // none of it: generate it
	complete              // all of it, as generated: nothing to do
	conflict              // something else by its name: refuse
)

// check compares p with the project: complete when every file is there as p
// would write it and its statements are in Register and the suite; conflict,
// with the reason, when any of its names or files exists otherwise.
func (p *plan) check(d *domain) (state, string) {
	missing, differ := false, ""
	for _, f := range []genFile{p.typeFile, p.specFile} {
		old, err := os.ReadFile(f.path)
		switch {
		case err != nil:
			missing = true
		case !bytes.Equal(old, f.content):
			differ = d.relPath(f.path)
		}
	}
	if !missing && differ == "" && d.register.has(p.register) && d.suite.has(p.specCall(d)) {
		return complete, ""
	}
	for _, n := range p.declares {
		if file, ok := d.names[n]; ok {
			return conflict, fmt.Sprintf("%s.%s exists already, in %s", d.pkg, n, d.relPath(file))
		}
	}
	if file, ok := d.specs[p.specFunc]; ok {
		return conflict, fmt.Sprintf("%s exists already, in %s", p.specFunc, d.relPath(file))
	}
	if differ != "" {
		return conflict, differ + " exists already"
	}
	if d.register.has(p.register) {
		return conflict, fmt.Sprintf("%s registers it already", d.relPath(d.register.file))
	}
	return absent, ""
}

func (p *plan) specCall(d *domain) string {
	return p.specFunc + "(" + d.suite.param + ")"
}

// edits returns the new contents of Register's file and of the suite's file.
func (p *plan) edits(d *domain) (register, suite []byte, err error) {
	ins := append(slices.Clone(p.extra), d.register.add(p.register, p.registerAt, p.newGroup))
	if register, err = apply(d.register.src, ins...); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.register.file, err)
	}
	anyStmt := func(ast.Stmt) bool { return true }
	if suite, err = apply(d.suite.src, d.suite.add(p.specCall(d), anyStmt, false)); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.suite.file, err)
	}
	return register, suite, nil
}

// relPath is the path of a file of d's project, as messages show it: relative
// to the root, with slashes.
func (d *domain) relPath(abs string) string {
	return filepath.ToSlash(relTo(d.root, abs))
}

// rel is the path of file name in d's directory, as messages show it.
func (d *domain) rel(name string) string {
	return d.relPath(filepath.Join(d.dir, name))
}
