package browser

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/consequent/consequent/es"
	"github.com/google/uuid"
)

// Parsing of the ids, cursors, versions and times in paths and query strings:
// malformed input is a 400 that says what was expected.

// parseID parses a UUID in its canonical form (or without dashes, or in braces).
func parseID(what, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(strings.TrimSpace(s))
	if err != nil {
		return uuid.Nil, badRequest("%s %q is not a UUID (such as 0197e2a4-5b1c-7d3e-8f00-123456789abc).", what, s)
	}
	return id, nil
}

// pathID parses the {id} of the path.
func pathID(r *http.Request, what string) (uuid.UUID, error) {
	return parseID(what, r.PathValue("id"))
}

// optionalID parses a query parameter holding a UUID; empty gives the nil UUID.
func optionalID(r *http.Request, name, what string) (uuid.UUID, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return uuid.Nil, nil
	}
	return parseID(what, s)
}

// parseCursor parses a place of the log written as "txid.position".
func parseCursor(name, s string) (es.Cursor, error) {
	tx, pos, ok := strings.Cut(s, ".")
	t, err1 := strconv.ParseUint(tx, 10, 64)
	p, err2 := strconv.ParseInt(pos, 10, 64)
	if !ok || err1 != nil || err2 != nil || p < 0 {
		return es.Cursor{}, badRequest("%s=%q is not a place in the log (txid.position, such as 734.12).", name, s)
	}
	return es.Cursor{TxID: t, Position: p}, nil
}

// optionalCursor parses a query parameter holding a cursor; empty gives the zero cursor.
func optionalCursor(r *http.Request, name string) (es.Cursor, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return es.Cursor{}, nil
	}
	return parseCursor(name, s)
}

// optionalVersion parses a query parameter holding a stream version (0 or
// more); empty gives def.
func optionalVersion(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, badRequest("%s=%q is not a stream version (a whole number, 0 or more).", name, s)
	}
	return v, nil
}

// timeLayouts are the forms a time may be given in: RFC 3339, and what an
// <input type="datetime-local"> sends (taken as UTC).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

// optionalTime parses a query parameter holding a time; empty gives the zero time.
func optionalTime(r *http.Request, name string) (time.Time, error) {
	s := strings.TrimSpace(r.URL.Query().Get(name))
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest("%s=%q is not a time (such as 2026-01-02T15:04:05Z, or 2026-01-02T15:04 in UTC).", name, s)
}

// commandCursorSep separates the time and the id of a command cursor.
const commandCursorSep = "_"

func formatCommandCursor(c es.CommandCursor) string {
	return c.Time.UTC().Format(time.RFC3339Nano) + commandCursorSep + c.ID.String()
}

// optionalCommandCursor parses a query parameter holding a command cursor
// ("time_id"); empty gives the zero cursor.
func optionalCommandCursor(r *http.Request, name string) (es.CommandCursor, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return es.CommandCursor{}, nil
	}
	ts, ids, ok := strings.Cut(s, commandCursorSep)
	t, err1 := time.Parse(time.RFC3339Nano, ts)
	id, err2 := uuid.Parse(ids)
	if !ok || err1 != nil || err2 != nil {
		return es.CommandCursor{}, badRequest("%s=%q is not a place in the list of commands (time_id, as the page links give).", name, s)
	}
	return es.CommandCursor{Time: t, ID: id}, nil
}

// datetimeLocal writes a time as an <input type="datetime-local"> shows it.
func datetimeLocal(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}
