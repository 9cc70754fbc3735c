package main

import (
	"io"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/memstore"
)

var _ = Describe("the event browser's mount", func() {
	get := func(url string) (int, string) {
		GinkgoHelper()
		resp, err := http.Get(url)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		return resp.StatusCode, string(body)
	}

	It("is at /_consequent/ when the server listens on a loopback address", func() {
		url, stop := serve("-database-url", "")
		defer stop()
		code, body := get(url + "/_consequent/")
		Expect(code).To(Equal(http.StatusOK))
		Expect(body).To(ContainSubstring("<title>History · Blog event browser</title>"))
		code, _ = get(url + "/posts")
		Expect(code).To(Equal(http.StatusOK), "the API still answers")
	})

	It("is not mounted with -browser off", func() {
		url, stop := serve("-database-url", "", "-browser", "off")
		defer stop()
		code, _ := get(url + "/_consequent/")
		Expect(code).To(Equal(http.StatusNotFound))
	})

	It("is mounted by default only on a loopback address, and always with -browser on", func() {
		reg := es.NewRegistry()
		store := memstore.New()
		api := http.NewServeMux() // comparable, unlike a HandlerFunc
		for addr, loop := range map[string]bool{
			"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.0.0.2:80": true,
			":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.7:8080": false, "example.com:80": false, "8080": false,
		} {
			Expect(loopback(addr)).To(Equal(loop), addr)
			h, err := withBrowser(api, "auto", addr, reg, store)
			Expect(err).NotTo(HaveOccurred())
			Expect(h != api).To(Equal(loop), addr)
			h, err = withBrowser(api, "on", addr, reg, store)
			Expect(err).NotTo(HaveOccurred())
			Expect(h != api).To(BeTrue(), addr)
		}
		_, err := withBrowser(api, "yes", "127.0.0.1:80", reg, store)
		Expect(err).To(MatchError(`-browser "yes": use auto, on or off`))
	})
})
