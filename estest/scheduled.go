package estest

import (
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
)

// scheduledAt is an expected scheduled command with its time.
type scheduledAt struct {
	At      time.Time
	Command any
}

// At is an expected scheduled command for [Scenario.ThenScheduled] and
// [HaveScheduled]: cmd, due at at.
func At(at time.Time, cmd any) any { return scheduledAt{At: at.UTC(), Command: cmd} }

// HaveScheduled succeeds when exactly the expected commands are scheduled, in
// due order (see [Scenario.ThenScheduled] for the expected items).
func HaveScheduled(expected ...any) types.GomegaMatcher {
	return &scheduledMatcher{expected: expected}
}

type scheduledMatcher struct {
	expected []any
	rows     []row
}

func (m *scheduledMatcher) Match(actual any) (bool, error) {
	r, err := asResult("HaveScheduled", actual)
	if err != nil {
		return false, err
	}
	if r.Err != nil || r.followUpFailed() {
		return false, nil
	}
	var exp []any
	var act []item
	for i := range max(len(m.expected), len(r.Scheduled)) {
		timed := false // compare the time too: the actual item is a scheduledAt
		if i < len(m.expected) {
			e := m.expected[i]
			if at, ok := e.(scheduledAt); ok {
				timed = true
				if cm, ok := at.Command.(types.GomegaMatcher); ok { // a time, and a matcher of the command
					e = gomega.And(gomega.HaveField("At", gomega.BeTemporally("==", at.At)), gomega.HaveField("Command", cm))
				}
			}
			exp = append(exp, e)
		}
		if i < len(r.Scheduled) {
			sc := r.Scheduled[i]
			it := item{name: commandName(r.names, sc.Command) + " at " + sc.At.Format(time.RFC3339), value: sc.Command}
			if timed {
				it.value = scheduledAt{At: sc.At.UTC(), Command: sc.Command}
			}
			act = append(act, it)
		}
	}
	m.rows = compare(r.names, exp, act)
	for i := range m.rows {
		if i < len(m.expected) {
			if at, ok := m.expected[i].(scheduledAt); ok {
				m.rows[i].expected = expectedName(r.names, at.Command) + " at " + at.At.Format(time.RFC3339)
			}
		}
	}
	for _, rw := range m.rows {
		if !rw.ok {
			return false, nil
		}
	}
	return true, nil
}

func (m *scheduledMatcher) FailureMessage(actual any) string {
	r, _ := asResult("HaveScheduled", actual)
	var b strings.Builder
	writeContext(&b, r)
	if r.Err != nil {
		fmt.Fprintf(&b, "Then: expected %s, but the %s failed:\n  %s\n", countOf(len(m.expected), "scheduled command"), failedWhat(r), indent(r.Err.Error(), "  "))
		return b.String()
	}
	if r.followUpFailed() {
		fmt.Fprintf(&b, "Then: expected %s, but after the command committed, a follow-up failed:\n  %s\n", countOf(len(m.expected), "scheduled command"), indent(r.FollowUpErr.Error(), "  "))
		b.WriteString("(ThenFollowUpFails expects a failure after the commit; then ThenScheduled checks the schedule.)\n")
		return b.String()
	}
	b.WriteString("Then: the scheduled commands differ:\n")
	writeTable(&b, m.rows)
	writeDetails(&b, m.rows, "scheduled command")
	b.WriteString("\nCompared: scheduled commands in due order, payloads exactly, and times where estest.At gives one.\n")
	return b.String()
}

func (m *scheduledMatcher) NegatedFailureMessage(actual any) string {
	r, _ := asResult("HaveScheduled", actual)
	var b strings.Builder
	writeContext(&b, r)
	b.WriteString("Then: expected anything but these scheduled commands, but got exactly them:\n")
	for _, sc := range r.Scheduled {
		fmt.Fprintf(&b, "  %s at %s %s\n", commandName(r.names, sc.Command), sc.At.Format(time.RFC3339), jsonOf(sc.Command))
	}
	return b.String()
}
