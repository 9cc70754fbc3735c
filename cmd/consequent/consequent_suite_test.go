package main_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/consequent/consequent/pgstore/pgtest"
)

func TestConsequent(t *testing.T) {
	RegisterFailHandler(Fail)
	defer pgtest.Close()
	RunSpecs(t, "consequent command")
}

// The specs run the command as a user does: built once, in temporary directories.
// Those labelled slow also run go in the projects it writes (from the module
// cache, with GOPROXY=off).
var (
	binary   string // the consequent command, built
	repoRoot string // this checkout of Consequent, for --consequent-path
)

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("github.com/consequent/consequent/cmd/consequent")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(path []byte) {
	binary = string(path)
	var err error
	repoRoot, err = filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
})

var _ = SynchronizedAfterSuite(func() {}, gexec.CleanupBuildArtifacts)

// result is what a command printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// consequent runs the command in dir.
func consequent(dir string, args ...string) result {
	GinkgoHelper()
	return execIn(dir, nil, binary, args...)
}

// goCmd runs the go command in dir, offline: the module cache must hold all a
// project needs.
func goCmd(dir string, args ...string) result {
	GinkgoHelper()
	return execIn(dir, []string{"GOPROXY=off", "GOWORK=off"}, "go", args...)
}

func execIn(dir string, env []string, name string, args ...string) result {
	GinkgoHelper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		Fail(err.Error())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// newProject writes a project named demo in a temporary directory, on this
// checkout, and returns its directory.
func newProject() string {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	expectOK(consequent(dir, "new", "demo", "--consequent-path", repoRoot))
	return filepath.Join(dir, "demo")
}

// expectOK requires exit code 0, showing the output otherwise.
func expectOK(r result) {
	GinkgoHelper()
	Expect(r.code).To(BeZero(), "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
}

// readFile returns the file's content.
func readFile(elem ...string) string {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(elem...))
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}
