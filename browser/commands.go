package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

type commandsData struct {
	User        string
	Correlation uuid.UUID
	Since       string // as the form shows them
	Until       string
	Commands    []es.CommandRecord
	Older       string
	Newest      string
}

// commands lists command records newest first, filtered by ?user=,
// ?correlation= (a flow), ?since= and ?until=, paged by ?before=.
func (h *handler) commands(w http.ResponseWriter, r *http.Request) error {
	if h.browse == nil {
		return h.cannotBrowse()
	}
	q := es.CommandQuery{UserID: r.URL.Query().Get("user"), Limit: h.opts.PageSize + 1}
	var err error
	if q.CorrelationID, err = optionalID(r, "correlation", "correlation id"); err != nil {
		return err
	}
	if q.Since, err = optionalTime(r, "since"); err != nil {
		return err
	}
	if q.Until, err = optionalTime(r, "until"); err != nil {
		return err
	}
	if q.Before, err = optionalCommandCursor(r, "before"); err != nil {
		return err
	}
	d := commandsData{User: q.UserID, Correlation: q.CorrelationID, Since: datetimeLocal(q.Since), Until: datetimeLocal(q.Until)}
	if d.Commands, err = h.browse.FindCommands(r.Context(), q); err != nil {
		return err
	}
	link := r.URL.Query()
	link.Del("before")
	if len(d.Commands) > h.opts.PageSize {
		d.Commands = d.Commands[:h.opts.PageSize]
		older := cloneValues(link)
		older.Set("before", formatCommandCursor(es.CursorOf(d.Commands[len(d.Commands)-1])))
		d.Older = h.query("commands", older)
	}
	if !q.Before.IsZero() {
		d.Newest = h.query("commands", link)
	}
	title := "Commands"
	switch {
	case q.CorrelationID != uuid.Nil && q.UserID != "":
		title = fmt.Sprintf("Commands of %s in flow %s", q.UserID, q.CorrelationID)
	case q.CorrelationID != uuid.Nil:
		title = "Commands of flow " + q.CorrelationID.String()
	case q.UserID != "":
		title = "Commands of " + q.UserID
	}
	h.render(w, r, http.StatusOK, "commands", page{Title: title, Section: "commands", Data: d})
	return nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// flowNode is a command in the tree of what followed from it: the events it
// recorded and, under each, the commands workflows issued because of it.
type flowNode struct {
	Command es.CommandRecord
	Events  []flowEvent
	Current bool // the command of the page
}

type flowEvent struct {
	es.EventRecord
	Caused []*flowNode
}

// Limits of the tree on a command page.
const (
	maxFlowDepth = 8
	maxFlowNodes = 60
)

type commandData struct {
	Command  *commandView
	Meta     []metaEntry
	Cause    *es.EventRecord // the event a workflow issued it for, when found
	CauseErr string          // why the cause is not shown, when it is not
	Groups   []streamEvents  // the events it recorded, by stream
	Caused   []causedCommand // the commands workflows issued because of them
	Flow     *flowNode       // what followed from it, as a tree
	FlowCut  bool            // the tree hit its limits
}

type streamEvents struct {
	StreamID   uuid.UUID
	StreamType string
	Events     []eventView
}

type causedCommand struct {
	Command es.CommandRecord
	By      es.EventRecord // the event it was issued for
}

// command shows a command record: its payload, user, time and flow, the event
// that caused it (for workflow commands), the events it recorded across streams
// and the commands workflows issued because of them, followed to the end.
func (h *handler) command(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r, "command id")
	if err != nil {
		return err
	}
	cmds, err := h.store.Commands(ctx, id)
	if err != nil {
		return err
	}
	if len(cmds) == 0 {
		return notFound("There is no command %s.", id)
	}
	if h.browse == nil {
		return h.cannotBrowse()
	}
	c := cmds[0]
	d := commandData{Command: h.commandView(c, r.URL.Query().Get("whole") != ""), Meta: sortedMeta(c.Metadata)}
	if c.CausationID != uuid.Nil {
		if d.Cause, err = h.findCause(ctx, c); err != nil {
			return err
		}
		if d.Cause == nil {
			d.CauseErr = fmt.Sprintf("the event %s is not in the history any more (its stream was deleted), or not in this flow", c.CausationID)
		}
	}
	events, err := h.browse.CommandEvents(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range events {
		if n := len(d.Groups); n == 0 || d.Groups[n-1].StreamID != e.StreamID {
			d.Groups = append(d.Groups, streamEvents{StreamID: e.StreamID, StreamType: e.StreamType})
		}
		g := &d.Groups[len(d.Groups)-1]
		g.Events = append(g.Events, h.eventView(e))
	}
	nodes := 0
	if d.Flow, err = h.flow(ctx, c, events, 0, &nodes); err != nil {
		return err
	}
	d.Flow.Current, d.FlowCut = true, nodes >= maxFlowNodes
	for _, e := range d.Flow.Events {
		for _, n := range e.Caused {
			d.Caused = append(d.Caused, causedCommand{Command: n.Command, By: e.EventRecord})
		}
	}
	h.render(w, r, http.StatusOK, "command", page{Title: "Command " + c.Type, Section: "commands", Data: d})
	return nil
}

// flow builds the tree of what followed from command c, whose events are
// given, within the limits.
func (h *handler) flow(ctx context.Context, c es.CommandRecord, events []es.EventRecord, depth int, nodes *int) (*flowNode, error) {
	*nodes++
	n := &flowNode{Command: c}
	for _, e := range events {
		n.Events = append(n.Events, flowEvent{EventRecord: e})
	}
	if len(events) == 0 || depth >= maxFlowDepth || *nodes >= maxFlowNodes {
		return n, nil
	}
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	caused, err := h.browse.FindCommands(ctx, es.CommandQuery{CausedBy: ids, Limit: maxFlowNodes})
	if err != nil {
		return nil, err
	}
	// Oldest first: the order the workflows issued them in.
	for i := len(caused) - 1; i >= 0 && *nodes < maxFlowNodes; i-- {
		cc := caused[i]
		evs, err := h.browse.CommandEvents(ctx, cc.ID)
		if err != nil {
			return nil, err
		}
		child, err := h.flow(ctx, cc, evs, depth+1, nodes)
		if err != nil {
			return nil, err
		}
		for j := range n.Events {
			if n.Events[j].ID == cc.CausationID {
				n.Events[j].Caused = append(n.Events[j].Caused, child)
			}
		}
	}
	return n, nil
}

// findCause finds the event a workflow command was issued for. Workflow
// commands carry their event's correlation id, so the event is one of those
// the flow's earlier commands recorded.
func (h *handler) findCause(ctx context.Context, c es.CommandRecord) (*es.EventRecord, error) {
	flow, err := h.browse.FindCommands(ctx, es.CommandQuery{CorrelationID: c.CorrelationID, Until: c.Time, Limit: maxFlowNodes})
	if err != nil {
		return nil, err
	}
	for _, fc := range flow {
		if fc.ID == c.ID {
			continue
		}
		events, err := h.browse.CommandEvents(ctx, fc.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if e.ID == c.CausationID {
				return &e, nil
			}
		}
	}
	return nil, nil
}
