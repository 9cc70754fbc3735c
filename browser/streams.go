package browser

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// handle adapts a page that returns an error.
func (h *handler) handle(page func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := page(w, r); err != nil {
			h.failWith(w, r, err)
		}
	}
}

type homeData struct {
	CanBrowse bool
	Store     string
	Streams   []es.StreamSummary
	Commands  []es.CommandRecord
}

// home shows the latest streams and commands.
func (h *handler) home(w http.ResponseWriter, r *http.Request) error {
	d := homeData{CanBrowse: h.browse != nil}
	d.Store = storeName(h.store)
	if h.browse != nil {
		var err error
		if d.Streams, err = h.browse.Streams(r.Context(), es.StreamsQuery{Limit: 10}); err != nil {
			return err
		}
		if d.Commands, err = h.browse.FindCommands(r.Context(), es.CommandQuery{Limit: 10}); err != nil {
			return err
		}
	}
	h.render(w, r, http.StatusOK, "home", page{Title: "History", Data: d})
	return nil
}

type streamsData struct {
	Types   []string // the registered aggregate types, for the filter
	Type    string
	Streams []es.StreamSummary
	Older   string // the next page's URL, "" on the last page
	Newest  string // the first page's URL, "" on it
}

// streams lists streams, most recently written first; ?type= filters, ?before=
// pages, ?id= jumps to a stream.
func (h *handler) streams(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if s := q.Get("id"); s != "" {
		id, err := parseID("stream id", s)
		if err != nil {
			return err
		}
		http.Redirect(w, r, h.url("streams", id.String()), http.StatusSeeOther)
		return nil
	}
	if h.browse == nil {
		return h.cannotBrowse()
	}
	before, err := optionalCursor(r, "before")
	if err != nil {
		return err
	}
	d := streamsData{Types: aggregateNames(h.reg), Type: q.Get("type")}
	d.Streams, err = h.browse.Streams(r.Context(), es.StreamsQuery{Type: d.Type, Before: before, Limit: h.opts.PageSize + 1})
	if err != nil {
		return err
	}
	link := url.Values{}
	if d.Type != "" {
		link.Set("type", d.Type)
	}
	if len(d.Streams) > h.opts.PageSize {
		d.Streams = d.Streams[:h.opts.PageSize]
		link.Set("before", formatCursor(d.Streams[len(d.Streams)-1].Last))
		d.Older = h.query("streams", link)
		link.Del("before")
	}
	if before != (es.Cursor{}) {
		d.Newest = h.query("streams", link)
	}
	title := "Streams"
	if d.Type != "" {
		title = "Streams of type " + d.Type
	}
	h.render(w, r, http.StatusOK, "streams", page{Title: title, Section: "streams", Data: d})
	return nil
}

type searchData struct {
	Query string
	Kind  string
	Tried []string // what was looked for, when nothing was found
}

// searchKinds are what a search may look for, in the order an id is tried.
var searchKinds = []string{"stream", "command", "correlation", "user"}

// search finds a stream, a command, a flow (correlation id) or a user's
// commands, and redirects to its page; ?kind= says which to look for.
func (h *handler) search(w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	kind := r.URL.Query().Get("kind")
	d := searchData{Query: q, Kind: kind}
	if kind != "" && !slices.Contains(searchKinds, kind) {
		return badRequest("kind=%q: search for one of %s.", kind, strings.Join(searchKinds, ", "))
	}
	if q == "" {
		h.render(w, r, http.StatusOK, "search", page{Title: "Search", Data: d})
		return nil
	}
	kinds := searchKinds
	if kind != "" {
		kinds = []string{kind}
	}
	id, idErr := uuid.Parse(q)
	if idErr != nil && kind != "" && kind != "user" {
		return badRequest("%q is not a UUID: a %s is found by its id.", q, kind)
	}
	ctx := r.Context()
	for _, k := range kinds {
		if k != "user" && idErr != nil {
			continue
		}
		var found bool
		var target string
		switch k {
		case "stream":
			_, err := h.store.StreamInfo(ctx, id)
			if err != nil && !errors.Is(err, es.ErrAggregateNotFound) {
				return err
			}
			found, target = err == nil, h.url("streams", id.String())
		case "command":
			cmds, err := h.store.Commands(ctx, id)
			if err != nil {
				return err
			}
			found, target = len(cmds) > 0, h.url("commands", id.String())
		case "correlation":
			if h.browse == nil {
				continue
			}
			cmds, err := h.browse.FindCommands(ctx, es.CommandQuery{CorrelationID: id, Limit: 1})
			if err != nil {
				return err
			}
			found, target = len(cmds) > 0, h.url("commands")+"?correlation="+id.String()
		case "user":
			if h.browse == nil {
				continue
			}
			cmds, err := h.browse.FindCommands(ctx, es.CommandQuery{UserID: q, Limit: 1})
			if err != nil {
				return err
			}
			found, target = len(cmds) > 0, h.url("commands")+"?user="+url.QueryEscape(q)
		}
		if found {
			http.Redirect(w, r, target, http.StatusSeeOther)
			return nil
		}
		d.Tried = append(d.Tried, k)
	}
	h.render(w, r, http.StatusNotFound, "search", page{Title: "Nothing found", Data: d})
	return nil
}

// storeName names the store's type for the pages.
func storeName(s es.EventStore) string { return strings.TrimPrefix(fmt.Sprintf("%T", s), "*") }

// aggregateNames lists the registered aggregate types' names, sorted.
func aggregateNames(reg *es.Registry) []string {
	var out []string
	for _, t := range reg.AggregateTypes() {
		out = append(out, t.Name())
	}
	return out
}
