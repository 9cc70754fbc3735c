package main_test

import (
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/mod/modfile"
)

var _ = Describe("consequent new", func() {
	It("writes a project: a domain with its specs, a service, a Makefile and a README", func() {
		dir := GinkgoT().TempDir()
		r := consequent(dir, "new", "demo", "--consequent-path", repoRoot)
		expectOK(r)
		files := []string{
			"go.mod", "go.sum", "Makefile", "README.md", "main.go", "store.go", "handler.go",
			"main_suite_test.go", "handler_test.go",
			"todo/doc.go", "todo/register.go", "todo/task.go", "todo/task_added.go", "todo/task_completed.go",
			"todo/add_task.go", "todo/complete_task.go", "todo/repeat_task.go", "todo/task_projector.go",
			"todo/repeat_workflow.go", "todo/todo_suite_test.go", "todo/task_test.go",
			"todo/task_projector_test.go", "todo/repeat_workflow_test.go",
		}
		var written []string
		Expect(filepath.WalkDir(filepath.Join(dir, "demo"), func(name string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				written = append(written, filepath.ToSlash(strings.TrimPrefix(name, filepath.Join(dir, "demo")+"/")))
			}
			return err
		})).To(Succeed())
		Expect(written).To(ConsistOf(files))
		for _, f := range files {
			Expect(r.stdout).To(ContainSubstring("created demo/" + f + "\n"))
		}
		Expect(r.stdout).To(HaveSuffix("next:\n  cd demo\n" +
			"  make test    # every spec, in memory (and on PostgreSQL when one is found)\n" +
			"  go run .     # the HTTP API on :8080, in memory\n"))
		Expect(r.stderr).To(BeEmpty())
	})

	It("writes gofmt-formatted Go", func() {
		project := newProject()
		Expect(filepath.WalkDir(project, func(name string, d fs.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(name, ".go") {
				return err
			}
			src := readFile(name)
			formatted, err := format.Source([]byte(src))
			Expect(err).NotTo(HaveOccurred(), name)
			Expect(string(formatted)).To(Equal(src), name)
			return nil
		})).To(Succeed())
	})

	It("requires Consequent's own versions of its dependencies, with the ginkgo tool", func() {
		project := newProject()
		mod, err := modfile.Parse("go.mod", []byte(readFile(project, "go.mod")), nil)
		Expect(err).NotTo(HaveOccurred())
		ours, err := modfile.Parse("go.mod", []byte(readFile(repoRoot, "go.mod")), nil)
		Expect(err).NotTo(HaveOccurred())

		Expect(mod.Module.Mod.Path).To(Equal("demo"))
		Expect(mod.Go.Version).To(Equal(ours.Go.Version))
		Expect(mod.Tool).To(ContainElement(HaveField("Path", "github.com/onsi/ginkgo/v2/ginkgo")))
		Expect(mod.Replace).To(ConsistOf(HaveField("New.Path", repoRoot)))
		versions := map[string]string{}
		for _, r := range mod.Require {
			versions[r.Mod.Path] = r.Mod.Version
		}
		Expect(versions).To(HaveKey("github.com/consequent/consequent"))
		needed := strings.Fields(readFile(repoRoot, "cmd/consequent/templates/deps/needed.txt"))
		for _, r := range ours.Require {
			if !slices.Contains(needed, r.Mod.Path) {
				Expect(versions).NotTo(HaveKey(r.Mod.Path), "a project builds none of its packages")
				continue
			}
			if natsOnly(r.Mod.Path) {
				Expect(versions).NotTo(HaveKey(r.Mod.Path), "only package natspub needs it")
				continue
			}
			Expect(versions).To(HaveKeyWithValue(r.Mod.Path, r.Mod.Version))
		}
		Expect(readFile(project, "go.sum")).To(Equal(readFile(repoRoot, "go.sum")))
	})

	It("embeds current copies of Consequent's go.mod and go.sum", func() {
		for copied, original := range map[string]string{"consequent.mod": "go.mod", "consequent.sum": "go.sum"} {
			Expect(readFile("templates", "deps", copied)).To(Equal(readFile(repoRoot, original)),
				"templates/deps/%s is not a copy of %s: run go generate ./cmd/consequent", copied, original)
		}
	})

	It("names the module as --module says", func() {
		dir := GinkgoT().TempDir()
		expectOK(consequent(dir, "new", "demo", "--module", "example.com/me/demo", "--consequent-path", repoRoot))
		Expect(readFile(dir, "demo", "go.mod")).To(HavePrefix("module example.com/me/demo\n"))
		Expect(readFile(dir, "demo", "main.go")).To(ContainSubstring(`"example.com/me/demo/todo"`))
	})

	It("builds the in-memory store in one place, store.go", func() {
		project := newProject()
		var builders []string
		Expect(filepath.WalkDir(project, func(name string, d fs.DirEntry, err error) error {
			if err != nil || !strings.HasSuffix(name, ".go") {
				return err
			}
			if src := readFile(name); strings.Contains(src, "es.NewMemoryStore(") || strings.Contains(src, "memstore.New(") {
				builders = append(builders, filepath.Base(name))
			}
			return err
		})).To(Succeed())
		Expect(builders).To(Equal([]string{"store.go"}))
	})

	It("refuses a directory that exists, in one line, with exit code 1", func() {
		dir := GinkgoT().TempDir()
		Expect(os.Mkdir(filepath.Join(dir, "demo"), 0o755)).To(Succeed())
		r := consequent(dir, "new", "demo", "--consequent-path", repoRoot)
		Expect(r.code).To(Equal(1))
		Expect(r.stderr).To(Equal("consequent: demo exists already: nothing changed\n"))
		Expect(os.ReadDir(filepath.Join(dir, "demo"))).To(BeEmpty())
	})

	DescribeTable("refuses misuse in one line, with exit code 2",
		func(stderr string, args ...string) {
			dir := GinkgoT().TempDir()
			r := consequent(dir, args...)
			Expect(r.code).To(Equal(2))
			Expect(r.stderr).To(Equal(stderr + "\n"))
			Expect(os.ReadDir(dir)).To(BeEmpty())
		},
		Entry("no name", "consequent: usage: consequent new NAME [--module PATH] [--consequent-path DIR]", "new"),
		Entry("two names", "consequent: usage: consequent new NAME [--module PATH] [--consequent-path DIR]", "new", "a", "b"),
		Entry("a module path that is none", `consequent: module path "my app": invalid char ' ' (choose another with --module)`,
			"new", "demo", "--module", "my app"),
		Entry("a name that makes no command name", `consequent: project name "-x": use letters, digits, '-', '_' and '.', starting with a letter`,
			"new", "--", "-x"),
		Entry("a --consequent-path that is no checkout",
			"consequent: --consequent-path /: not a checkout of Consequent (no go.mod of github.com/consequent/consequent there)",
			"new", "demo", "--consequent-path", "/"),
		Entry("an unknown flag", "consequent: unknown flag: --modul (see consequent new --help)", "new", "demo", "--modul", "x"),
		Entry("an unknown command", `consequent: unknown command "old" for "consequent"`, "old", "demo"),
	)
})

// natsOnly reports whether Consequent requires module path for package natspub
// only (the NATS client and the specs' embedded server, and what they need).
func natsOnly(path string) bool {
	switch path {
	case "github.com/antithesishq/antithesis-sdk-go", "github.com/google/go-tpm", "github.com/minio/highwayhash", "golang.org/x/time":
		return true
	}
	return strings.HasPrefix(path, "github.com/nats-io/")
}
