package estest

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// FieldDiffs compares two values of one type and describes every leaf that differs
// as "Field: expected X, actual Y", skipping the fields named in ignore.
func FieldDiffs(expected, actual any, ignore ...string) []string {
	r := &diffReporter{ignore: ignore}
	cmp.Equal(expected, actual, cmp.Exporter(func(reflect.Type) bool { return true }), cmp.Reporter(r))
	return r.diffs
}

type diffReporter struct {
	path   cmp.Path
	ignore []string
	diffs  []string
}

func (r *diffReporter) PushStep(ps cmp.PathStep) { r.path = append(r.path, ps) }

func (r *diffReporter) PopStep() { r.path = r.path[:len(r.path)-1] }

func (r *diffReporter) Report(rs cmp.Result) {
	if rs.Equal() {
		return
	}
	name := fieldPath(r.path)
	for _, ig := range r.ignore {
		if name == ig || strings.HasPrefix(name, ig+".") || strings.HasPrefix(name, ig+"[") {
			return
		}
	}
	if name == "" {
		name = "value"
	}
	x, y := r.path.Last().Values()
	r.diffs = append(r.diffs, fmt.Sprintf("%s: expected %s, actual %s", name, show(x), show(y)))
}

// fieldPath renders a cmp path as Go field syntax: Address.City, Tags[2], Meta["k"].
func fieldPath(p cmp.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cmp.StructField:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name())
		case cmp.SliceIndex:
			fmt.Fprintf(&b, "[%d]", s.Key())
		case cmp.MapIndex:
			fmt.Fprintf(&b, "[%s]", show(s.Key()))
		}
	}
	return b.String()
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "(none)"
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "nil"
		}
		return "&" + show(v.Elem())
	}
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case time.Time:
			return x.Format(time.RFC3339Nano)
		case uuid.UUID:
			return x.String()
		case string:
			return fmt.Sprintf("%q", x)
		case []byte:
			return fmt.Sprintf("%q", x)
		case fmt.Stringer:
			return x.String()
		}
	}
	if v.Kind() == reflect.String {
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprintf("%+v", v)
}
