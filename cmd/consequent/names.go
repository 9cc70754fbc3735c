package main

import (
	"go/token"
	"strings"
	"unicode"
)

// initialisms are written in capitals in Go names: task_id is TaskID.
var initialisms = map[string]bool{
	"api": true, "html": true, "http": true, "id": true, "ip": true, "json": true,
	"sql": true, "uri": true, "url": true, "uuid": true,
}

// words splits a name written in snake_case, kebab-case or CamelCase into its
// words: "task_id", "taskID" and "TaskID" are all [task id] (in their own case).
func words(name string) []string {
	var out []string
	runes := []rune(name)
	start := 0
	flush := func(end int) {
		if end > start {
			out = append(out, string(runes[start:end]))
		}
		start = end
	}
	for i, r := range runes {
		switch {
		case r == '_' || r == '-' || r == ' ':
			flush(i)
			start = i + 1
		case i > start && unicode.IsUpper(r):
			prev := runes[i-1]
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			// a new word at "aB" and at the last capital of "ABc" (HTTPServer)
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush(i)
			}
		}
	}
	flush(len(runes))
	return out
}

// exported is name as an exported Go name: due_at is DueAt, task_id is TaskID.
func exported(name string) string {
	var b strings.Builder
	for _, w := range words(name) {
		if initialisms[strings.ToLower(w)] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		r := []rune(w)
		b.WriteString(strings.ToUpper(string(r[0])) + string(r[1:]))
	}
	return b.String()
}

// unexported is name as an unexported Go name: TaskID is taskID, HTTPCheck is
// httpCheck.
func unexported(name string) string {
	ws := words(name)
	if len(ws) == 0 {
		return ""
	}
	return strings.ToLower(ws[0]) + exported(strings.Join(ws[1:], "_"))
}

// snake is name in snake_case: TaskArchived is task_archived.
func snake(name string) string {
	ws := words(name)
	for i, w := range ws {
		ws[i] = strings.ToLower(w)
	}
	return strings.Join(ws, "_")
}

// checkTypeName returns the exported Go name of a type named on the command line,
// or a misuse error saying why it cannot be one.
func checkTypeName(kind, name string) (string, error) {
	goName := exported(name)
	if !token.IsIdentifier(goName) || !token.IsExported(goName) {
		return "", misuse("%s name %q is not a Go name: use letters and digits, such as ArchiveTask", kind, name)
	}
	return goName, nil
}
