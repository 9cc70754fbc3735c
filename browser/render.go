package browser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// page is what every template gets: the layout's fields and the page's Data.
type page struct {
	Title   string
	Section string // the navigation item to highlight
	Query   string // the search box's value
	Data    any

	// Filled in by render.
	Base, AppTitle, CSS, JS, Icon string
}

// parseTemplates parses the layout with each page template.
func (h *handler) parseTemplates() map[string]*template.Template {
	funcs := template.FuncMap{
		"url":       h.url,
		"streamURL": func(id uuid.UUID) string { return h.url("streams", id.String()) },
		"eventURL": func(id uuid.UUID, v int64) string {
			return h.url("streams", id.String(), "events", strconv.FormatInt(v, 10))
		},
		"commandURL": func(id uuid.UUID) string { return h.url("commands", id.String()) },
		"flowURL":    func(id uuid.UUID) string { return h.url("commands") + "?correlation=" + id.String() },
		"userURL":    func(user string) string { return h.url("commands") + "?user=" + url.QueryEscape(user) },
		"typeURL":    func(typ string) string { return h.url("streams") + "?type=" + url.QueryEscape(typ) },
		"logTypeURL": func(typ string) string { return h.url("log") + "?type=" + url.QueryEscape(typ) },
		"logAtURL": func(c es.Cursor) string {
			return h.url("log") + "?before=" + formatCursor(es.Cursor{TxID: c.TxID, Position: c.Position + 1})
		},
		"time":     formatTime,
		"isoTime":  func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"cursor":   formatCursor,
		"isNil":    func(id uuid.UUID) bool { return id == uuid.Nil },
		"add":      func(a, b int64) int64 { return a + b },
		"rate":     rate,
		"duration": func(d time.Duration) string { return d.Round(time.Second).String() },
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict: %d arguments, want pairs", len(kv))
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"percent": func(done, total int64) int64 {
			if total <= 0 {
				return 0
			}
			return done * 100 / total
		},
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" || base == "parts" {
			continue
		}
		out[base] = template.Must(template.Must(layout.Clone()).ParseFS(files, name))
	}
	return out
}

// render writes a page with the layout; the page is rendered into a buffer
// first, so that a template error becomes a clean 500.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Base, p.AppTitle = h.opts.Prefix, h.opts.Title
	p.CSS = h.url("assets", "browser.css") + "?v=" + h.assets["browser.css"].version
	p.JS = h.url("assets", "browser.js") + "?v=" + h.assets["browser.js"].version
	p.Icon = h.url("assets", "favicon.svg") + "?v=" + h.assets["favicon.svg"].version
	if p.Query == "" && r != nil {
		p.Query = r.URL.Query().Get("q")
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.opts.Logger.Error("browser: rendering "+name, "err", err)
		http.Error(w, "browser: rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// formatTime shows a time in UTC to the microsecond, as stores keep it.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000 UTC")
}

// payload is a pretty-printed payload, cut to a length or whole.
type payload struct {
	Text string
	Cut  bool
	Size int // bytes of the stored payload
}

// pretty indents JSON (other bytes are shown as they are) and cuts the result
// after max bytes (at a line end when there is one near), when max > 0.
func pretty(data []byte, max int) payload {
	p := payload{Size: len(data)}
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err == nil {
		p.Text = unescapeJSON(buf.String())
	} else {
		p.Text = string(data)
	}
	if !utf8.ValidString(p.Text) {
		p.Text = strings.ToValidUTF8(p.Text, "\uFFFD")
	}
	if max > 0 && len(p.Text) > max {
		cut := max
		if nl := strings.LastIndexByte(p.Text[:max], '\n'); nl > max*3/4 {
			cut = nl
		}
		for cut > 0 && !utf8.RuneStart(p.Text[cut]) {
			cut--
		}
		p.Text, p.Cut = p.Text[:cut]+"\n…", true
	}
	return p
}

// unescapeJSON undoes the escapes encoding/json writes for <, > and & in
// strings, so that payloads read as they
// were written (the page escapes them for HTML itself). An escaped backslash
// stays escaped.
func unescapeJSON(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == 'u' && i+6 <= len(s) {
			switch s[i+2 : i+6] {
			case "003c", "003C":
				b.WriteByte('<')
				i += 5
				continue
			case "003e", "003E":
				b.WriteByte('>')
				i += 5
				continue
			case "0026":
				b.WriteByte('&')
				i += 5
				continue
			}
		}
		b.WriteString(s[i : i+2]) // an escape that stays, such as \\ or \"
		i++
	}
	return b.String()
}

// formatCursor writes a place of the log as "txid.position".
func formatCursor(c es.Cursor) string { return fmt.Sprintf("%d.%d", c.TxID, c.Position) }
