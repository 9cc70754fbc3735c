package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/pgstore/pgtest"
)

// serve runs the blog server as `go run ./examples/blog` would, with args, until
// the returned stop is called; it returns the server's base URL.
func serve(args ...string) (url string, stop func()) {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"-addr", addr}, args...)) }()
	url = "http://" + addr
	Eventually(func() error {
		resp, err := http.Get(url + "/posts")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}).WithTimeout(10 * time.Second).Should(Succeed())
	return url, func() {
		cancel()
		Eventually(done).WithTimeout(15 * time.Second).Should(Receive(BeNil()))
	}
}

var _ = Describe("the blog server", func() {
	It("serves in memory by default", func() {
		url, stop := serve("-database-url", "")
		defer stop()
		resp, err := http.Post(url+"/posts", "application/json", strings.NewReader(`{"author":"ben","title":"T","content":"C"}`))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusCreated))
	})

	It("keeps everything in PostgreSQL across a restart", Label(pgtest.Label), func(ctx SpecContext) {
		_, err := pgtest.Pool(ctx) // skips, or fails under make integration-test, without a server
		Expect(err).NotTo(HaveOccurred())
		db, err := pgtest.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		dsn, drop, err := db.TempDatabase(ctx, false) // an empty database: the server migrates it
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(drop)

		url, stop := serve("-database-url", dsn)
		resp, err := http.Post(url+"/posts", "application/json", strings.NewReader(`{"author":"ben","title":"Kept","content":"C"}`))
		Expect(err).NotTo(HaveOccurred())
		var created struct{ ID string }
		Expect(json.NewDecoder(resp.Body).Decode(&created)).To(Succeed())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusCreated))
		publish, err := http.Post(url+"/posts/"+created.ID+"/publish", "application/json", nil)
		Expect(err).NotTo(HaveOccurred())
		publish.Body.Close()
		stop()

		url, stop = serve("-database-url", dsn) // migrating again is a no-op
		defer stop()
		resp, err = http.Get(fmt.Sprintf("%s/posts/%s", url, created.ID))
		Expect(err).NotTo(HaveOccurred())
		var post struct {
			Title       string
			PublishedAt *time.Time `json:"published_at"`
		}
		Expect(json.NewDecoder(resp.Body).Decode(&post)).To(Succeed())
		resp.Body.Close()
		Expect(post.Title).To(Equal("Kept"))
		Expect(post.PublishedAt).NotTo(BeNil())
		resp, err = http.Post(url+"/posts/"+created.ID+"/publish", "application/json", nil)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusConflict), "the history came back: it is published already")
	})
})
