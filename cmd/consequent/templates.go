package main

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"path"
	"slices"
	"strings"
	"text/template"
)

// templates holds the files of a new project (templates/project) and the files
// the generators write (templates/generate). The in-memory store is built in one
// place only, templates/project/store.go.tmpl.
//
//go:embed templates/project templates/generate
var templates embed.FS

// render executes the template at name (under templates/) with data; a Go file
// comes out gofmt-formatted.
func render(name string, data any) ([]byte, error) {
	text, err := templates.ReadFile(path.Join("templates", name))
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Funcs(template.FuncMap{"imports": importDecl}).
		Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, data); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(strings.TrimSuffix(name, ".tmpl"), ".go") {
		return out.Bytes(), nil
	}
	src, err := format.Source(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("template %s makes invalid Go: %w", name, err)
	}
	return src, nil
}

// importDecl is the import declaration of pkgs: the standard library first, then
// the others, each group sorted, duplicates dropped.
func importDecl(pkgs []string) string {
	if len(pkgs) == 1 {
		return "import \"" + pkgs[0] + "\""
	}
	var std, other []string
	for _, p := range pkgs {
		if strings.Contains(strings.Split(p, "/")[0], ".") {
			other = append(other, p)
		} else {
			std = append(std, p)
		}
	}
	var groups []string
	for _, g := range [][]string{std, other} {
		slices.Sort(g)
		g = slices.Compact(g)
		if len(g) > 0 {
			groups = append(groups, "\t\""+strings.Join(g, "\"\n\t\"")+"\"\n")
		}
	}
	if len(groups) == 0 {
		return ""
	}
	return "import (\n" + strings.Join(groups, "\n") + ")"
}
