package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// run runs the command line args and returns the exit code. Errors are printed
// as one line on stderr, never with a usage dump or a stack trace.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "consequent: "+oneLine(err.Error()))
	return exitCode(err)
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "consequent",
		Short:         "Start and grow applications built with Consequent",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return misuse("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(newNewCommand(), newGenerateCommand())
	return root
}

// exactArgs requires n arguments, saying which ones in the error.
func exactArgs(n int, usage string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return misuse("usage: %s", usage)
		}
		return nil
	}
}

// oneLine keeps the first line of a message.
func oneLine(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}
