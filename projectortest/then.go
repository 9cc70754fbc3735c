package projectortest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/estest"
	"github.com/google/uuid"
	"github.com/onsi/gomega"
)

// recordTable is a table whose rows convert to records and back, like *es.Table[R].
type recordTable interface {
	es.Tabler
	RowOf(record any) (es.Row, error)
	RecordOf(row es.Row) (any, error)
}

// ThenRecords checks that table holds exactly the given records: each compared
// field by field with the row of the same primary key.
func (s *Scenario) ThenRecords(table es.Tabler, records ...any) {
	s.thenRecords(offset, table, records)
}

// ThenNoRecords checks that table is empty.
func (s *Scenario) ThenNoRecords(table es.Tabler) { s.thenRecords(offset, table, nil) }

// thenRecords is ThenRecords; off is the offset from here to the spec.
func (s *Scenario) thenRecords(off int, table es.Tabler, records []any) {
	if !s.setup(off) {
		return
	}
	rt, ok := table.(recordTable)
	if !ok {
		s.g.Expect(table).WithOffset(off).To(gomega.BeNil(), "projectortest: ThenRecords needs an *es.Table[R], to turn rows into records")
		return
	}
	if err := s.catchUp(); !s.g.Expect(err).WithOffset(off).To(estest.NoError(s.context())) {
		return
	}
	if err := s.replay(); !s.g.Expect(err).WithOffset(off).To(estest.NoError(s.context())) {
		return
	}
	rows, err := s.store.Views().Find(s.ctx, table.Def().Name, nil)
	if !s.g.Expect(err).WithOffset(off).To(estest.NoError(fmt.Sprintf("projectortest: reading %s", table.Def().Name))) {
		return
	}
	report, err := s.compare(rt, records, rows)
	if !s.g.Expect(err).WithOffset(off).To(estest.NoError("projectortest: ThenRecords")) {
		return
	}
	s.g.Expect(report).WithOffset(off).To(beNoReport{})
}

// beNoReport succeeds on an empty report and fails with the report as its message.
type beNoReport struct{}

func (beNoReport) Match(actual any) (bool, error)   { return actual == "", nil }
func (beNoReport) FailureMessage(actual any) string { return actual.(string) }
func (beNoReport) NegatedFailureMessage(any) string { return "expected the rows to differ" }

func (s *Scenario) context() string {
	var b strings.Builder
	b.WriteString("Given:\n")
	var last uuid.UUID
	for _, e := range s.history {
		if e.StreamID != last {
			fmt.Fprintf(&b, "  stream %s (%s)\n", e.StreamID, e.StreamType)
			last = e.StreamID
		}
		fmt.Fprintf(&b, "    %d %s %s\n", e.Version, e.Type, e.Data)
	}
	return b.String()
}

// compare returns the failure report, or "" when the rows are as expected.
func (s *Scenario) compare(t recordTable, expected []any, rows []es.Row) (string, error) {
	def := t.Def()
	actual := map[string]any{}
	var keys []string
	for _, row := range rows {
		rec, err := t.RecordOf(row)
		if err != nil {
			return "", err
		}
		k := keyText(def, row)
		actual[k] = rec
		keys = append(keys, k)
	}
	type line struct{ key, status string }
	var lines []line
	var details []string
	seen := map[string]bool{}
	for _, e := range expected {
		row, err := t.RowOf(e)
		if err != nil {
			return "", err
		}
		k := keyText(def, row)
		seen[k] = true
		a, ok := actual[k]
		if !ok {
			lines = append(lines, line{k, "missing"})
			details = append(details, fmt.Sprintf("row %s, missing:\n    expected %+v", k, e))
			continue
		}
		if diffs := estest.FieldDiffs(e, a); len(diffs) > 0 {
			lines = append(lines, line{k, "differs"})
			details = append(details, fmt.Sprintf("row %s:\n    %s", k, strings.Join(diffs, "\n    ")))
			continue
		}
		lines = append(lines, line{k, "ok"})
	}
	for _, k := range keys {
		if !seen[k] {
			lines = append(lines, line{k, "unexpected"})
			details = append(details, fmt.Sprintf("row %s, unexpected:\n    actual %+v", k, actual[k]))
		}
	}
	if len(details) == 0 {
		return "", nil
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].key < lines[j].key })
	var b strings.Builder
	b.WriteString(s.context())
	fmt.Fprintf(&b, "Then: the rows of %s differ (%d expected, %d actual):\n", def.Name, len(expected), len(rows))
	w := len("key")
	for _, l := range lines {
		w = max(w, len(l.key))
	}
	fmt.Fprintf(&b, "  %-*s  status\n", w, "key")
	for _, l := range lines {
		fmt.Fprintf(&b, "  %-*s  %s\n", w, l.key, l.status)
	}
	for _, d := range details {
		fmt.Fprintf(&b, "\n  %s\n", d)
	}
	fmt.Fprintf(&b, "\nCompared: every column of every row of %s, matched by primary key.", def.Name)
	if s.f.opts.ReplayTwice {
		b.WriteString(" Every suffix of the history was applied again and changed nothing (ReplayTwice).")
	}
	b.WriteString("\n")
	return b.String(), nil
}

func keyText(def es.TableDef, row es.Row) string {
	parts := make([]string, len(def.Key))
	for i, k := range def.Key {
		parts[i] = fmt.Sprintf("%s=%v", k, row[k])
	}
	return strings.Join(parts, ",")
}
