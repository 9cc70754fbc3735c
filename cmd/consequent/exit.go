package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitFailure = 1 // the work could not be done
	exitMisuse  = 2 // wrong arguments or flags, or run where it cannot work
)

// exitError is an error that sets the process's exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// misuse is an error of the user's call: exit code 2.
func misuse(format string, args ...any) error {
	return &exitError{code: exitMisuse, err: fmt.Errorf(format, args...)}
}

// failure is an error doing the work: exit code 1.
func failure(format string, args ...any) error {
	return &exitError{code: exitFailure, err: fmt.Errorf(format, args...)}
}

// exitCode is err's exit code: its own, else 2, for the errors cobra returns
// before a command runs (an unknown command or flag, a wrong argument count).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*exitError](err); ok {
		return e.code
	}
	return exitMisuse
}

// work adapts a command's work to cobra: an error it returns that has no exit
// code of its own is a failure (1).
func work(fn func(c *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		err := fn(c, args)
		if _, ok := errors.AsType[*exitError](err); err != nil && !ok {
			return &exitError{code: exitFailure, err: err}
		}
		return err
	}
}
