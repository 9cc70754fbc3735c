package estest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/onsi/gomega/types"
)

// succeed is gomega.Succeed with a readable message: what failed, then the error's
// own text, not a dump of its structure.
func succeed(what string) types.GomegaMatcher { return &succeedMatcher{what: what} }

// NoError matches a nil error; a failure says what was being done and then the
// error's message, not a dump of its structure. Harnesses built on estest
// (projectortest) report their setup failures with it.
//
//	g.Expect(err).To(estest.NoError("projectortest: creating the projector's tables"))
func NoError(what string) types.GomegaMatcher { return succeed(what) }

type succeedMatcher struct{ what string }

func (m *succeedMatcher) Match(actual any) (bool, error) { return actual == nil, nil }

func (m *succeedMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("%s:\n  %v", m.what, indent(fmt.Sprint(actual), "  "))
}

func (m *succeedMatcher) NegatedFailureMessage(any) string { return m.what + ": expected an error" }

// ErrorAs matches an error that has an E in its chain (errors.As) for which every
// check holds, so a spec can look at a typed error's fields:
//
//	s.ThenFails(estest.ErrorAs(func(e *es.UniqueKeyError) bool { return e.Scope == "author_email" }))
func ErrorAs[E error](checks ...func(E) bool) types.GomegaMatcher {
	return &errorAsMatcher[E]{checks: checks}
}

type errorAsMatcher[E error] struct {
	checks []func(E) bool
	found  bool
}

func (m *errorAsMatcher[E]) Match(actual any) (bool, error) {
	err, ok := actual.(error)
	if !ok {
		return false, fmt.Errorf("estest.ErrorAs matches an error, not %T", actual)
	}
	var target E
	if m.found = errors.As(err, &target); !m.found {
		return false, nil
	}
	for _, c := range m.checks {
		if !c(target) {
			return false, nil
		}
	}
	return true, nil
}

func (m *errorAsMatcher[E]) FailureMessage(actual any) string {
	var zero E
	if !m.found {
		return fmt.Sprintf("Expected an error with a %T in its chain, got:\n  %v", zero, actual)
	}
	return fmt.Sprintf("Expected the %T to pass the checks, got:\n  %v", zero, actual)
}

func (m *errorAsMatcher[E]) NegatedFailureMessage(actual any) string {
	var zero E
	return fmt.Sprintf("Expected no %T passing the checks, got:\n  %v", zero, actual)
}

// InvalidField matches a validation error in which field is invalid with a message
// containing text.
func InvalidField(field, text string) types.GomegaMatcher { return &invalidFieldMatcher{field, text} }

type invalidFieldMatcher struct{ field, text string }

func (m *invalidFieldMatcher) Match(actual any) (bool, error) {
	ve, err := validationError("InvalidField", actual)
	if ve == nil {
		return false, err
	}
	for _, msg := range ve.Fields[m.field] {
		if strings.Contains(msg, m.text) {
			return true, nil
		}
	}
	return false, nil
}

func (m *invalidFieldMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("Expected a validation error with field %s %q, got:\n  %v", m.field, m.text, actual)
}

func (m *invalidFieldMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("Expected no validation error with field %s %q, got:\n  %v", m.field, m.text, actual)
}

// Committed matches the [*es.Result] of a command that committed with nothing
// failing after its commit: no workflow, follow-up command or after-commit
// hook failed ([es.Result.Failures] is empty). Given Execute's two results,
// Gomega first requires the error to be nil (the command committed):
//
//	Expect(svc.Execute(ctx, blog.PublishPost{PostID: id})).To(estest.Committed())
func Committed() types.GomegaMatcher { return committedMatcher{} }

type committedMatcher struct{}

func (committedMatcher) Match(actual any) (bool, error) {
	r, ok := actual.(*es.Result)
	if !ok {
		return false, fmt.Errorf("estest.Committed matches the *es.Result of CommandService.Execute, not %T", actual)
	}
	return r != nil && r.Err() == nil, nil
}

func (committedMatcher) FailureMessage(actual any) string {
	r, _ := actual.(*es.Result)
	if r == nil {
		return "Expected the command to commit, but Execute returned no result"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Expected the command to commit with nothing failing after it; it committed (%s), but then:", countOf(len(r.Events), "event"))
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "\n  %s", indent(f.Error(), "  "))
	}
	return b.String()
}

func (committedMatcher) NegatedFailureMessage(any) string {
	return "Expected the command not to commit cleanly, but it did"
}
