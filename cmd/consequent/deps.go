package main

import (
	_ "embed"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Consequent's own go.mod and go.sum (copied by go generate; a spec checks the
// copies are current). A new project requires the same versions, so that it
// builds and tests offline from a module cache that builds Consequent, without
// go mod tidy.
var (
	//go:embed templates/deps/consequent.mod
	consequentMod []byte
	//go:embed templates/deps/consequent.sum
	consequentSum []byte
)

const consequentModule = "github.com/consequent/consequent"

// directDeps are the modules a new project's own code imports; its other
// requirements are indirect.
var directDeps = map[string]bool{
	"github.com/google/uuid":    true,
	"github.com/jackc/pgx/v5":   true,
	"github.com/onsi/ginkgo/v2": true,
	"github.com/onsi/gomega":    true,
	consequentModule:            true,
}

// toolOnlyDeps are required by this command only, not by the packages a project
// imports.
var toolOnlyDeps = map[string]bool{
	"github.com/spf13/cobra":               true,
	"github.com/spf13/pflag":               true,
	"github.com/inconshreveable/mousetrap": true,
}

// natsOnlyDeps are required by package natspub (and its specs' embedded
// server) only: a new project does not import it, and go mod tidy would drop
// them. A project that publishes to NATS adds them with go get.
var natsOnlyDeps = map[string]bool{
	"github.com/nats-io/nats-server/v2":         true,
	"github.com/nats-io/nats.go":                true,
	"github.com/nats-io/jwt/v2":                 true,
	"github.com/nats-io/nkeys":                  true,
	"github.com/nats-io/nuid":                   true,
	"github.com/antithesishq/antithesis-sdk-go": true,
	"github.com/google/go-tpm":                  true,
	"github.com/minio/highwayhash":              true,
	"golang.org/x/time":                         true,
}

// requirement is a line of a go.mod require block.
type requirement struct {
	Path, Version string
	Indirect      bool
}

// projectDeps returns the go version and the requirements of a new project, but
// for Consequent itself, from Consequent's go.mod.
func projectDeps() (goVersion string, reqs []requirement, err error) {
	f, err := modfile.ParseLax("consequent.mod", consequentMod, nil)
	if err != nil {
		return "", nil, fmt.Errorf("the embedded go.mod of Consequent: %w", err)
	}
	for _, r := range f.Require {
		if toolOnlyDeps[r.Mod.Path] || natsOnlyDeps[r.Mod.Path] {
			continue
		}
		reqs = append(reqs, requirement{Path: r.Mod.Path, Version: r.Mod.Version, Indirect: !directDeps[r.Mod.Path]})
	}
	slices.SortFunc(reqs, func(a, b requirement) int { return strings.Compare(a.Path, b.Path) })
	return f.Go.Version, reqs, nil
}

// develVersion is the version a project requires of Consequent when it replaces
// it by a directory or when this command has no version of its own.
const develVersion = "v0.0.0-00010101000000-000000000000"

// consequentVersion is the version of Consequent this command was built from,
// when it has one a go.mod can require (go install …@v1.2.3), else "".
func consequentVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := info.Main.Version
	if semver.Build(v) != "" || module.Check(consequentModule, v) != nil {
		return "" // (devel), or a +dirty checkout
	}
	return v
}
