package main

import (
	"go/ast"
	"go/format"
	"go/token"
	"slices"
	"strings"
)

// insertion is text to insert into a source file at a byte offset.
type insertion struct {
	offset int
	text   string
}

// apply returns src with the insertions made and gofmt applied.
func apply(src []byte, ins ...insertion) ([]byte, error) {
	slices.SortFunc(ins, func(a, b insertion) int { return b.offset - a.offset })
	out := slices.Clone(src)
	for _, in := range ins {
		out = slices.Insert(out, in.offset, []byte(in.text)...)
	}
	return format.Source(out)
}

// has reports whether fn's body holds stmt, as gofmt writes it.
func (fn *funcDecl) has(stmt string) bool {
	body := fn.src[fn.offset(fn.decl.Body.Lbrace):fn.offset(fn.decl.Body.Rbrace)]
	return strings.Contains(string(body), stmt)
}

// add returns the insertion of stmt into fn's body after the last statement
// that after matches (after a blank line when group is set: a new group of
// statements); else at the end of the body, after a blank line.
func (fn *funcDecl) add(stmt string, after func(ast.Stmt) bool, group bool) insertion {
	stmts := fn.decl.Body.List
	for i := len(stmts) - 1; i >= 0; i-- {
		if after(stmts[i]) {
			text := "\n\t" + stmt
			if group {
				text = "\n" + text
			}
			return insertion{offset: fn.offset(stmts[i].End()), text: text}
		}
	}
	if len(stmts) == 0 {
		return insertion{offset: fn.offset(fn.decl.Body.Rbrace), text: "\t" + stmt + "\n"}
	}
	return insertion{offset: fn.offset(fn.decl.Body.Rbrace), text: "\n\t" + stmt + "\n"}
}

func (fn *funcDecl) offset(p token.Pos) int { return fn.fset.Position(p).Offset }

// calls matches a statement that calls recv.name(…) or recv.name[…](…), alone
// or assigned.
func calls(recv string, names ...string) func(ast.Stmt) bool {
	return func(s ast.Stmt) bool {
		call := stmtCall(s)
		if call == nil {
			return false
		}
		fun := call.Fun
		if ix, ok := fun.(*ast.IndexExpr); ok {
			fun = ix.X
		}
		sel, ok := fun.(*ast.SelectorExpr)
		return ok && isIdent(sel.X, recv) && slices.Contains(names, sel.Sel.Name)
	}
}

// stmtCall is the call of an expression statement or of a one-value assignment.
func stmtCall(s ast.Stmt) *ast.CallExpr {
	var e ast.Expr
	switch s := s.(type) {
	case *ast.ExprStmt:
		e = s.X
	case *ast.AssignStmt:
		if len(s.Rhs) == 1 {
			e = s.Rhs[0]
		}
	}
	call, _ := e.(*ast.CallExpr)
	return call
}

// registeredAggregate is an es.RegisterAggregate call in the registration
// function.
type registeredAggregate struct {
	typeName string   // Task
	variable string   // task; "" when the result is not kept
	stmt     ast.Stmt // the call
}

// aggregates lists the aggregates fn registers, in order.
func (fn *funcDecl) aggregates() []registeredAggregate {
	var aggs []registeredAggregate
	isRegistration := calls(fn.es, "RegisterAggregate")
	for _, s := range fn.decl.Body.List {
		if !isRegistration(s) {
			continue
		}
		agg := registeredAggregate{typeName: aggregateType(stmtCall(s)), stmt: s}
		if a, ok := s.(*ast.AssignStmt); ok && len(a.Lhs) == 1 {
			if id, ok := a.Lhs[0].(*ast.Ident); ok && id.Name != "_" {
				agg.variable = id.Name
			}
		}
		if agg.typeName != "" {
			aggs = append(aggs, agg)
		}
	}
	return aggs
}

// aggregateType finds the aggregate's type in RegisterAggregate[*T](…) or in
// RegisterAggregate(r, "pkg.T", func() *T {…}).
func aggregateType(call *ast.CallExpr) string {
	starIdent := func(e ast.Expr) string {
		if star, ok := e.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok {
				return id.Name
			}
		}
		return ""
	}
	if ix, ok := call.Fun.(*ast.IndexExpr); ok {
		return starIdent(ix.Index)
	}
	if len(call.Args) >= 3 {
		if lit, ok := call.Args[2].(*ast.FuncLit); ok && lit.Type.Results != nil && len(lit.Type.Results.List) == 1 {
			return starIdent(lit.Type.Results.List[0].Type)
		}
	}
	return ""
}

// mentions matches a statement that uses the identifier name.
func mentions(name string) func(ast.Stmt) bool {
	return func(s ast.Stmt) bool {
		found := false
		ast.Inspect(s, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && id.Name == name {
				found = true
			}
			return !found
		})
		return found
	}
}
