package estest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/onsi/gomega/types"
)

// Result is the outcome of a scenario's When or WhenEvent. Then and its siblings
// are sugar for Gomega matchers on it ([HaveEvents], [FailWith], [HaveCommands]),
// which specs can also use directly:
//
//	Expect(s.Result()).To(estest.HaveEvents(blog.PostPublished{PublishedAt: t}))
type Result struct {
	Given   []es.Envelope // events stored by Given, in order
	Command any           // the When command; nil after WhenEvent
	Event   *es.Envelope  // the WhenEvent event; nil after When
	// Err is why the When command failed, having stored nothing (Execute's
	// error), or the workflows' error after WhenEvent.
	Err error
	// Execution is what Execute returned for the When command when it
	// committed (nil when it failed, and after WhenEvent): the record's id, its
	// events as stored, the follow-up commands of synchronous workflows and
	// how each ended.
	Execution *es.Result
	// FollowUpErr is what failed after the When command committed: a
	// synchronous workflow or a command it issued, an after-commit hook
	// (Execution.Failures), a durable workflow, a scheduled command that came
	// due; joined. [HaveEvents] and [FailWith] fail on it unless
	// [Scenario.ThenFollowUpFails] checked it.
	FollowUpErr error
	// Events are the events the When command stored, and those of the commands
	// that followed it (workflows, scheduled commands that came due), read back
	// from the store.
	Events   []es.Envelope
	Commands []any // commands the workflows issued after WhenEvent
	// Scheduled are the scheduled commands: after When, those pending in the
	// store (read when a Then needs them); after WhenEvent, those the
	// workflows scheduled. Cancelled are the keys the workflows cancelled
	// (WhenEvent).
	Scheduled []es.Scheduled
	Cancelled []string

	names            *es.Registry
	followUpsChecked bool // ThenFollowUpFails expected FollowUpErr
}

// followUpFailed reports whether a follow-up failed that no spec expects.
func (r *Result) followUpFailed() bool { return r.FollowUpErr != nil && !r.followUpsChecked }

func asResult(matcher string, actual any) (*Result, error) {
	r, ok := actual.(*Result)
	if !ok || r == nil {
		return nil, fmt.Errorf("estest.%s matches an *estest.Result (from Scenario.Result()), not %T", matcher, actual)
	}
	return r, nil
}

// HaveEvents succeeds when the command committed and stored exactly the expected
// events in order, and nothing failed after its commit (unless
// [Scenario.ThenFollowUpFails] checked that failure): event values compared
// field by field, or Gomega matchers given the event value.
func HaveEvents(expected ...any) types.GomegaMatcher {
	return &listMatcher{name: "HaveEvents", expected: expected, events: true}
}

// HaveNoEvents succeeds when the command committed, stored no events, and
// nothing failed after its commit.
func HaveNoEvents() types.GomegaMatcher { return HaveEvents() }

// HaveCommands succeeds when the workflows issued exactly the expected commands in
// order, after WhenEvent: command values compared field by field, or matchers.
func HaveCommands(expected ...any) types.GomegaMatcher {
	return &listMatcher{name: "HaveCommands", expected: expected}
}

type listMatcher struct {
	name     string
	expected []any
	events   bool // events of a When; else commands of a WhenEvent
	rows     []row
}

func (m *listMatcher) Match(actual any) (bool, error) {
	r, err := asResult(m.name, actual)
	if err != nil {
		return false, err
	}
	if r.Err != nil || (m.events && r.followUpFailed()) {
		return false, nil
	}
	if m.events && r.Command == nil {
		return false, errors.New("estest.HaveEvents: the scenario ran WhenEvent, which issues commands: use ThenCommands")
	}
	if !m.events && r.Event == nil {
		return false, errors.New("estest.HaveCommands: the scenario ran When, which stores events: use Then")
	}
	m.rows = compare(r.names, m.expected, m.actual(r))
	for _, rw := range m.rows {
		if !rw.ok {
			return false, nil
		}
	}
	return true, nil
}

func (m *listMatcher) actual(r *Result) []item {
	var out []item
	if m.events {
		for _, e := range r.Events {
			out = append(out, item{name: e.Type, value: e.Event})
		}
		return out
	}
	for _, c := range r.Commands {
		out = append(out, item{name: commandName(r.names, c), value: c})
	}
	return out
}

func (m *listMatcher) FailureMessage(actual any) string {
	r, _ := asResult(m.name, actual)
	var b strings.Builder
	writeContext(&b, r)
	noun := "events"
	if !m.events {
		noun = "commands"
	}
	if r.Err != nil {
		fmt.Fprintf(&b, "Then: expected %s, but the %s failed:\n  %s\n", countOf(len(m.expected), noun[:len(noun)-1]), failedWhat(r), indent(r.Err.Error(), "  "))
		return b.String()
	}
	if m.events && r.followUpFailed() {
		fmt.Fprintf(&b, "Then: expected %s, but after the command committed, a follow-up failed:\n  %s\n", countOf(len(m.expected), "event"), indent(r.FollowUpErr.Error(), "  "))
		writeStored(&b, r)
		b.WriteString("(ThenFollowUpFails expects a failure after the commit; then Then checks the events.)\n")
		return b.String()
	}
	fmt.Fprintf(&b, "Then: the %s differ:\n", noun)
	writeTable(&b, m.rows)
	writeDetails(&b, m.rows, noun[:len(noun)-1])
	if m.events {
		b.WriteString("\nCompared: event payloads, in order, exactly. Ignored: event ids, stream ids, versions, positions, times,\ncommand, correlation and causation ids, metadata.\n")
	} else {
		b.WriteString("\nCompared: command payloads, in order, exactly.\n")
	}
	return b.String()
}

func (m *listMatcher) NegatedFailureMessage(actual any) string {
	r, _ := asResult(m.name, actual)
	var b strings.Builder
	writeContext(&b, r)
	b.WriteString("Then: expected anything but these, but got exactly them:\n")
	for _, it := range m.actual(r) {
		fmt.Fprintf(&b, "  %s %s\n", it.name, jsonOf(it.value))
	}
	return b.String()
}

func failedWhat(r *Result) string {
	if r.Command != nil {
		return "command"
	}
	return "workflow"
}

// FailWith succeeds when the command failed as expected: expected is an error
// (matched with errors.Is), a string (contained in the error's message) or a Gomega
// matcher given the error.
func FailWith(expected any) types.GomegaMatcher {
	return &failMatcher{name: "FailWith", expected: expected}
}

// FailFollowUpWith succeeds when the command committed and then a follow-up
// failed as expected (the result's FollowUpErr): expected is as for
// [FailWith].
func FailFollowUpWith(expected any) types.GomegaMatcher {
	return &failMatcher{name: "FailFollowUpWith", expected: expected, followUp: true}
}

type failMatcher struct {
	name     string
	expected any
	followUp bool // FollowUpErr, not Err
	detail   string
}

// err is the error m looks at.
func (m *failMatcher) err(r *Result) error {
	if m.followUp {
		if r.Err != nil {
			return nil // the command failed: no follow-up ran
		}
		return r.FollowUpErr
	}
	return r.Err
}

func (m *failMatcher) Match(actual any) (bool, error) {
	r, err := asResult(m.name, actual)
	if err != nil {
		return false, err
	}
	got := m.err(r)
	if got == nil {
		return false, nil
	}
	switch e := m.expected.(type) {
	case types.GomegaMatcher:
		ok, err := e.Match(got)
		if err != nil {
			return false, err
		}
		if !ok {
			m.detail = e.FailureMessage(got)
		}
		return ok, nil
	case error:
		return errors.Is(got, e), nil
	case string:
		if e == "" {
			return false, fmt.Errorf("estest.%s(\"\") would match any error: give part of the expected message, or a sentinel error", m.name)
		}
		return strings.Contains(got.Error(), e), nil
	}
	return false, fmt.Errorf("estest.%s takes an error, a string or a Gomega matcher, not %T", m.name, m.expected)
}

func (m *failMatcher) want() string {
	switch e := m.expected.(type) {
	case error:
		return fmt.Sprintf("an error that is %q (errors.Is)", e.Error())
	case string:
		return fmt.Sprintf("an error containing %q", e)
	}
	return "an error matching the matcher"
}

func (m *failMatcher) FailureMessage(actual any) string {
	r, _ := asResult(m.name, actual)
	var b strings.Builder
	writeContext(&b, r)
	if m.followUp {
		m.followUpFailure(&b, r)
		return b.String()
	}
	if r.Err == nil && r.FollowUpErr != nil {
		fmt.Fprintf(&b, "Then: expected the command to fail with %s, but it committed; what failed came after the commit:\n  %s\n", m.want(), indent(r.FollowUpErr.Error(), "  "))
		writeStored(&b, r)
		b.WriteString("(ThenFollowUpFails checks a failure after the commit.)\n")
		return b.String()
	}
	if r.Err == nil {
		fmt.Fprintf(&b, "Then: expected the %s to fail with %s, but it succeeded", failedWhat(r), m.want())
		if r.Command != nil {
			fmt.Fprintf(&b, " and stored %s:\n", countOf(len(r.Events), "event"))
			for _, e := range r.Events {
				fmt.Fprintf(&b, "  %s %s\n", e.Type, e.Data)
			}
		} else {
			b.WriteString(".\n")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "Then: expected the %s to fail with %s, but it failed with:\n  %s\n", failedWhat(r), m.want(), indent(r.Err.Error(), "  "))
	if m.detail != "" {
		fmt.Fprintf(&b, "\n%s\n", m.detail)
	}
	return b.String()
}

// followUpFailure explains why FailFollowUpWith did not match.
func (m *failMatcher) followUpFailure(b *strings.Builder, r *Result) {
	switch {
	case r.Err != nil:
		fmt.Fprintf(b, "Then: expected the command to commit and then a follow-up to fail with %s, but the command failed, storing nothing:\n  %s\n", m.want(), indent(r.Err.Error(), "  "))
	case r.FollowUpErr == nil:
		fmt.Fprintf(b, "Then: expected a follow-up of the command to fail with %s, but nothing failed after its commit.\n", m.want())
		writeStored(b, r)
	default:
		fmt.Fprintf(b, "Then: expected a follow-up of the command to fail with %s, but what failed after its commit was:\n  %s\n", m.want(), indent(r.FollowUpErr.Error(), "  "))
		if m.detail != "" {
			fmt.Fprintf(b, "\n%s\n", m.detail)
		}
	}
}

// writeStored lists the events the command (and what followed it) stored.
func writeStored(b *strings.Builder, r *Result) {
	fmt.Fprintf(b, "Stored: %s\n", countOf(len(r.Events), "event"))
	for _, e := range r.Events {
		fmt.Fprintf(b, "  %s %s\n", e.Type, e.Data)
	}
}

func (m *failMatcher) NegatedFailureMessage(actual any) string {
	r, _ := asResult(m.name, actual)
	var b strings.Builder
	writeContext(&b, r)
	what := failedWhat(r)
	if m.followUp {
		what = "follow-ups"
	}
	fmt.Fprintf(&b, "Then: expected the %s not to fail with %s, but it did:\n  %v\n", what, m.want(), m.err(r))
	return b.String()
}

// Invalid matches a [*es.ValidationError] in which at least the given fields are
// invalid (any fields, when none are given):
//
//	s.When(blog.AddPost{}).ThenFails(estest.Invalid("title", "content"))
func Invalid(fields ...string) types.GomegaMatcher { return &invalidMatcher{fields: fields} }

type invalidMatcher struct{ fields []string }

// validationError finds the *es.ValidationError in actual, for matcher name.
func validationError(name string, actual any) (*es.ValidationError, error) {
	err, ok := actual.(error)
	if !ok {
		return nil, fmt.Errorf("estest.%s matches an error, not %T", name, actual)
	}
	var ve *es.ValidationError
	errors.As(err, &ve)
	return ve, nil
}

func (m *invalidMatcher) Match(actual any) (bool, error) {
	ve, err := validationError("Invalid", actual)
	if ve == nil {
		return false, err
	}
	for _, f := range m.fields {
		if len(ve.Fields[f]) == 0 {
			return false, nil
		}
	}
	return true, nil
}

func (m *invalidMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("Expected a validation error with invalid fields %v, got:\n  %v", m.fields, actual)
}

func (m *invalidMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("Expected no validation error with invalid fields %v, got:\n  %v", m.fields, actual)
}

// EventLike matches an event (or command) equal to expected in every field but
// those named in ignore (Go field names; "Address.City" reaches into a field).
func EventLike(expected any, ignore ...string) types.GomegaMatcher {
	return &likeMatcher{expected: expected, ignore: ignore}
}

type likeMatcher struct {
	expected any
	ignore   []string
	diffs    []string
}

func (m *likeMatcher) Match(actual any) (bool, error) {
	if reflect.TypeOf(actual) != reflect.TypeOf(m.expected) {
		m.diffs = []string{fmt.Sprintf("expected a %T, actual a %T", m.expected, actual)}
		return false, nil
	}
	m.diffs = FieldDiffs(m.expected, actual, m.ignore...)
	return len(m.diffs) == 0, nil
}

func (m *likeMatcher) FailureMessage(any) string {
	msg := strings.Join(m.diffs, "\n")
	if len(m.ignore) > 0 {
		msg += fmt.Sprintf("\n(ignoring %s)", strings.Join(m.ignore, ", "))
	}
	return msg
}

func (m *likeMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("expected anything but %s, got it", jsonOf(actual))
}
