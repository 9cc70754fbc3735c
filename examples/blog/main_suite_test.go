package main

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/pgstore/pgtest"
)

func TestBlogServer(t *testing.T) {
	RegisterFailHandler(Fail)
	defer pgtest.Close()
	RunSpecs(t, "Blog server")
}
