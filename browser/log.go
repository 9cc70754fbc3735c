package browser

import (
	"net/http"

	"github.com/consequent/consequent/es"
)

type logData struct {
	Types  []string // the registered event types, for the filter
	Type   string
	Since  string // as the form shows them
	Until  string
	Events []eventView
	Newer  string // the page before this one, "" on the first
	Older  string // the page after this one, "" on the last
	Newest string
}

// log shows the global log newest first, filtered by ?type=, ?since= and
// ?until=, paged by ?before= (older) and ?after= (newer) cursors.
func (h *handler) log(w http.ResponseWriter, r *http.Request) error {
	if h.browse == nil {
		return h.cannotBrowse()
	}
	query := r.URL.Query()
	q := es.LogQuery{Limit: h.opts.PageSize + 1}
	var err error
	if typ := query.Get("type"); typ != "" {
		q.Types = []string{typ}
	}
	if q.Since, err = optionalTime(r, "since"); err != nil {
		return err
	}
	if q.Until, err = optionalTime(r, "until"); err != nil {
		return err
	}
	if q.Before, err = optionalCursor(r, "before"); err != nil {
		return err
	}
	if q.After, err = optionalCursor(r, "after"); err != nil {
		return err
	}
	if q.Before != (es.Cursor{}) && q.After != (es.Cursor{}) {
		return badRequest("Give before= (older events) or after= (newer events), not both.")
	}
	recs, err := h.browse.Log(r.Context(), q)
	if err != nil {
		return err
	}
	d := logData{Types: h.reg.EventTypes(), Type: query.Get("type"), Since: datetimeLocal(q.Since), Until: datetimeLocal(q.Until)}
	more := len(recs) > h.opts.PageSize
	if more {
		if q.After != (es.Cursor{}) {
			recs = recs[1:] // a newer page keeps the events right after the cursor
		} else {
			recs = recs[:h.opts.PageSize]
		}
	}
	for _, rec := range recs {
		d.Events = append(d.Events, h.eventView(rec))
	}
	link := func(name string, c es.Cursor) string {
		v := cloneValues(query)
		v.Del("before")
		v.Del("after")
		if name != "" {
			v.Set(name, formatCursor(c))
		}
		return h.query("log", v)
	}
	onFirst := q.Before == (es.Cursor{}) && (q.After == (es.Cursor{}) || !more)
	if len(recs) > 0 {
		if !onFirst {
			d.Newer = link("after", recs[0].Cursor())
		}
		if more || q.After != (es.Cursor{}) {
			d.Older = link("before", recs[len(recs)-1].Cursor())
		}
	}
	if !onFirst {
		d.Newest = link("", es.Cursor{})
	}
	title := "The log"
	if d.Type != "" {
		title = "The log: " + d.Type
	}
	h.render(w, r, http.StatusOK, "log", page{Title: title, Section: "log", Data: d})
	return nil
}
