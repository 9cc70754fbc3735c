package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

func newNewCommand() *cobra.Command {
	var opts newOptions
	c := &cobra.Command{
		Use:   "new NAME",
		Short: "Write a new project: a to-do list service, its specs, a Makefile",
		Long: `new writes the directory NAME: a to-do list service built with Consequent
(package todo), its Given/When/Then and projector specs on the in-memory store and
on PostgreSQL, an HTTP service, a Makefile and a README. make test passes at once.`,
		Args: exactArgs(1, "consequent new NAME [--module PATH] [--consequent-path DIR]"),
		RunE: work(func(c *cobra.Command, args []string) error {
			opts.dir = args[0]
			return newProject(c.OutOrStdout(), c.ErrOrStderr(), opts)
		}),
	}
	c.Flags().StringVar(&opts.module, "module", "", "the module path (default: NAME's last element)")
	c.Flags().StringVar(&opts.consequentPath, "consequent-path", "",
		"a checkout of Consequent for go.mod to use instead of a release (a replace directive)")
	return c
}

type newOptions struct {
	dir, module, consequentPath string
}

// projectData is what the templates of a new project see.
type projectData struct {
	Name              string // the directory's name: the command's and the README's
	Module            string
	GoVersion         string
	ConsequentVersion string
	ConsequentPath    string // absolute, or "" for none
	Requires          []requirement
}

// newProject writes the project directory; on a failure it removes what it wrote.
func newProject(stdout, stderr io.Writer, opts newOptions) (err error) {
	data, err := newProjectData(opts)
	if err != nil {
		return err
	}
	files, err := renderProject(data)
	if err != nil {
		return err
	}
	if err := os.Mkdir(opts.dir, 0o755); err != nil {
		if os.IsExist(err) {
			return failure("%s exists already: nothing changed", opts.dir)
		}
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(opts.dir)
		}
	}()
	for _, f := range files {
		name := filepath.Join(opts.dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, f.content, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "created", name)
	}
	printNextSteps(stdout, stderr, opts.dir, data)
	return nil
}

func newProjectData(opts newOptions) (projectData, error) {
	data := projectData{Name: filepath.Base(filepath.Clean(opts.dir)), Module: opts.module}
	if !validName(data.Name) {
		return data, misuse("project name %q: use letters, digits, '-', '_' and '.', starting with a letter", data.Name)
	}
	if data.Module == "" {
		data.Module = data.Name
	}
	if err := module.CheckImportPath(data.Module); err != nil {
		return data, misuse("module path %q: %v (choose another with --module)", data.Module, unwrapModuleError(err))
	}
	if opts.consequentPath != "" {
		dir, err := consequentCheckout(opts.consequentPath)
		if err != nil {
			return data, err
		}
		data.ConsequentPath, data.ConsequentVersion = dir, develVersion
	} else if data.ConsequentVersion = consequentVersion(); data.ConsequentVersion == "" {
		data.ConsequentVersion = develVersion
	}
	var err error
	data.GoVersion, data.Requires, err = projectDeps()
	return data, err
}

// validName reports whether a project may be named name: it names the command
// and shows in its messages.
func validName(name string) bool {
	for i, r := range name {
		letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if !letter && (i == 0 || !strings.ContainsRune("0123456789-_.", r)) {
			return false
		}
	}
	return name != ""
}

// consequentCheckout returns the absolute path of dir, a checkout of Consequent.
func consequentCheckout(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil || modfile.ModulePath(mod) != consequentModule {
		return "", misuse("--consequent-path %s: not a checkout of Consequent (no go.mod of %s there)", dir, consequentModule)
	}
	return abs, nil
}

// unwrapModuleError drops the path that module's errors repeat.
func unwrapModuleError(err error) error {
	if e, ok := err.(*module.InvalidPathError); ok {
		return e.Err
	}
	return err
}

// projectFile is a file of a new project, at a slash-separated path.
type projectFile struct {
	path    string
	content []byte
}

// renderProject renders every file of templates/project, and go.sum.
func renderProject(data projectData) ([]projectFile, error) {
	files := []projectFile{{path: "go.sum", content: consequentSum}}
	err := fs.WalkDir(templates, "templates/project", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(name, "templates/")
		content, err := render(rel, data)
		if err != nil {
			return err
		}
		files = append(files, projectFile{path: strings.TrimSuffix(strings.TrimPrefix(rel, "project/"), ".tmpl"), content: content})
		return nil
	})
	return files, err
}

func printNextSteps(stdout, stderr io.Writer, dir string, data projectData) {
	fmt.Fprintln(stdout, "next:")
	fmt.Fprintln(stdout, "  cd", dir)
	if data.ConsequentPath == "" {
		version := data.ConsequentVersion
		if version == develVersion {
			version = "latest"
			fmt.Fprintf(stderr, "note: this consequent has no release version (it was built from a checkout): "+
				"get one as below, or run new again with --consequent-path set to the checkout\n")
		}
		fmt.Fprintf(stdout, "  go get %s@%s   # fetch Consequent and its checksums\n", consequentModule, version)
	}
	fmt.Fprintln(stdout, "  make test    # every spec, in memory (and on PostgreSQL when one is found)")
	fmt.Fprintln(stdout, "  go run .     # the HTTP API on :8080, in memory")
}
