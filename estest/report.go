package estest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
	"github.com/onsi/gomega/types"
)

// item is one actual event or command: its registered name and value.
type item struct {
	name  string
	value any
}

// row is one line of the expected-versus-actual table.
type row struct {
	expected, actual string // names; "" when absent
	ok               bool
	status           string   // ok, differs, missing, unexpected
	details          []string // why it differs, one line each
}

// compare pairs expected items with actual ones, position by position.
func compare(names *es.Registry, expected []any, actual []item) []row {
	n := max(len(expected), len(actual))
	rows := make([]row, n)
	for i := range n {
		rw := &rows[i]
		if i < len(expected) {
			rw.expected = expectedName(names, expected[i])
		}
		if i >= len(actual) {
			rw.status = "missing"
			continue
		}
		rw.actual = actual[i].name
		if i >= len(expected) {
			rw.status = "unexpected"
			rw.details = []string{"payload: " + jsonOf(actual[i].value)}
			continue
		}
		switch e := expected[i].(type) {
		case types.GomegaMatcher:
			ok, err := e.Match(actual[i].value)
			switch {
			case err != nil:
				rw.details = []string{"matcher error: " + err.Error()}
			case !ok:
				rw.details = strings.Split(e.FailureMessage(actual[i].value), "\n")
			}
			rw.ok = ok && err == nil
		default:
			if reflect.TypeOf(e) != reflect.TypeOf(actual[i].value) {
				rw.details = []string{fmt.Sprintf("expected a %s, actual a %s", rw.expected, rw.actual),
					"actual payload: " + jsonOf(actual[i].value)}
			} else {
				rw.details = FieldDiffs(e, actual[i].value)
			}
			rw.ok = len(rw.details) == 0
		}
		rw.status = "differs"
		if rw.ok {
			rw.status = "ok"
		}
	}
	return rows
}

func expectedName(names *es.Registry, v any) string {
	if _, ok := v.(types.GomegaMatcher); ok {
		return "(matcher)"
	}
	if n, ok := names.EventName(v); ok {
		return n
	}
	return commandName(names, v)
}

func commandName(names *es.Registry, v any) string {
	if n, ok := names.CommandName(v); ok {
		return n
	}
	return fmt.Sprintf("%T", v)
}

// writeContext writes what was given and what was done.
func writeContext(b *strings.Builder, r *Result) {
	b.WriteString("Given:\n")
	if len(r.Given) == 0 {
		b.WriteString("  no events\n")
	}
	var last uuid.UUID
	for _, e := range r.Given {
		if e.StreamID != last {
			fmt.Fprintf(b, "  stream %s (%s)\n", e.StreamID, e.StreamType)
			last = e.StreamID
		}
		fmt.Fprintf(b, "    %d %s %s\n", e.Version, e.Type, e.Data)
	}
	if r.Event != nil {
		fmt.Fprintf(b, "When event:\n  stream %s (%s)\n    %d %s %s\n", r.Event.StreamID, r.Event.StreamType, r.Event.Version, r.Event.Type, r.Event.Data)
		return
	}
	fmt.Fprintf(b, "When:\n  %s %s\n", commandName(r.names, r.Command), jsonOf(r.Command))
}

func writeTable(b *strings.Builder, rows []row) {
	w1, w2 := len("expected"), len("actual")
	for _, rw := range rows {
		w1, w2 = max(w1, len(orNone(rw.expected))), max(w2, len(orNone(rw.actual)))
	}
	wn := len(fmt.Sprint(len(rows)))
	line := func(format string, args ...any) {
		b.WriteString(strings.TrimRight(fmt.Sprintf(format, args...), " "))
		b.WriteByte('\n')
	}
	line("  %-*s  %-*s  %-*s", wn, "#", w1, "expected", w2, "actual")
	for i, rw := range rows {
		line("  %-*d  %-*s  %-*s  %s", wn, i+1, w1, orNone(rw.expected), w2, orNone(rw.actual), rw.status)
	}
}

func writeDetails(b *strings.Builder, rows []row, noun string) {
	for i, rw := range rows {
		if rw.ok || len(rw.details) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n  %s %d, %s:\n", noun, i+1, orNone(rw.actual))
		for _, d := range rw.details {
			fmt.Fprintf(b, "    %s\n", d)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func indent(s, prefix string) string { return strings.ReplaceAll(s, "\n", "\n"+prefix) }

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}
