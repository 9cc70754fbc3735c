package es

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// DryRunReport tells what executing commands would do: the handler's events, the
// projectors and workflows each event would reach, and the commands the workflows
// would issue. Nothing is stored.
type DryRunReport struct {
	Commands []DryRunCommand
}

// DryRunCommand is the dry run of one command.
type DryRunCommand struct {
	Name    string // the command's registered name
	Command any
	Err     error // why it would fail (validation, handler, encoding), or nil
	Events  []DryRunEvent
}

// DryRunEvent is one event a command would record.
type DryRunEvent struct {
	Envelope
	Projectors []string // projectors that would handle it
	Workflows  []string // workflows that react to it
	Commands   []any    // commands the workflows would issue
}

// DryRun runs each command's validation and handler against the current state of
// the store, and reports what would happen, storing nothing (Sequent's dry_run).
// Each command sees the store as it is, not the effects of the commands before it.
// Middleware does not run. The error is for failures of the dry run itself; a
// command that would fail is reported in its DryRunCommand.Err.
func (s *CommandService) DryRun(ctx context.Context, cmds ...any) (*DryRunReport, error) {
	rep := &DryRunReport{}
	for _, cmd := range cmds {
		dc := DryRunCommand{Command: cmd, Name: fmt.Sprintf("%T", cmd)}
		dc.Err = s.dryRun(ctx, cmd, &dc)
		rep.Commands = append(rep.Commands, dc)
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *CommandService) dryRun(ctx context.Context, cmd any, dc *DryRunCommand) error {
	h, err := s.rt.handlerFor(cmd)
	if err != nil {
		return err
	}
	dc.Name = h.name
	if err := validate(h.name, cmd); err != nil {
		return err
	}
	u := newUnitOfWork(s.rt)
	if err := callHandler(ctx, h, u, cmd); err != nil {
		return fmt.Errorf("es: command %s: %w", h.name, err)
	}
	c, err := s.rt.buildCommit(u, h.name, cmd, execMeta{})
	if err != nil {
		return fmt.Errorf("es: command %s: %w", h.name, err)
	}
	envs, err := s.rt.decodeCommit(c)
	if err != nil {
		return fmt.Errorf("es: command %s: %w", h.name, err)
	}
	for _, env := range envs {
		de := DryRunEvent{Envelope: env}
		for _, p := range s.rt.reg.projectors {
			if p.Handles(env.Event) {
				de.Projectors = append(de.Projectors, p.name)
			}
		}
		for _, w := range s.rt.reg.workflows {
			if !w.Handles(env.Event) {
				continue
			}
			de.Workflows = append(de.Workflows, w.name)
			issued, err := w.Run(ctx, s.rt.clock, s.rt.ids, env)
			if err != nil {
				return err
			}
			de.Commands = append(de.Commands, issued...)
		}
		dc.Events = append(dc.Events, de)
	}
	return nil
}

// Print writes the report as an indented outline.
func (r *DryRunReport) Print(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Commands {
		fmt.Fprintf(&b, "%s %+v\n", c.Name, c.Command)
		if c.Err != nil {
			fmt.Fprintf(&b, "  fails: %v\n", c.Err)
			continue
		}
		if len(c.Events) == 0 {
			b.WriteString("  no events\n")
		}
		for _, e := range c.Events {
			fmt.Fprintf(&b, "  %s v%d %s %s\n", e.Type, e.Version, e.StreamID, e.Data)
			if len(e.Projectors) > 0 {
				fmt.Fprintf(&b, "    projectors: %s\n", strings.Join(e.Projectors, ", "))
			}
			if len(e.Workflows) > 0 {
				fmt.Fprintf(&b, "    workflows: %s\n", strings.Join(e.Workflows, ", "))
			}
			for _, cmd := range e.Commands {
				fmt.Fprintf(&b, "    would execute %T %+v\n", cmd, cmd)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
