package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

const generateUsage = "consequent generate aggregate|command|event|projector|workflow NAME [field:type…]"

func newGenerateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "generate KIND NAME [field:type…]",
		Short: "Add an aggregate, command, event, projector or workflow to the project's domain",
		Long: `generate adds a type to the domain package of the project around the current
directory (the package with func Register(reg *es.Registry)): the type in a file of
its own, its line in Register, and a spec that fails with what to write next. It
prints every file it creates or changes and never overwrites one.

Fields are name:type, with type one of ` + fieldTypeNames + ` (string if left
out). They become struct fields with json tags (a projector's rows: columns; an
aggregate's: unexported state):
  consequent generate command ArchiveTask task_id:uuid reason:string`,
		Aliases: []string{"g"},
		Args:    cobra.ArbitraryArgs,
		RunE: work(func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return misuse("generate what? %s", generateUsage)
			}
			return misuse("cannot generate %q: %s", args[0], generateUsage)
		}),
	}
	for _, k := range kinds {
		c.AddCommand(k.command())
	}
	return c
}

func (k kind) command() *cobra.Command {
	var opts genOptions
	use := k.name + " NAME"
	if k.fields {
		use += " [field:type…]"
	}
	c := &cobra.Command{
		Use:   use,
		Short: "Add " + k.short,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 || (!k.fields && len(args) > 1) {
				return misuse("usage: consequent generate %s", use)
			}
			return nil
		},
		RunE: work(func(c *cobra.Command, args []string) error {
			cwd, err := os.Getwd()
			if err != nil {
				return err
			}
			return generate(c.OutOrStdout(), cwd, k, args, opts)
		}),
	}
	if k.name == "event" {
		c.Flags().StringVar(&opts.aggregate, "aggregate", "",
			"the aggregate that records the event (default: the one whose name starts the event's, or the only one)")
	}
	return c
}

// generate makes a thing of kind k from the arguments NAME [field:type…] in the
// domain package around cwd, and prints each file it creates or changes.
func generate(out io.Writer, cwd string, k kind, args []string, opts genOptions) error {
	name, err := checkTypeName(k.name, args[0])
	if err != nil {
		return err
	}
	fields, err := parseFields(args[1:])
	if err != nil {
		return err
	}
	d, err := findDomain(cwd)
	if err != nil {
		return err
	}
	if d.suite == nil {
		return failure("no spec suite in %s: a *_suite_test.go with a func(backend estest.Backend) that runs every spec (consequent new writes one)", d.rel("."))
	}
	p, err := k.plan(d, name, fields, opts)
	if err != nil {
		return err
	}
	switch st, why := p.check(d); st {
	case complete:
		fmt.Fprintf(out, "%s exists, nothing changed\n", p.subject)
		return nil
	case conflict:
		return failure("%s: refusing to overwrite; nothing changed", why)
	}
	register, suite, err := p.edits(d)
	if err != nil {
		return err
	}
	show := func(name string) string { return filepath.ToSlash(relTo(cwd, name)) }
	for _, f := range []genFile{p.typeFile, p.specFile} {
		if err := writeNew(f.path, f.content); err != nil {
			return err
		}
		fmt.Fprintln(out, "created", show(f.path))
	}
	for _, f := range []genFile{{d.register.file, register}, {d.suite.file, suite}} {
		if err := os.WriteFile(f.path, f.content, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(out, "changed", show(f.path))
	}
	fmt.Fprintf(out, "next: go test ./%s says what to write in %s\n", d.rel("."), show(p.specFile.path))
	return nil
}

// writeNew creates a file, failing if it exists.
func writeNew(name string, content []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
