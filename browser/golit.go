package browser

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// goPrinter writes Go values as Go expressions that evaluate to them, for specs
// to paste: composite literals with the fields that are not zero, time.Date for
// times, uuid.MustParse (or a name) for ids. It records the packages the
// expressions use.
type goPrinter struct {
	names    map[uuid.UUID]string // ids printed as these variables
	packages map[string]bool      // package names used, such as "time"
}

// lineWidth is how long a composite literal may be on one line.
const lineWidth = 100

var (
	uuidType     = reflect.TypeFor[uuid.UUID]()
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	rawJSONType  = reflect.TypeFor[json.RawMessage]()
)

// expr returns v as a Go expression. typed says whether the context fixes the
// type (a struct field, an element of a typed slice), so that an untyped constant
// will do; in an interface context the expression carries its type.
func (p *goPrinter) expr(v reflect.Value, indent int, typed bool) string {
	if !v.IsValid() {
		return "nil"
	}
	t := v.Type()
	switch t {
	case uuidType:
		id := v.Interface().(uuid.UUID)
		if name, ok := p.names[id]; ok {
			return name
		}
		p.use("uuid")
		if id == uuid.Nil {
			return "uuid.Nil"
		}
		return fmt.Sprintf("uuid.MustParse(%q)", id.String())
	case timeType:
		p.use("time")
		tm := v.Interface().(time.Time)
		if tm.IsZero() {
			return "time.Time{}"
		}
		tm = tm.UTC()
		return fmt.Sprintf("time.Date(%d, time.%s, %d, %d, %d, %d, %d, time.UTC)",
			tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond())
	case durationType:
		p.use("time")
		return durationExpr(time.Duration(v.Int()))
	case rawJSONType:
		p.use("json")
		return "json.RawMessage(" + quote(string(v.Bytes())) + ")"
	}
	switch t.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return "nil"
		}
		return p.expr(v.Elem(), indent, false)
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		if t.Elem().Kind() == reflect.Struct && !isSpecial(t.Elem()) {
			return "&" + p.expr(v.Elem(), indent, false)
		}
		return "new(" + p.expr(v.Elem(), indent, false) + ")"
	case reflect.Struct:
		return p.structExpr(v, indent)
	case reflect.Slice:
		if v.IsNil() {
			return p.typeName(t) + "(nil)"
		}
		if t.Elem().Kind() == reflect.Uint8 && t.Elem().PkgPath() == "" {
			return p.typeName(t) + "(" + quote(string(v.Bytes())) + ")"
		}
		fallthrough
	case reflect.Array:
		elems := make([]string, v.Len())
		for i := range elems {
			elems[i] = p.expr(v.Index(i), indent+1, true)
		}
		return p.composite(p.typeName(t), elems, indent)
	case reflect.Map:
		if v.IsNil() {
			return p.typeName(t) + "(nil)"
		}
		keys := v.MapKeys()
		type entry struct{ key, val string }
		entries := make([]entry, len(keys))
		for i, k := range keys {
			entries[i] = entry{p.expr(k, indent+1, true), p.expr(v.MapIndex(k), indent+1, true)}
		}
		slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.key, b.key) })
		elems := make([]string, len(entries))
		for i, e := range entries {
			elems[i] = e.key + ": " + e.val
		}
		return p.composite(p.typeName(t), elems, indent)
	}
	lit := p.basicLiteral(v)
	if typed || (t.PkgPath() == "" && defaultType(t.Kind())) || strings.HasPrefix(lit, "math.") {
		return lit // an untyped constant takes the type the context gives, or its default type
	}
	return p.typeName(t) + "(" + lit + ")"
}

func (p *goPrinter) structExpr(v reflect.Value, indent int) string {
	t := v.Type()
	var fields []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || v.Field(i).IsZero() {
			continue // the zero value is what the literal gives; unexported fields cannot be set
		}
		fields = append(fields, f.Name+": "+p.expr(v.Field(i), indent+1, true))
	}
	return p.composite(p.typeName(t), fields, indent)
}

// composite lays out a composite literal: on one line when it is short, else
// one element per line.
func (p *goPrinter) composite(typ string, elems []string, indent int) string {
	one := typ + "{" + strings.Join(elems, ", ") + "}"
	if len(one)+indent*4 <= lineWidth && !strings.Contains(one, "\n") {
		return one
	}
	var b strings.Builder
	b.WriteString(typ + "{\n")
	pad := strings.Repeat("\t", indent+1)
	for _, e := range elems {
		b.WriteString(pad + e + ",\n")
	}
	b.WriteString(strings.Repeat("\t", indent) + "}")
	return b.String()
}

// typeName returns t as Go source, qualified by its package's name.
func (p *goPrinter) typeName(t reflect.Type) string {
	if t.Kind() == reflect.Uint8 && t.PkgPath() == "" {
		return "byte"
	}
	if t.Name() != "" {
		if t.PkgPath() != "" {
			pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
			p.use(pkg)
		}
		return t.String()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + p.typeName(t.Elem())
	case reflect.Slice:
		return "[]" + p.typeName(t.Elem())
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), p.typeName(t.Elem()))
	case reflect.Map:
		return "map[" + p.typeName(t.Key()) + "]" + p.typeName(t.Elem())
	}
	return t.String()
}

func (p *goPrinter) use(pkg string) {
	if p.packages == nil {
		p.packages = map[string]bool{}
	}
	p.packages[pkg] = true
}

// isSpecial reports whether t has an expression of its own rather than a
// composite literal.
func isSpecial(t reflect.Type) bool { return t == timeType }

// defaultType reports whether an untyped constant of kind k has type k by
// default, so that it needs no conversion in an interface context.
func defaultType(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Float64:
		return true
	}
	return false
}

// basicLiteral returns the constant of a value of a basic kind.
func (p *goPrinter) basicLiteral(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			p.use("math")
			return "math.NaN()"
		case math.IsInf(f, 0):
			p.use("math")
			return fmt.Sprintf("math.Inf(%d)", int(math.Copysign(1, f)))
		}
		s := strconv.FormatFloat(f, 'g', -1, v.Type().Bits())
		if !strings.ContainsAny(s, ".e") { // keep it a floating-point constant
			s += ".0"
		}
		return s
	case reflect.Complex64, reflect.Complex128:
		return fmt.Sprint(v.Complex())
	}
	return fmt.Sprintf("%#v", v.Interface())
}

// quote returns a Go string literal: a raw one when that reads better.
func quote(s string) string {
	if strings.Contains(s, `"`) && strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// durationExpr returns d as a Go expression in its largest exact unit.
func durationExpr(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "time.Hour"}, {time.Minute, "time.Minute"}, {time.Second, "time.Second"}, {time.Millisecond, "time.Millisecond"}, {time.Microsecond, "time.Microsecond"}} {
		if d != 0 && d%u.d == 0 {
			if d == u.d {
				return u.name
			}
			return fmt.Sprintf("%d * %s", d/u.d, u.name)
		}
	}
	return fmt.Sprintf("time.Duration(%d)", int64(d))
}
