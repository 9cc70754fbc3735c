package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/consequent/consequent/browser"
	"github.com/consequent/consequent/es"
)

// browserPath is where the blog mounts the event browser.
const browserPath = "/_consequent"

// withBrowser mounts the event browser at /_consequent/ beside the API, as
// mode says: "auto" only when the server listens on a loopback address (the
// browser shows every command and event, with what users typed), "on" always,
// "off" never.
func withBrowser(api http.Handler, mode, addr string, reg *es.Registry, store es.EventStore) (http.Handler, error) {
	switch mode {
	case "off":
		return api, nil
	case "auto":
		if !loopback(addr) {
			slog.Info("event browser off: the server does not listen on a loopback address only (-browser on mounts it anyway)", "addr", addr)
			return api, nil
		}
	case "on":
	default:
		return nil, fmt.Errorf("-browser %q: use auto, on or off", mode)
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle(browserPath+"/", browser.New(reg, store, browser.Options{
		Prefix:      browserPath,
		Title:       "Blog",
		SpecFixture: "blogSpec",
		// Whoever reaches the server may read the history: a loopback address
		// in auto mode, or whoever the operator let in with -browser on.
		Authorize: func(*http.Request) error { return nil },
	}))
	slog.Info("event browser at " + browserPath + "/")
	return mux, nil
}

// loopback reports whether addr (host:port) names a loopback host only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
