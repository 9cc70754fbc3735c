package api

import (
	"errors"
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
	status, p, internal := problemOf(err)
	if internal {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, p)
}

// problemOf maps an error to a status and what a client may read of it;
// internal is set for errors the client cannot act on, whose details stay in
// the log.
func problemOf(err error) (status int, p problem, internal bool) {
	var (
		invalid *es.ValidationError
		taken   *es.UniqueKeyError
		bad     *badRequest
	)
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest, problem{Error: bad.msg, Fields: bad.fields}, false
	case errors.As(err, &invalid):
		return http.StatusUnprocessableEntity, problem{Error: "invalid input", Fields: invalid.Fields}, false
	case errors.Is(err, es.ErrAggregateNotFound), errors.Is(err, es.ErrAggregateType), errors.Is(err, es.ErrRecordNotFound):
		return http.StatusNotFound, problem{Error: "post not found"}, false
	case errors.Is(err, blog.ErrAlreadyPublished):
		return http.StatusConflict, problem{Error: blog.ErrAlreadyPublished.Error()}, false
	case errors.As(err, &taken):
		p := problem{Error: "already taken"}
		if f, ok := uniqueKeyFields[taken.Scope]; ok {
			p.Fields = map[string][]string{f: {"is already taken"}}
		}
		return http.StatusConflict, p, false
	case errors.Is(err, es.ErrConcurrencyConflict):
		return http.StatusConflict, problem{Error: "changed by someone else meanwhile; try again"}, false
	case errors.Is(err, es.ErrAggregateExists):
		return http.StatusConflict, problem{Error: "id already taken"}, false
	}
	return http.StatusInternalServerError, problem{Error: "internal error"}, true
}

// badRequest is a request the server could not read: malformed JSON, a wrong type,
// an unknown field, an id that is not a UUID.
type badRequest struct {
	msg    string
	fields map[string][]string
}

func (e *badRequest) Error() string { return e.msg }
