package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/consequent/consequent/es"
	"github.com/consequent/consequent/examples/blog/blog"
)

// problem is the body of every error response.
type problem struct {
	Error  string              `json:"error"`
	Fields map[string][]string `json:"fields,omitempty"`
}

// uniqueKeyFields names the request field behind each unique-key scope.
var uniqueKeyFields = map[string]string{"author_email": "email"}

// writeError maps a command's or a query's error to a status and a problem body.
// Errors the client cannot act on are logged and answered with a bare 500.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		invalid *es.ValidationError
		taken   *es.UniqueKeyError
		bad     *badRequest
	)
	switch {
	case errors.As(err, &bad):
		writeJSON(w, http.StatusBadRequest, problem{Error: bad.msg, Fields: bad.fields})
	case errors.As(err, &invalid):
		writeJSON(w, http.StatusUnprocessableEntity, problem{Error: "invalid input", Fields: invalid.Fields})
	case errors.Is(err, es.ErrAggregateNotFound), errors.Is(err, es.ErrAggregateType), errors.Is(err, es.ErrRecordNotFound):
		writeJSON(w, http.StatusNotFound, problem{Error: "post not found"})
	case errors.Is(err, blog.ErrAlreadyPublished):
		writeJSON(w, http.StatusConflict, problem{Error: blog.ErrAlreadyPublished.Error()})
	case errors.As(err, &taken):
		p := problem{Error: "already taken"}
		if f, ok := uniqueKeyFields[taken.Scope]; ok {
			p.Fields = map[string][]string{f: {"is already taken"}}
		}
		writeJSON(w, http.StatusConflict, p)
	case errors.Is(err, es.ErrConcurrencyConflict):
		writeJSON(w, http.StatusConflict, problem{Error: "changed by someone else meanwhile; try again"})
	case errors.Is(err, es.ErrAggregateExists):
		writeJSON(w, http.StatusConflict, problem{Error: "id already taken"})
	default:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, problem{Error: "internal error"})
	}
}

// badRequest is a request the server could not read: malformed JSON, a wrong type,
// an unknown field, an id that is not a UUID.
type badRequest struct {
	msg    string
	fields map[string][]string
}

func (e *badRequest) Error() string { return e.msg }

// committed reports whether err still means the command itself was stored: a
// workflow reacting to it, or a command a workflow issued, failed afterwards.
// Execute returns such failures as *es.WorkflowError; anything else failed the
// command itself, which then stored nothing.
func committed(log *slog.Logger, r *http.Request, err error) bool {
	var wf *es.WorkflowError
	if !errors.As(err, &wf) {
		return false
	}
	log.WarnContext(r.Context(), "command stored, but a workflow failed", "path", r.URL.Path, "err", err)
	return true
}
