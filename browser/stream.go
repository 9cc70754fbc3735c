package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// eventView is an event with its payload ready to show.
type eventView struct {
	es.EventRecord
	Payload payload
	Whole   string // the event page, with the whole payload
}

// eventGroup is a run of events one command recorded, with the command.
type eventGroup struct {
	CommandID uuid.UUID
	Command   *commandView // nil when its record is missing
	Events    []eventView
}

type commandView struct {
	es.CommandRecord
	Payload payload
	Whole   string
}

type streamData struct {
	ID       uuid.UUID
	Info     es.StreamInfo
	From, To int64 // the versions on this page
	Earlier  string
	Later    string
	First    string
	Last     string
	Groups   []eventGroup
	State    stateView
	Spec     specView
	SpecURL  string
}

// stream shows one stream: a page of its events with their commands, its
// state as of a version (?at=) and its history as a spec (?spec=).
func (h *handler) stream(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, info, err := h.pathStream(r)
	if err != nil {
		return err
	}
	from, err := optionalVersion(r, "from", 1)
	if err != nil {
		return err
	}
	at, err := optionalVersion(r, "at", info.Version)
	if err != nil {
		return err
	}
	specAt := int64(-1)
	if s := r.URL.Query().Get("spec"); s != "" {
		if specAt, err = optionalVersion(r, "spec", 0); err != nil {
			return err
		}
	}
	switch {
	case from < 1 || from > info.Version:
		return notFound("Stream %s has versions 1 to %d; from=%d is outside them.", id, info.Version, from)
	case at < 1 || at > info.Version:
		return notFound("Stream %s has versions 1 to %d; at=%d is outside them.", id, info.Version, at)
	case specAt > info.Version:
		return notFound("Stream %s has versions 1 to %d; spec=%d is outside them.", id, info.Version, specAt)
	}

	d := streamData{ID: id, Info: info, From: from, To: min(from+int64(h.opts.PageSize)-1, info.Version)}
	page := func(from int64) string {
		q := r.URL.Query()
		q.Set("from", strconv.FormatInt(from, 10))
		return h.url("streams", id.String()) + "?" + q.Encode()
	}
	size := int64(h.opts.PageSize)
	if from > 1 {
		d.Earlier, d.First = page(max(1, from-size)), page(1)
	}
	if d.To < info.Version {
		d.Later, d.Last = page(d.To+1), page(max(1, info.Version-size+1))
	}
	recs, err := h.store.LoadStream(ctx, id, es.StreamQuery{FromVersion: d.From, ToVersion: d.To})
	if err != nil {
		return err
	}
	if d.Groups, err = h.groupByCommand(ctx, recs); err != nil {
		return err
	}
	if at > maxInlineState {
		d.State = stateView{Version: at, Deferred: true, Whole: h.url("streams", id.String(), "state") + "?version=" + strconv.FormatInt(at, 10)}
	} else if d.State, err = h.stateAt(ctx, id, info, at, h.opts.MaxPayload*4); err != nil {
		return err
	}
	if specAt < 0 {
		specAt = h.lastCommandStart(ctx, id, info)
	}
	if d.Spec, err = h.buildSpec(ctx, id, info, specAt); err != nil {
		return err
	}
	d.SpecURL = h.url("streams", id.String(), "spec") + "?version=" + strconv.FormatInt(d.Spec.Version, 10)
	h.render(w, r, http.StatusOK, "stream", pageOf(fmt.Sprintf("%s %s", info.Type, id), "streams", d))
	return nil
}

func pageOf(title, section string, data any) page {
	return page{Title: title, Section: section, Data: data}
}

// streamInfo is StreamInfo with a 404 for a stream that does not exist.
func (h *handler) streamInfo(ctx context.Context, id uuid.UUID) (es.StreamInfo, error) {
	info, err := h.store.StreamInfo(ctx, id)
	if errors.Is(err, es.ErrAggregateNotFound) {
		return info, notFound("There is no stream %s.", id)
	}
	return info, err
}

// pathStream returns the stream the request's path names, and its info: 400
// for a malformed id, 404 for an unknown stream.
func (h *handler) pathStream(r *http.Request) (uuid.UUID, es.StreamInfo, error) {
	id, err := pathID(r, "stream id")
	if err != nil {
		return id, es.StreamInfo{}, err
	}
	info, err := h.streamInfo(r.Context(), id)
	return id, info, err
}

// lastCommandStart returns the version before the last command's first event
// in the stream: the history its spec is given.
func (h *handler) lastCommandStart(ctx context.Context, id uuid.UUID, info es.StreamInfo) int64 {
	from := max(1, info.Version-int64(maxSpecEvents))
	recs, err := h.store.LoadStream(ctx, id, es.StreamQuery{FromVersion: from})
	if err != nil || len(recs) == 0 {
		return max(0, info.Version-1)
	}
	last := recs[len(recs)-1]
	v := last.Version - 1
	for i := len(recs) - 2; i >= 0 && recs[i].CommandID == last.CommandID; i-- {
		v = recs[i].Version - 1
	}
	return v
}

// groupByCommand splits events into runs by command and fetches the commands.
func (h *handler) groupByCommand(ctx context.Context, recs []es.EventRecord) ([]eventGroup, error) {
	var groups []eventGroup
	var ids []uuid.UUID
	for _, rec := range recs {
		if len(groups) == 0 || groups[len(groups)-1].CommandID != rec.CommandID {
			groups = append(groups, eventGroup{CommandID: rec.CommandID})
			ids = append(ids, rec.CommandID)
		}
		g := &groups[len(groups)-1]
		g.Events = append(g.Events, h.eventView(rec))
	}
	cmds, err := h.store.Commands(ctx, ids...)
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]*commandView{}
	for _, c := range cmds {
		byID[c.ID] = h.commandView(c, false)
	}
	for i := range groups {
		groups[i].Command = byID[groups[i].CommandID]
	}
	return groups, nil
}

func (h *handler) eventView(rec es.EventRecord) eventView {
	return eventView{EventRecord: rec, Payload: pretty(rec.Data, h.opts.MaxPayload),
		Whole: h.url("streams", rec.StreamID.String(), "events", strconv.FormatInt(rec.Version, 10))}
}

func (h *handler) commandView(c es.CommandRecord, whole bool) *commandView {
	limit := h.opts.MaxPayload
	if whole {
		limit = 0
	}
	return &commandView{CommandRecord: c, Payload: pretty(c.Data, limit), Whole: h.url("commands", c.ID.String()) + "?whole=1"}
}

type eventData struct {
	Event   eventView
	Command *commandView
	Info    es.StreamInfo
	Meta    []metaEntry
}

type metaEntry struct{ Key, Value string }

// event shows one event whole, with its envelope and command.
func (h *handler) event(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r, "stream id")
	if err != nil {
		return err
	}
	v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || v < 1 {
		return badRequest("%q is not a stream version (a whole number from 1).", r.PathValue("version"))
	}
	info, err := h.streamInfo(ctx, id)
	if err != nil {
		return err
	}
	recs, err := h.store.LoadStream(ctx, id, es.StreamQuery{FromVersion: v, ToVersion: v})
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return notFound("Stream %s has versions 1 to %d; there is no version %d.", id, info.Version, v)
	}
	d := eventData{Event: eventView{EventRecord: recs[0], Payload: pretty(recs[0].Data, 0)}, Info: info, Meta: sortedMeta(recs[0].Metadata)}
	cmds, err := h.store.Commands(ctx, recs[0].CommandID)
	if err != nil {
		return err
	}
	if len(cmds) == 1 {
		d.Command = h.commandView(cmds[0], false)
	}
	h.render(w, r, http.StatusOK, "event", pageOf(fmt.Sprintf("%s, version %d of %s %s", recs[0].Type, v, info.Type, id), "streams", d))
	return nil
}

// maxInlineState is the longest history a stream page rebuilds the state from
// by itself; a longer one is rebuilt on request, on the state page.
const maxInlineState = 2000

// stateView is an aggregate's state as of a version.
type stateView struct {
	Version  int64
	Deferred bool // too long a history to rebuild on the stream page
	Text     string
	Cut      bool
	Viewer   bool   // from the aggregate's ViewState, not its events
	Err      string // why there is no state to show
	Whole    string // the state page
}

// stateAt rebuilds the aggregate of a stream as of version v and shows its
// ViewState, or the JSON of its events; the text is cut after max bytes (max > 0).
func (h *handler) stateAt(ctx context.Context, id uuid.UUID, info es.StreamInfo, v int64, max int) (stateView, error) {
	s := stateView{Version: v, Whole: h.url("streams", id.String(), "state") + "?version=" + strconv.FormatInt(v, 10)}
	recs, err := h.store.LoadStream(ctx, id, es.StreamQuery{ToVersion: v})
	if err != nil {
		return s, err
	}
	envs := make([]es.Envelope, 0, len(recs))
	for _, rec := range recs {
		env, err := h.reg.Decode(rec)
		if err != nil {
			s.Err = err.Error()
			return s, nil
		}
		envs = append(envs, env)
	}
	var text []byte
	if a, err := h.reg.Rehydrate(info.Type, id, envs); err != nil {
		s.Err = err.Error()
		return s, nil
	} else if sv, ok := a.(StateViewer); ok {
		s.Viewer = true
		if text, err = viewState(sv); err != nil {
			s.Err = err.Error()
			return s, nil
		}
	} else {
		type event struct {
			Version int64           `json:"version"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		list := make([]event, len(recs))
		for i, rec := range recs {
			list[i] = event{rec.Version, rec.Type, json.RawMessage(rec.Data)}
			if !json.Valid(rec.Data) {
				list[i].Payload, _ = json.Marshal(string(rec.Data))
			}
		}
		if text, err = json.MarshalIndent(list, "", "  "); err != nil {
			return s, err
		}
	}
	p := pretty(text, max)
	s.Text, s.Cut = p.Text, p.Cut
	return s, nil
}

// viewState calls ViewState, which is the application's code: a panic becomes
// an error on the page.
func viewState(sv StateViewer) (text []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ViewState panicked: %v", p)
		}
	}()
	v := sv.ViewState()
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	text, err = json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ViewState returned a value that is not JSON: %w", err)
	}
	return text, nil
}

type stateData struct {
	ID    uuid.UUID
	Info  es.StreamInfo
	State stateView
}

// state shows an aggregate's state as of ?version= whole.
func (h *handler) state(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, info, err := h.pathStream(r)
	if err != nil {
		return err
	}
	v, err := optionalVersion(r, "version", info.Version)
	if err != nil {
		return err
	}
	if v < 1 || v > info.Version {
		return notFound("Stream %s has versions 1 to %d; version=%d is outside them.", id, info.Version, v)
	}
	d := stateData{ID: id, Info: info}
	if d.State, err = h.stateAt(ctx, id, info, v, 0); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "state", pageOf(fmt.Sprintf("%s %s as of version %d", info.Type, id, v), "streams", d))
	return nil
}

// specText serves the spec of a stream's history up to ?version= as Go source.
func (h *handler) specText(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, info, err := h.pathStream(r)
	if err != nil {
		return err
	}
	v := int64(-1)
	if r.URL.Query().Get("version") != "" {
		if v, err = optionalVersion(r, "version", 0); err != nil {
			return err
		}
		if v > info.Version {
			return notFound("Stream %s has versions 1 to %d; version=%d is outside them.", id, info.Version, v)
		}
	} else {
		v = h.lastCommandStart(ctx, id, info)
	}
	spec, err := h.buildSpec(ctx, id, info, v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(spec.Text))
	return nil
}

func sortedMeta(m map[string]string) []metaEntry {
	out := make([]metaEntry, 0, len(m))
	for k, v := range m {
		out = append(out, metaEntry{k, v})
	}
	slices.SortFunc(out, func(a, b metaEntry) int { return strings.Compare(a.Key, b.Key) })
	return out
}
