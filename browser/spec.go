package browser

import (
	"context"
	"errors"
	"fmt"
	"go/format"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// maxSpecEvents bounds the events a copied spec lists: a longer history makes a
// spec nobody reads.
const maxSpecEvents = 500

// specView is the "copy as a spec" block of a stream page.
type specView struct {
	Version int64  // the history given is up to this version of the stream
	Text    string // Go source to paste into a spec
}

// buildSpec writes the history of stream id up to version upTo as an estest
// Given, the command that recorded version upTo+1 as When (at its time and by
// its user) and the events it recorded as Then, ready to paste into a spec and
// change into the events it should have recorded. When that command also
// recorded versions up to upTo, the history given stops before it. Other
// streams the command wrote, and those whose ids its payload holds (the
// aggregates its handler is likely to load), are given as they were before it.
func (h *handler) buildSpec(ctx context.Context, id uuid.UUID, info es.StreamInfo, upTo int64) (specView, error) {
	var (
		cmd      *es.CommandRecord
		recorded []es.EventRecord // by cmd, across streams
	)
	if upTo < info.Version {
		next, err := h.store.LoadStream(ctx, id, es.StreamQuery{FromVersion: upTo + 1, ToVersion: upTo + 1})
		if err != nil {
			return specView{}, err
		}
		if len(next) == 1 {
			cmds, err := h.store.Commands(ctx, next[0].CommandID)
			if err != nil {
				return specView{}, err
			}
			if len(cmds) == 1 {
				cmd = &cmds[0]
			}
			if recorded, err = h.commandEvents(ctx, next[0].CommandID, id, upTo+1); err != nil {
				return specView{}, err
			}
		}
	}
	// The streams given, in order: this one first, then the others cmd wrote, each
	// up to the version before cmd's first event in it.
	type given struct {
		id   uuid.UUID
		typ  string
		upTo int64
	}
	streams := []given{{id, info.Type, upTo}}
	for _, e := range recorded {
		i := slices.IndexFunc(streams, func(g given) bool { return g.id == e.StreamID })
		switch {
		case i < 0:
			streams = append(streams, given{e.StreamID, e.StreamType, e.Version - 1})
		case e.Version-1 < streams[i].upTo:
			streams[i].upTo = e.Version - 1
		}
	}
	var decoded any
	var decodeErr error
	if cmd != nil {
		decoded, decodeErr = h.reg.DecodeCommand(*cmd)
		for _, ref := range uuidsIn(reflect.ValueOf(decoded)) {
			if slices.ContainsFunc(streams, func(g given) bool { return g.id == ref }) {
				continue
			}
			refInfo, err := h.store.StreamInfo(ctx, ref)
			if errors.Is(err, es.ErrAggregateNotFound) {
				continue
			} else if err != nil {
				return specView{}, err
			}
			if refInfo.Version > maxSpecEvents { // too long to give: say so below, without reading it
				streams = append(streams, given{ref, refInfo.Type, refInfo.Version})
				continue
			}
			recs, err := h.store.LoadStream(ctx, ref, es.StreamQuery{})
			if err != nil {
				return specView{}, err
			}
			var before int64
			for _, rec := range recs {
				if len(recorded) > 0 && rec.Cursor().Before(recorded[0].Cursor()) ||
					len(recorded) == 0 && !rec.Time.After(cmd.Time) {
					before = rec.Version
				}
			}
			if before > 0 {
				streams = append(streams, given{ref, refInfo.Type, before})
			}
		}
	}
	view := specView{Version: streams[0].upTo}

	total := int64(len(recorded))
	for _, g := range streams {
		total += g.upTo
	}
	if total > maxSpecEvents {
		view.Text = fmt.Sprintf("// This spec would list %d events, given and recorded: too many to read (at most %d).\n", total, maxSpecEvents)
		return view, nil
	}

	// The spec is a chain of calls on the fixture, one step a line; gofmt lays
	// out the rest.
	p := &goPrinter{names: map[uuid.UUID]string{}}
	var decls, steps []string
	for _, g := range streams {
		name := p.nameFor(g.id, g.typ)
		decls = append(decls, fmt.Sprintf("%s := uuid.MustParse(%q)", name, g.id))
		if g.upTo == 0 {
			continue
		}
		recs, err := h.store.LoadStream(ctx, g.id, es.StreamQuery{ToVersion: g.upTo})
		if err != nil {
			return specView{}, err
		}
		steps = append(steps, "Given("+name+",\n"+h.eventList(p, recs)+")")
	}
	if len(steps) == 0 {
		steps = append(steps, "Scenario()") // a fixture has no SetClock
	}
	var summary string
	switch {
	case cmd != nil:
		summary = fmt.Sprintf("when %s ran (%s%s)", commentText(cmd.Type), formatTime(cmd.Time), byUser(cmd.UserID))
		steps = append(steps, "SetClock("+p.expr(reflect.ValueOf(cmd.Time), 1, true)+")")
		when := "When("
		if decodeErr == nil {
			when += p.expr(reflect.ValueOf(decoded), 1, false)
		} else {
			when += "nil /* " + commentSafe(decodeErr.Error()) + " */"
		}
		if cmd.UserID != "" {
			p.use("es")
			when += fmt.Sprintf(", es.ByUser(%s)", quote(cmd.UserID))
		}
		steps = append(steps, when+")")
		if len(recorded) == 0 {
			steps = append(steps, "ThenNoEvents()")
		} else {
			steps = append(steps, "Then(\n"+h.eventList(p, recorded)+")")
		}
	case upTo < info.Version:
		summary = "when the command that recorded the next version (its record is missing)"
		steps = append(steps, "When(nil /* the command's record is missing */)", "Then()")
	default:
		summary = "when the command to try next"
		steps = append(steps, "When(nil /* the command to try */)", "Then()")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "// Given %s %s up to version %d, %s.\n", commentText(info.Type), id, view.Version, summary)
	if cmd != nil {
		b.WriteString("// Then lists what it recorded: change it to what it should have recorded.\n")
	}
	fmt.Fprintf(&b, "// %s is the application's estest fixture, estest.New(Register); packages used: %s.\n",
		h.opts.SpecFixture, strings.Join(p.packageList(), ", "))
	for _, d := range decls {
		b.WriteString(d + "\n")
	}
	b.WriteString(h.opts.SpecFixture + ".\n\t" + strings.Join(steps, ".\n\t") + "\n")
	src := b.String()
	if formatted, err := format.Source([]byte(src)); err == nil {
		src = string(formatted)
	}
	view.Text = src
	return view, nil
}

// eventList returns events as Go expressions, one a line, each followed by a
// comma; an event that cannot be decoded becomes a comment.
func (h *handler) eventList(p *goPrinter, recs []es.EventRecord) string {
	var b strings.Builder
	for _, rec := range recs {
		env, err := h.reg.Decode(rec)
		if err != nil {
			b.WriteString("\t/* " + commentSafe(err.Error()) + " */\n")
			continue
		}
		b.WriteString("\t" + p.expr(reflect.ValueOf(env.Event), 2, false) + ",\n")
	}
	return b.String()
}

// uuidsIn returns the UUIDs a value holds, in its fields, elements and map
// values, in order, each once.
func uuidsIn(v reflect.Value) []uuid.UUID {
	var out []uuid.UUID
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if !v.IsValid() || depth > 8 {
			return
		}
		if v.Type() == uuidType {
			if id := v.Interface().(uuid.UUID); id != uuid.Nil && !slices.Contains(out, id) {
				out = append(out, id)
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k), depth+1)
			}
		}
	}
	walk(v, 0)
	return out
}

// commandEvents returns what command id recorded: across streams when the store
// can say, else the events of stream sid from version from on that carry id.
func (h *handler) commandEvents(ctx context.Context, id, sid uuid.UUID, from int64) ([]es.EventRecord, error) {
	if h.browse != nil {
		return h.browse.CommandEvents(ctx, id)
	}
	recs, err := h.store.LoadStream(ctx, sid, es.StreamQuery{FromVersion: from, ToVersion: from + maxSpecEvents})
	if err != nil {
		return nil, err
	}
	n := 0
	for n < len(recs) && recs[n].CommandID == id {
		n++
	}
	return recs[:n], nil
}

// nameFor gives a stream id a variable name from its type: a blog.Post is postID.
func (p *goPrinter) nameFor(id uuid.UUID, typ string) string {
	if name, ok := p.names[id]; ok {
		return name
	}
	base := typ[strings.LastIndexAny(typ, "./")+1:]
	var b strings.Builder
	for i, r := range base {
		switch {
		case i == 0:
			b.WriteRune(unicode.ToLower(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	stem := b.String()
	if stem == "" || !unicode.IsLetter(rune(stem[0])) {
		stem = "stream" + stem
	}
	name := stem + "ID"
	for n := 2; slices.Contains(p.nameList(), name); n++ {
		name = fmt.Sprintf("%s%dID", stem, n)
	}
	p.names[id] = name
	return name
}

func (p *goPrinter) nameList() []string {
	out := make([]string, 0, len(p.names))
	for _, n := range p.names {
		out = append(out, n)
	}
	return out
}

// packageList returns the packages the printed expressions use, sorted.
func (p *goPrinter) packageList() []string {
	p.use("uuid")
	out := make([]string, 0, len(p.packages))
	for pkg := range p.packages {
		out = append(out, pkg)
	}
	slices.Sort(out)
	return out
}

func byUser(user string) string {
	if user == "" {
		return ""
	}
	return ", by " + commentText(user)
}

// commentText keeps stored text (a user, a type) in a // comment: a line
// break in it would end the comment and put the rest in the spec's code.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// commentSafe keeps text from ending a /* */ comment.
func commentSafe(s string) string { return strings.ReplaceAll(s, "*/", "* /") }
