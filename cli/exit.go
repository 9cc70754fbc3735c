package cli

import (
	"errors"
	"fmt"
)

// Exit codes.
const (
	ExitFailure = 1 // the work could not be done
	ExitMisuse  = 2 // an unknown command, a wrong argument or flag, no database named
)

// ExitError is an error that sets the exit code [Execute] returns. The
// commands of an application (its [Default] one too) may return one; an error
// of another type returned while a command runs exits with [ExitFailure].
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// misuse is an error of the user's call: exit code 2.
func misuse(format string, args ...any) error {
	return &ExitError{Code: ExitMisuse, Err: fmt.Errorf(format, args...)}
}

// failure is an error doing the work: exit code 1.
func failure(format string, args ...any) error {
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf(format, args...)}
}

// exitCode is err's exit code: its own, else 1 once a command began its work,
// else 2 (cobra's errors before a command runs: an unknown command or flag).
func exitCode(err error, started bool) int {
	if e, ok := errors.AsType[*ExitError](err); ok {
		return e.Code
	}
	if started {
		return ExitFailure
	}
	return ExitMisuse
}
