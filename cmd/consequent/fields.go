package main

import (
	"go/token"
	"strings"
)

// field is a struct field given on the command line as name:type.
type field struct {
	Name string // exported Go name: DueAt
	Var  string // unexported Go name, for an aggregate's state: dueAt
	Key  string // JSON and column name: due_at
	Type string // Go type: time.Time
	pkg  string // the package Type needs, if any
}

// fieldTypes are the types a field may have, by the name given on the command line.
var fieldTypes = map[string]struct{ goType, pkg string }{
	"string":    {"string", ""},
	"bool":      {"bool", ""},
	"int":       {"int", ""},
	"int64":     {"int64", ""},
	"float64":   {"float64", ""},
	"time":      {"time.Time", "time"},
	"time.Time": {"time.Time", "time"},
	"uuid":      {"uuid.UUID", "github.com/google/uuid"},
	"uuid.UUID": {"uuid.UUID", "github.com/google/uuid"},
}

const fieldTypeNames = "string, bool, int, int64, float64, time or uuid"

// parseFields parses name:type arguments; a name alone is a string.
func parseFields(args []string) ([]field, error) {
	var fields []field
	seen := map[string]bool{}
	for _, arg := range args {
		name, typ, hasType := strings.Cut(arg, ":")
		if !hasType {
			typ = "string"
		}
		t, ok := fieldTypes[typ]
		if !ok {
			return nil, misuse("field %s: unknown type %q: use %s", arg, typ, fieldTypeNames)
		}
		f := field{Name: exported(name), Var: unexported(name), Key: snake(name), Type: t.goType, pkg: t.pkg}
		if !token.IsIdentifier(f.Name) || !token.IsIdentifier(f.Var) {
			return nil, misuse("field %s: %q is not a field name: use letters, digits and underscores, such as due_at:time", arg, name)
		}
		if seen[f.Key] {
			return nil, misuse("field %s: %s is given twice", arg, f.Key)
		}
		seen[f.Key] = true
		fields = append(fields, f)
	}
	return fields, nil
}

// fieldPackages are the packages the fields' types need.
func fieldPackages(fields []field) []string {
	var pkgs []string
	for _, f := range fields {
		if f.pkg != "" {
			pkgs = append(pkgs, f.pkg)
		}
	}
	return pkgs
}
