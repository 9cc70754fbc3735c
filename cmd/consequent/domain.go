package main

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	esImport     = consequentModule + "/es"
	estestImport = consequentModule + "/estest"
)

// domain is the package of a project that has the registration function,
// func Register(reg *es.Registry), where consequent generate adds types.
type domain struct {
	root     string // the project's directory, go.mod's
	dir, pkg string // the package's directory and name

	register *funcDecl         // Register
	suite    *funcDecl         // the spec function that calls every other, in a *_suite_test.go; nil if none
	names    map[string]string // top-level names of the package → their file
	specs    map[string]string // top-level names of its specs (package pkg_test) → their file
}

// funcDecl is a function declaration and the file that holds it.
type funcDecl struct {
	file  string // absolute
	src   []byte
	decl  *ast.FuncDecl
	fset  *token.FileSet
	param string // the name of its one parameter
	es    string // the file's name for package es
}

// findProject returns the directory of the go.mod nearest above dir.
func findProject(dir string) (root string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(filepath.Join(d, "go.mod"))
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(d) == d {
			return "", misuse("not inside a Go project: no go.mod in %s or above (consequent new NAME writes one)", dir)
		}
	}
}

// findDomain finds the domain package of the project around cwd: the package
// with func Register(reg *es.Registry) that holds cwd, else the only one.
func findDomain(cwd string) (*domain, error) {
	root, err := findProject(cwd)
	if err != nil {
		return nil, err
	}
	var found []*domain
	err = filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if dir != root && (skipDir(d.Name()) || exists(filepath.Join(dir, "go.mod"))) {
			return filepath.SkipDir
		}
		dom, err := parseDomain(dir)
		if dom != nil {
			dom.root = root
			found = append(found, dom)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var holder *domain // the innermost that holds cwd
	var dirs []string
	for _, dom := range found {
		if rel := relTo(dom.dir, cwd); !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) &&
			(holder == nil || len(dom.dir) > len(holder.dir)) {
			holder = dom
		}
		dirs = append(dirs, relTo(root, dom.dir))
	}
	switch {
	case holder != nil:
		return holder, nil
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0:
		return nil, failure("no domain package in %s: no package has func Register(reg *es.Registry) (consequent new NAME writes one)", root)
	}
	return nil, misuse("%d domain packages (%s): run consequent generate inside the one to change", len(found), strings.Join(dirs, ", "))
}

// mayRegister reports whether a file of dir may declare the registration
// function, before parsing it.
func mayRegister(dir string) func(fs.DirEntry) bool {
	return func(e fs.DirEntry) bool {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return false
		}
		src, err := os.ReadFile(filepath.Join(dir, name))
		return err == nil && bytes.Contains(src, []byte("func Register("))
	}
}

func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor"
}

// parseDomain parses the Go files of dir: a domain if one has the registration
// function, else nil.
func parseDomain(dir string) (*domain, error) {
	entries, err := os.ReadDir(dir)
	if err != nil || !slices.ContainsFunc(entries, mayRegister(dir)) {
		return nil, err
	}
	dom := &domain{dir: dir, names: map[string]string{}, specs: map[string]string{}}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") {
			continue
		}
		file := filepath.Join(dir, name)
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, failure("cannot read %v", err)
		}
		test := strings.HasSuffix(name, "_test.go")
		names := dom.names
		if test && strings.HasSuffix(f.Name.Name, "_test") {
			names = dom.specs
		} else if !test {
			dom.pkg = f.Name.Name
		}
		for _, n := range topLevelNames(f) {
			names[n] = file
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Recv != nil {
				continue
			}
			switch {
			case !test && fd.Name.Name == "Register":
				if fn := oneParam(fd, f, esImport, "Registry", true); fn != nil {
					fn.file, fn.src, fn.fset = file, src, fset
					dom.register = fn
				}
			case strings.HasSuffix(name, "_suite_test.go") && dom.suite == nil:
				if fn := oneParam(fd, f, estestImport, "Backend", false); fn != nil {
					fn.file, fn.src, fn.fset = file, src, fset
					dom.suite = fn
				}
			}
		}
	}
	if dom.register == nil {
		return nil, nil
	}
	return dom, nil
}

// oneParam returns fd as a funcDecl when its only parameter has type
// pkg.typeName (*pkg.typeName when pointer), pkg being imported by f.
func oneParam(fd *ast.FuncDecl, f *ast.File, pkg, typeName string, pointer bool) *funcDecl {
	local := importName(f, pkg)
	params := fd.Type.Params.List
	if local == "" || len(params) != 1 || len(params[0].Names) != 1 || fd.Body == nil {
		return nil
	}
	t := params[0].Type
	if star, ok := t.(*ast.StarExpr); ok && pointer {
		t = star.X
	} else if pointer {
		return nil
	}
	sel, ok := t.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != typeName || !isIdent(sel.X, local) {
		return nil
	}
	return &funcDecl{decl: fd, param: params[0].Names[0].Name, es: importName(f, esImport)}
}

// importName is the name f uses for the package at path, or "".
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return path[strings.LastIndex(path, "/")+1:]
		}
	}
	return ""
}

// topLevelNames are the names f declares at package level (methods excluded).
func topLevelNames(f *ast.File) []string {
	var names []string
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				names = append(names, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					names = append(names, s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == "_" })
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// relTo is name relative to dir, or name when it is not below dir.
func relTo(dir, name string) string {
	rel, err := filepath.Rel(dir, name)
	if err != nil {
		return name
	}
	return rel
}
