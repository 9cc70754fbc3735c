package browser

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/consequent/consequent/es"
)

// Options configures the browser. The zero value serves nothing: its nil
// Authorize refuses every request.
type Options struct {
	// Authorize decides whether a request may read the history: return nil to
	// allow it, an error to refuse it (403, with the error's message). It runs
	// before anything else, for every request, assets included. Nil refuses every
	// request, so that a browser mounted by accident exposes nothing.
	Authorize func(*http.Request) error

	// Prefix is the path the handler is mounted at, such as "/_consequent"; its
	// links start with it. The handler serves the paths under it and strips it
	// itself, so mount it without http.StripPrefix:
	//
	//	mux.Handle("/_consequent/", browser.New(reg, store, browser.Options{Prefix: "/_consequent", …}))
	Prefix string

	// PageSize is the number of rows (streams, events, commands) per page; 0
	// means 50.
	PageSize int

	// MaxPayload is the number of bytes of a pretty-printed payload shown in a
	// list before it is cut, with a link to see it whole; 0 means 2048.
	MaxPayload int

	// Title names the application in the pages' header; "" means "Consequent".
	Title string

	// SpecFixture is the Go expression of the estest fixture in the specs the
	// stream pages offer to copy, such as "blogSpec"; "" means "spec".
	SpecFixture string

	// Logger receives the errors of the store that pages show as 500; nil means
	// slog.Default().
	Logger *slog.Logger
}

// StateViewer is implemented by aggregates that show their state in the
// browser: the stream page rebuilds the aggregate as of a version and shows
// what ViewState returns, as indented JSON (a string as it is). Aggregates that
// do not implement it are shown as the JSON of their events.
//
//	func (p *Post) ViewState() any {
//		return struct{ Author, Title string; Published bool }{p.author, p.title, p.published}
//	}
type StateViewer interface {
	ViewState() any
}

//go:embed templates assets
var files embed.FS

// handler is the browser: its pages read the registry and the store.
type handler struct {
	reg    *es.Registry
	store  es.EventStore
	browse es.BrowseStore // nil when the store cannot browse
	opts   Options
	pages  map[string]*template.Template
	assets map[string]asset
	mux    *http.ServeMux
}

type asset struct {
	body        []byte
	contentType string
	version     string // a hash of body, for cache busting
}

// New returns the browser: a read-only [http.Handler] that shows the history
// kept in store, decoded with reg (the registry the application's command
// service is built from). Mount it under opts.Prefix and set opts.Authorize.
// The handler is safe for concurrent use.
//
// Pages that list history (streams, commands, the log, search) need a store that
// implements [es.BrowseStore] (memstore and pgstore do); the projectors page
// needs an [es.ReadModelStore]. With another store those pages say so.
func New(reg *es.Registry, store es.EventStore, opts Options) http.Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 2048
	}
	if opts.Title == "" {
		opts.Title = "Consequent"
	}
	if opts.SpecFixture == "" {
		opts.SpecFixture = "spec"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	h := &handler{reg: reg, store: store, opts: opts, assets: loadAssets()}
	h.browse, _ = store.(es.BrowseStore)
	h.pages = h.parseTemplates()

	mux := http.NewServeMux()
	p := opts.Prefix
	mux.HandleFunc("GET "+p+"/{$}", h.handle(h.home))
	mux.HandleFunc("GET "+p+"/streams", h.handle(h.streams))
	mux.HandleFunc("GET "+p+"/streams/{id}", h.handle(h.stream))
	mux.HandleFunc("GET "+p+"/streams/{id}/events/{version}", h.handle(h.event))
	mux.HandleFunc("GET "+p+"/streams/{id}/state", h.handle(h.state))
	mux.HandleFunc("GET "+p+"/streams/{id}/spec", h.handle(h.specText))
	mux.HandleFunc("GET "+p+"/commands", h.handle(h.commands))
	mux.HandleFunc("GET "+p+"/commands/{id}", h.handle(h.command))
	mux.HandleFunc("GET "+p+"/log", h.handle(h.log))
	mux.HandleFunc("GET "+p+"/projectors", h.handle(h.projectors))
	mux.HandleFunc("GET "+p+"/search", h.handle(h.search))
	mux.HandleFunc("GET "+p+"/assets/{name}", h.asset)
	mux.HandleFunc(p+"/", h.notFound)
	if p != "" {
		mux.HandleFunc("/", h.notFound)
	}
	h.mux = mux
	return h
}

// contentSecurityPolicy allows the handler's own stylesheet and script, no
// inline script or style, no plugins, frames or connections.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'"

// ServeHTTP implements [http.Handler]: it sets the security headers, asks
// Options.Authorize, and serves GET and HEAD requests only.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if h.opts.Authorize == nil {
		h.fail(w, r, http.StatusForbidden, "Not authorised",
			"The event browser refuses every request until its Options.Authorize is set: "+
				"give browser.New an Options.Authorize function that returns nil for the requests you trust.")
		return
	}
	if err := h.opts.Authorize(r); err != nil {
		h.fail(w, r, http.StatusForbidden, "Not authorised", "Options.Authorize refused this request: "+err.Error())
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		h.fail(w, r, http.StatusMethodNotAllowed, "Read-only", "The event browser only reads: it answers GET and HEAD requests.")
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, http.StatusNotFound, "Not found", "There is no page at "+r.URL.Path+".")
}

// url returns the path of a page under the prefix.
func (h *handler) url(parts ...string) string {
	return h.opts.Prefix + "/" + strings.Join(parts, "/")
}

// query returns the URL of a page with a query string (none when q is empty).
func (h *handler) query(page string, q url.Values) string {
	if len(q) == 0 {
		return h.url(page)
	}
	return h.url(page) + "?" + q.Encode()
}

func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("name")]
	if !ok {
		h.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Header().Set("ETag", `"`+a.version+`"`)
	if r.Header.Get("If-None-Match") == `"`+a.version+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}

func loadAssets() map[string]asset {
	out := map[string]asset{}
	entries, err := fs.ReadDir(files, "assets")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	for _, e := range entries {
		body, err := files.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		out[e.Name()] = asset{body: body, contentType: types[path.Ext(e.Name())], version: hex.EncodeToString(sum[:8])}
	}
	return out
}

// httpError is an error a page answers with its own status.
type httpError struct {
	status     int
	title, msg string
}

func (e *httpError) Error() string { return e.msg }

// badRequest makes a 400 for malformed input.
func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, title: "Bad request", msg: fmt.Sprintf(format, args...)}
}

// notFound makes a 404 for an id the store does not know.
func notFound(format string, args ...any) error {
	return &httpError{status: http.StatusNotFound, title: "Not found", msg: fmt.Sprintf(format, args...)}
}

// cannotBrowse is the answer of the pages that need an es.BrowseStore.
func (h *handler) cannotBrowse() error {
	return &httpError{status: http.StatusNotImplemented, title: "Not available",
		msg: fmt.Sprintf("This page needs a store that implements es.BrowseStore; %T does not (memstore and pgstore do).", h.store)}
}

// failWith answers with the page of err: its own status for an *httpError, else
// 500 (logged; the page does not show the store's message).
func (h *handler) failWith(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		h.fail(w, r, he.status, he.title, he.msg)
		return
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	h.opts.Logger.ErrorContext(r.Context(), "browser: "+r.URL.Path, "err", err)
	h.fail(w, r, http.StatusInternalServerError, "The store failed",
		"Reading the history failed; the application's log has the details.")
}

// fail renders the error page.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	h.render(w, r, status, "error", page{Title: title, Data: msg})
}
