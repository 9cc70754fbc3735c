package pgstore

import (
	"fmt"
	"regexp"
	"strings"
)

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// checkIdent reports whether name is an identifier pgstore accepts: lower-case
// letters, digits and underscores, not starting with a digit, at most 63 bytes
// (PostgreSQL's limit). what names the identifier's role for the message.
func checkIdent(what, name string) error {
	if !identRE.MatchString(name) {
		return fmt.Errorf("pgstore: invalid %s %q: use lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters", what, name)
	}
	return nil
}

// quoteIdent quotes an identifier. The names pgstore checks hold no quotes, so
// for them quoting only protects reserved words such as "user" or "order"; names
// PostgreSQL reports (the columns of a table made by hand, a constraint) may hold
// any character, and their quotes are doubled.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// withSchema replaces the {{schema}} placeholder in sql by the quoted schema.
func withSchema(sql, schema string) string {
	return strings.ReplaceAll(sql, "{{schema}}", quoteIdent(schema))
}
