package es

import (
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// callerOutside returns "file:line: " of the first caller outside package es
// (the application's registration call), or "" when there is none.
func callerOutside() string {
	pcs := make([]uintptr, 16)
	n := goruntime.Callers(3, pcs)
	frames := goruntime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "github.com/consequent/consequent/es.") {
			if f.File == "" {
				return ""
			}
			return fmt.Sprintf("%s:%d: ", shortPath(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

// shortPath keeps the last two elements of a file's path: the package folder
// and the file, as Go's own messages show them.
func shortPath(file string) string {
	dir, name := filepath.Split(file)
	return filepath.Join(filepath.Base(dir), name)
}
