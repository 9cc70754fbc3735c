package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// maxBody bounds request bodies; the blog's requests are a few hundred bytes.
const maxBody = 1 << 20

// decode reads the JSON object in r's body into dst, refusing unknown fields and
// trailing data. Its errors are *badRequest, saying what is wrong and where.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &badRequest{msg: "malformed JSON: the body must hold one JSON object and nothing after it"}
	}
	return nil
}

func describeJSONError(err error) error {
	var (
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
		tooBig    *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &badRequest{msg: "empty body: send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &badRequest{msg: "malformed JSON: the body ends too early"}
	case errors.As(err, &syntax):
		return &badRequest{msg: fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err)}
	case errors.As(err, &wrongType) && wrongType.Field != "":
		return &badRequest{msg: "wrong type", fields: map[string][]string{
			wrongType.Field: {fmt.Sprintf("must be %s, not %s", withArticle(jsonKind(wrongType.Type.Kind().String())), withArticle(wrongType.Value))},
		}}
	case errors.As(err, &wrongType):
		return &badRequest{msg: "malformed JSON: the body must be a JSON object, not " + withArticle(wrongType.Value)}
	case errors.As(err, &tooBig):
		return &badRequest{msg: fmt.Sprintf("body too large: at most %d bytes", tooBig.Limit)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &badRequest{msg: "unknown field", fields: map[string][]string{field: {"is not a field of this request"}}}
	}
	return &badRequest{msg: "malformed JSON: " + err.Error()}
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

// withArticle puts "a" or "an" before a JSON kind: "an array".
func withArticle(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// pathID parses the {id} path segment.
func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, &badRequest{msg: "invalid post id", fields: map[string][]string{"id": {"is not a UUID"}}}
	}
	return id, nil
}
