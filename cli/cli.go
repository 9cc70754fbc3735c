package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/pgstore"
)

// EnvDatabaseURL names the environment variable that gives the database URL
// when --database-url is not passed.
const EnvDatabaseURL = "CONSEQUENT_DATABASE_URL"

// Option configures [Command].
type Option func(*app)

// Name sets the command's name, as usage lines and messages show it (default:
// the program's file name).
func Name(name string) Option { return func(a *app) { a.name = name } }

// Default makes run what the command does when no subcommand is given, serving
// the application, say. run gets the arguments as they came and parses its own
// flags, so an application keeps the flags it had before it mounted the
// command: "blog -addr :9000" serves, "blog db migrate" migrates. Help flags
// (-h, -help, --help) show the command's help instead.
func Default(run func(ctx context.Context, args []string) error) Option {
	return func(a *app) { a.run = run }
}

// StoreConfig sets the PostgreSQL schemas of the event store and the view
// tables (default: pgstore's).
func StoreConfig(cfg pgstore.Config) Option { return func(a *app) { a.cfg = cfg } }

// app is what every subcommand shares.
type app struct {
	name     string
	register func(*es.Registry)
	run      func(ctx context.Context, args []string) error
	cfg      pgstore.Config
	dbURL    string // --database-url
}

// Command returns the command line of an application built with Consequent,
// for its own binary: the database (db create|migrate|status), its read
// models (projections status|rebuild|resume), snapshots (snapshots
// take|prune|status) and the audit trail (events show|tail, commands show).
// register is the application's registration function: the commands decode
// events and rebuild projectors with it, as the application does.
//
// Run the command with [Execute]; an application may add commands of its own
// to it (an error their Run returns exits with code 1, or an [ExitError]'s).
// Commands report errors as one line and exit with code 0 (success), 1 (the
// work failed) or 2 (misuse: an unknown command, flag or argument).
func Command(register func(*es.Registry), opts ...Option) *cobra.Command {
	a := &app{name: filepath.Base(os.Args[0]), register: register}
	for _, o := range opts {
		o(a)
	}
	root := &cobra.Command{
		Use:                   a.name,
		Short:                 "Operate " + a.name + ": its database, read models, snapshots and audit trail",
		SilenceErrors:         true,
		SilenceUsage:          true,
		Args:                  noArgs,
		RunE:                  missingSubcommand,
		DisableFlagsInUseLine: true,
	}
	if a.run != nil {
		root.Short = "Run " + a.name + " (without a command), or operate it"
		root.DisableFlagParsing = true
		root.Args = func(c *cobra.Command, args []string) error {
			if len(args) > 0 && !strings.HasPrefix(args[0], "-") { // a word, not a flag of run's
				return noArgs(c, args)
			}
			return nil
		}
		root.RunE = func(c *cobra.Command, args []string) error {
			if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
				return c.Help()
			}
			return a.run(c.Context(), args)
		}
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return misuse("%v (see %s --help)", err, c.CommandPath())
	})
	root.PersistentFlags().StringVar(&a.dbURL, "database-url", "",
		"the PostgreSQL database, as a URL or key=value string (default $"+EnvDatabaseURL+")")
	root.AddCommand(a.dbCommand(), a.projectionsCommand(), a.snapshotsCommand(), a.eventsCommand(), a.commandsCommand())
	return root
}

// startedKey marks, in the context [Execute] passes, that a command began its
// work: an error without an exit code of its own is then a failure (1), not
// misuse (2).
type startedKey struct{}

// Execute runs cmd, built by [Command], with args (os.Args[1:], usually) and
// returns the exit code: 0, 1 when the work failed, 2 for misuse. An error is
// printed as one line on cmd's standard error, never with a usage dump or a
// stack trace. Signals are the caller's: cancel ctx on SIGINT, and a rebuild
// stops (to resume where it stopped) and events tail returns.
func Execute(ctx context.Context, cmd *cobra.Command, args []string) int {
	started := new(bool)
	trackStarts(cmd)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.WithValue(ctx, startedKey{}, started))
	if err == nil {
		return 0
	}
	fmt.Fprintln(cmd.ErrOrStderr(), cmd.Name()+": "+oneLine(err.Error()))
	return exitCode(err, *started)
}

// startedAnnotation marks a command whose run trackStarts wrapped.
const startedAnnotation = "consequent/cli: tracks its start"

// trackStarts wraps the run of every command in c's tree (once), so that it
// records in the context [Execute] passes that the work began.
func trackStarts(c *cobra.Command) {
	if c.Annotations[startedAnnotation] == "" && (c.Run != nil || c.RunE != nil) {
		run, runE := c.Run, c.RunE
		c.Run, c.RunE = nil, func(c *cobra.Command, args []string) error {
			if s, ok := c.Context().Value(startedKey{}).(*bool); ok {
				*s = true
			}
			if runE != nil {
				return runE(c, args)
			}
			run(c, args)
			return nil
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[startedAnnotation] = "yes"
	}
	for _, sub := range c.Commands() {
		trackStarts(sub)
	}
}

// group returns a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: noArgs, RunE: missingSubcommand, DisableFlagsInUseLine: true}
	c.AddCommand(subs...)
	return c
}

// noArgs refuses arguments where a subcommand was expected.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return misuse("unknown command %q for %q (see %s --help)", args[0], c.CommandPath(), c.CommandPath())
	}
	return nil
}

func missingSubcommand(c *cobra.Command, _ []string) error {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() && s.Name() != "help" {
			names = append(names, s.Name())
		}
	}
	return misuse("missing command: %s (see %s --help)", strings.Join(names, ", "), c.CommandPath())
}

// exactArgs requires n arguments, saying which in the error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return misuse("usage: %s", c.UseLine())
		}
		return nil
	}
}

// oneLine keeps the first line of a message.
func oneLine(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return first
}

// registry builds the application's registry and reports its registration
// mistakes.
func (a *app) registry() (*es.Registry, error) {
	reg := es.NewRegistry()
	a.register(reg)
	if err := reg.Err(); err != nil {
		return nil, failure("the application's registration: %v", err)
	}
	return reg, nil
}
