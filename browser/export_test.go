package browser

import (
	"go/format"
	"reflect"
	"strings"
)

// GoLiteral exposes the Go-literal printer of copied specs to the specs,
// formatted by gofmt as the copied specs are.
func GoLiteral(v any) string {
	p := &goPrinter{}
	src := "v = " + p.expr(reflect.ValueOf(v), 0, false)
	formatted, err := format.Source([]byte(src))
	if err != nil {
		return "does not parse: " + err.Error() + ": " + src
	}
	return strings.TrimPrefix(string(formatted), "v = ")
}
