package es

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// KeyString encodes the primary key of row as a string that is equal for two
// rows exactly when their key columns hold equal canonical values: a map key
// for persistors and tools that keep rows in memory. row may be a [Row] or a
// [Where] that names every key column. Each value is written with its kind and,
// where it has no fixed size, its length, so no two keys run into each other.
func (d TableDef) KeyString(row map[string]any) string {
	b := make([]byte, 0, 24*len(d.Key))
	for _, k := range d.Key {
		b = appendKeyValue(b, row[k])
	}
	return string(b)
}

func appendKeyValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case string:
		return append(append(strconv.AppendInt(append(b, 's'), int64(len(x)), 10), ':'), x...)
	case int64:
		return append(strconv.AppendInt(append(b, 'i'), x, 10), ';')
	case float64:
		if x == 0 {
			x = 0 // -0 is 0
		} else if x != x {
			x = math.NaN() // one NaN, as PostgreSQL has
		}
		return append(strconv.AppendUint(append(b, 'f'), math.Float64bits(x), 16), ';')
	case bool:
		if x {
			return append(b, 'T')
		}
		return append(b, 'F')
	case time.Time:
		return append(strconv.AppendInt(append(b, 't'), x.UnixMicro(), 10), ';')
	case uuid.UUID:
		return append(append(b, 'u'), x[:]...)
	case []byte:
		return append(append(strconv.AppendInt(append(b, 'x'), int64(len(x)), 10), ':'), x...)
	default: // not a canonical value; still distinct by type and text
		s := fmt.Sprintf("%T:%v", v, v)
		return append(append(strconv.AppendInt(append(b, '?'), int64(len(s)), 10), ':'), s...)
	}
}
