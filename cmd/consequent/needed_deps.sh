#!/bin/sh
# Lists the modules whose packages a new project builds, on every platform Go
# supports (go mod tidy considers them all): templates/deps/needed.txt, read by
# deps.go.
set -eu
go tool dist list | while IFS=/ read -r os arch; do
	for cgo in 0 1; do CGO_ENABLED=$cgo GOOS=$os GOARCH=$arch go list -e -deps -f '{{with .Module}}{{.Path}}{{end}}' \
		github.com/consequent/consequent/es github.com/consequent/consequent/estest \
		github.com/consequent/consequent/projectortest github.com/consequent/consequent/memstore \
		github.com/consequent/consequent/pgstore github.com/consequent/consequent/pgstore/pgtest \
		github.com/onsi/ginkgo/v2 github.com/onsi/ginkgo/v2/ginkgo github.com/onsi/gomega; done
done | sort -u >templates/deps/needed.txt
