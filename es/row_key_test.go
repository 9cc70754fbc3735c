package es_test

import (
	"math"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/consequent/consequent/es"
)

var _ = Describe("TableDef.KeyString", func() {
	def := es.TableDef{Name: "t", Key: []string{"a", "b"}}
	key := func(a, b any) string { return def.KeyString(es.Row{"a": a, "b": b, "other": "ignored"}) }

	It("is equal for equal keys, whatever the other columns, and for a Where of the key", func() {
		id := uuid.New()
		Expect(key("x", id)).To(Equal(def.KeyString(es.Where{"a": "x", "b": id})))
		at := time.Date(2026, 11, 28, 3, 0, 0, 123000, time.UTC)
		Expect(key(at, int64(1))).To(Equal(key(at.In(time.FixedZone("CET", 3600)), int64(1))))
		Expect(key(0.0, nil)).To(Equal(key(math.Copysign(0, -1), nil)))
		Expect(key(math.NaN(), nil)).To(Equal(key(math.Float64frombits(0xfff8000000000000), nil)))
	})

	DescribeTable("is different for different keys",
		func(a1, b1, a2, b2 any) { Expect(key(a1, b1)).NotTo(Equal(key(a2, b2))) },
		Entry("strings that would run into each other", "a\x00", "b", "a", "\x00b"),
		Entry("strings with a length-like prefix", "1:a", "", "1", ":a"),
		Entry("an int and a string of its digits", int64(1), "x", "1", "x"),
		Entry("an int and a float", int64(1), "x", 1.0, "x"),
		Entry("NULL and the empty string", nil, "x", "", "x"),
		Entry("true and false", true, "x", false, "x"),
		Entry("bytes and the same text", []byte("ab"), "x", "ab", "x"),
		Entry("two uuids", uuid.Nil, "x", uuid.Max, "x"),
		Entry("instants a microsecond apart", time.UnixMicro(1).UTC(), "x", time.UnixMicro(2).UTC(), "x"),
		Entry("a negative and a positive int", int64(-12), "x", int64(12), "x"),
	)
})
