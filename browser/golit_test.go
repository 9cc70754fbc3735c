package browser_test

import (
	"encoding/json"
	"math"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/browser"
	"github.com/consequent/consequent/estest"
	"github.com/consequent/consequent/examples/blog/blog"
	"github.com/google/uuid"
)

type (
	status string
	line   struct {
		SKU      string
		Quantity int64
		Price    float64
	}
	order struct {
		ID       uuid.UUID
		Status   status
		Lines    []line
		Tags     map[string]int
		Note     *string
		Shipped  *time.Time
		Due      time.Duration
		Extra    any
		Raw      json.RawMessage
		Data     []byte
		Ratio    float32
		internal int
	}
)

var _ = Describe("the Go literals of copied specs", func() {
	DescribeTable("write a value as a Go expression that evaluates to it",
		func(v any, want string) { Expect(browser.GoLiteral(v)).To(Equal(want)) },
		Entry("an empty event", blog.PostAdded{}, "blog.PostAdded{}"),
		Entry("the fields that are not zero", blog.PostAuthorChanged{Author: "ben"}, `blog.PostAuthorChanged{Author: "ben"}`),
		Entry("a string with quotes, raw", `say "hi"`, "`say \"hi\"`"),
		Entry("a string with a line break, quoted", "a\nb`c", `"a\nb`+"`"+`c"`),
		Entry("an int", 7, "7"),
		Entry("an int64, typed", int64(7), "int64(7)"),
		Entry("a float64 that is whole", 2.0, "2.0"),
		Entry("a float32, typed", float32(1.5), "float32(1.5)"),
		Entry("not a number", math.NaN(), "math.NaN()"),
		Entry("a named string, typed", status("open"), `browser_test.status("open")`),
		Entry("a time, in UTC", time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("X", 3600)), "time.Date(2026, time.March, 4, 4, 6, 7, 8, time.UTC)"),
		Entry("the zero time", time.Time{}, "time.Time{}"),
		Entry("a duration", 90*time.Second, "90 * time.Second"),
		Entry("an hour", time.Hour, "time.Hour"),
		Entry("a UUID", estest.ID(1), `uuid.MustParse("00000000-0000-0000-0000-000000000001")`),
		Entry("the nil UUID", uuid.Nil, "uuid.Nil"),
		Entry("bytes", []byte("hi"), `[]byte("hi")`),
		Entry("a nil slice", []string(nil), "[]string(nil)"),
		Entry("a map, keys sorted", map[string]int{"b": 2, "a": 1}, `map[string]int{"a": 1, "b": 2}`),
		Entry("a pointer to a struct", &line{SKU: "x"}, `&browser_test.line{SKU: "x"}`),
		Entry("a pointer to a string", new("x"), `new("x")`),
		Entry("a nil pointer", (*line)(nil), "nil"),
		Entry("raw JSON", json.RawMessage(`{"a":1}`), "json.RawMessage(`{\"a\":1}`)"),
		Entry("a long value, one field a line", order{
			ID: estest.ID(9), Status: "open", Lines: []line{{SKU: "apple", Quantity: 3, Price: 0.5}, {SKU: "pear", Quantity: 1, Price: 2}},
			Tags: map[string]int{"gift": 1}, Note: new("ring twice"), Shipped: new(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
			Due: 48 * time.Hour, Extra: line{SKU: "any"}, Raw: json.RawMessage(`[1]`), Data: []byte{1}, Ratio: 0.25, internal: 3,
		}, `browser_test.order{
	ID:     uuid.MustParse("00000000-0000-0000-0000-000000000009"),
	Status: "open",
	Lines: []browser_test.line{
		browser_test.line{SKU: "apple", Quantity: 3, Price: 0.5},
		browser_test.line{SKU: "pear", Quantity: 1, Price: 2.0},
	},
	Tags:    map[string]int{"gift": 1},
	Note:    new("ring twice"),
	Shipped: new(time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)),
	Due:     48 * time.Hour,
	Extra:   browser_test.line{SKU: "any"},
	Raw:     json.RawMessage("[1]"),
	Data:    []byte("\x01"),
	Ratio:   0.25,
}`),
	)
})
