package estest

import (
	"errors"

	"fmt"
	"strings"

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
