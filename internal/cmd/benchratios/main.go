// Command benchratios prints the table of make bench from the output of
// go test -bench (bench.txt): each pair of benchmarks named …/consequent and
// …/raw side by side with the ratio of their times, the other metrics of the
// PostgreSQL benchmarks (latency percentiles), and the in-memory benchmarks.
//
//	go run ./internal/cmd/benchratios bench.txt
//
// Absolute times drift between machines and runs; the ratios, measured in the
// same run against the same database, are what to compare. A benchmark that ran
// several times (-count) is summarised by the median of each metric.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func main() {
	path := "bench.txt"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchratios: %v (run make bench first)\n", err)
		os.Exit(1)
	}
	defer f.Close()
	results, notes, err := parse(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchratios: %s: %v\n", path, err)
		os.Exit(1)
	}
	report(os.Stdout, results, notes)
}

// result is one benchmark: every value of every metric, by unit.
type result struct {
	pkg, name string // name without the Benchmark prefix and -GOMAXPROCS suffix
	metrics   map[string][]float64
}

func (r *result) metric(unit string) (float64, bool) {
	vs := r.metrics[unit]
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads go test -bench output; results keep their first appearance's
// order. notes are the benchmarks' "benchserver: " lines, deduplicated.
func parse(r io.Reader) (_ []*result, notes []string, _ error) {
	var (
		out   []*result
		byKey = map[string]*result{}
		pkg   string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "benchserver: "); ok {
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
			continue
		}
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		fields := strings.Fields(line)
		// name, iterations, then value-unit pairs; anything else is a log line
		// that happens to start with "Benchmark".
		if len(fields) < 4 || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(strings.TrimPrefix(fields[0], "Benchmark"), "")
		key := pkg + " " + name
		res := byKey[key]
		if res == nil {
			res = &result{pkg: pkg, name: name, metrics: map[string][]float64{}}
			byKey[key] = res
			out = append(out, res)
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			res.metrics[fields[i+1]] = append(res.metrics[fields[i+1]], v)
		}
	}
	return out, notes, sc.Err()
}

// pair is a benchmark measured through Consequent and by hand.
type pair struct {
	pkg, name       string
	consequent, raw *result
}

func report(w io.Writer, results []*result, notes []string) {
	var (
		pairs  []*pair
		byKey  = map[string]*pair{}
		paired = map[*result]bool{}
	)
	for _, r := range results {
		prefix, side, ok := cut(r.name)
		if !ok {
			continue
		}
		key := r.pkg + " " + prefix
		p := byKey[key]
		if p == nil {
			p = &pair{pkg: r.pkg, name: prefix}
			byKey[key] = p
			pairs = append(pairs, p)
		}
		if side == "consequent" {
			p.consequent = r
		} else {
			p.raw = r
		}
		paired[r] = true
	}

	slices.SortStableFunc(pairs, func(a, b *pair) int { return rank(a.name) - rank(b.name) })

	if len(results) == 0 {
		fmt.Fprintln(w, "benchratios: no benchmark results found")
		return
	}
	if len(pairs) == 0 {
		fmt.Fprintln(w, "Consequent vs raw pgx: no paired benchmarks ran (the PostgreSQL benchmarks skip without a database:")
		fmt.Fprintln(w, "set CONSEQUENT_TEST_DATABASE_URL, e.g. after make db).")
	} else {
		fmt.Fprintln(w, "Consequent vs raw pgx: the same work in the same database in the same run.")
		fmt.Fprintln(w, "ratio = consequent time / raw time (below 1: faster than the hand-written baseline).")
		fmt.Fprintln(w)
		rows := [][]string{{"benchmark", "consequent/op", "raw/op", "ratio", "consequent events/s", "raw events/s", "target (pg-store.md §6)"}}
		for _, p := range pairs {
			c, r := metricOf(p.consequent, "ns/op"), metricOf(p.raw, "ns/op")
			ratio := "-"
			if c > 0 && r > 0 {
				ratio = fmt.Sprintf("%.2f", c/r)
			}
			rows = append(rows, []string{short(p.pkg) + " " + p.name, duration(c), duration(r), ratio,
				rate(metricOf(p.consequent, "events/s")), rate(metricOf(p.raw, "events/s")),
				target(p.name, p.consequent)})
		}
		table(w, rows)
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "Server: "+n)
		}
		fmt.Fprintln(w, "Targets: pg-store.md §6 (2 cores, loopback, synchronous commit on); absolute, unlike the ratios.")
	}

	// Extra metrics (latency percentiles and such) of the PostgreSQL benchmarks,
	// and benchmarks of the PostgreSQL package without a raw twin.
	var extra []string
	for _, r := range results {
		units := otherUnits(r)
		if len(units) == 0 && paired[r] {
			continue
		}
		if !paired[r] && !isPG(r.pkg, byKey) {
			continue
		}
		var parts []string
		if v, ok := r.metric("ns/op"); ok && !paired[r] {
			parts = append(parts, duration(v)+"/op")
		}
		for _, u := range units {
			v, _ := r.metric(u)
			parts = append(parts, fmt.Sprintf("%s %s", strconv.FormatFloat(v, 'f', -1, 64), u))
		}
		extra = append(extra, fmt.Sprintf("  %s %s: %s", short(r.pkg), r.name, strings.Join(parts, ", ")))
	}
	if len(extra) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Other metrics of the PostgreSQL benchmarks:")
		for _, l := range extra {
			fmt.Fprintln(w, l)
		}
	}

	// The in-memory benchmarks: every package without pairs.
	var mem []*result
	for _, r := range results {
		if !paired[r] && !isPG(r.pkg, byKey) {
			mem = append(mem, r)
		}
	}
	if len(mem) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "In-memory benchmarks (no database):")
		fmt.Fprintln(w)
		rows := [][]string{{"benchmark", "time/op", "B/op", "allocs/op"}}
		for _, r := range mem {
			b, hasB := r.metric("B/op")
			a, hasA := r.metric("allocs/op")
			bs, as := "-", "-"
			if hasB {
				bs = strconv.FormatFloat(b, 'f', 0, 64)
			}
			if hasA {
				as = strconv.FormatFloat(a, 'f', 0, 64)
			}
			rows = append(rows, []string{short(r.pkg) + " " + r.name, duration(metricOf(r, "ns/op")), bs, as})
		}
		table(w, rows)
	}
}

// table prints rows under a header row and a rule: the first column aligned
// left, the others right.
func table(w io.Writer, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	line := func(row []string) {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			switch {
			case i == 0:
				b.WriteString(cell + pad)
			default:
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	for i, row := range rows {
		line(row)
		if i == 0 {
			rule := make([]string, len(row))
			for j := range rule {
				rule[j] = strings.Repeat("-", widths[j])
			}
			line(rule)
		}
	}
}

// order is the order of the pairs in the table: the write path, then reads and
// projections; others follow in the order they ran.
var order = []string{"Command/", "UnitOfWork/", "Import/", "Load/", "Rebuild/"}

func rank(name string) int {
	for i, prefix := range order {
		if strings.HasPrefix(name, prefix) {
			return i
		}
	}
	return len(order)
}

// cut splits "Command/1client/consequent" into "Command/1client" and "consequent".
func cut(name string) (prefix, side string, ok bool) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", "", false
	}
	prefix, side = name[:i], name[i+1:]
	return prefix, side, side == "consequent" || side == "raw"
}

// isPG reports whether pkg has paired benchmarks (it talks to PostgreSQL).
func isPG(pkg string, pairs map[string]*pair) bool {
	for _, p := range pairs {
		if p.pkg == pkg {
			return true
		}
	}
	return false
}

// otherUnits are the metrics a benchmark reports besides the standard ones.
func otherUnits(r *result) []string {
	var units []string
	for u := range r.metrics {
		switch u {
		case "ns/op", "B/op", "allocs/op", "events/s":
		default:
			units = append(units, u)
		}
	}
	slices.Sort(units)
	return units
}

func metricOf(r *result, unit string) float64 {
	if r == nil {
		return 0
	}
	v, _ := r.metric(unit)
	return v
}

// short drops the module path from a package path.
func short(pkg string) string {
	if i := strings.Index(pkg, "/consequent/consequent/"); i >= 0 {
		return pkg[i+len("/consequent/consequent/"):]
	}
	if strings.HasSuffix(pkg, "/consequent/consequent") {
		return "consequent"
	}
	return pkg
}

func duration(ns float64) string {
	if ns <= 0 {
		return "-"
	}
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d >= time.Microsecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.0fns", ns)
}

// rate formats events/s with thousands separators.
func rate(v float64) string {
	if v <= 0 {
		return "-"
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// targets are the "good looks like" figures of ../shared/reference/pg-store.md
// §6, measured there with synchronous commit on; pairs without one show "-".
var targets = []struct {
	name  string
	check func(r *result) string
}{
	{"Command/1client", minEvents(2500, "≥2.5k cmd/s")},
	{"Command/8clients", minEvents(4000, "≥4k cmd/s")},
	{"UnitOfWork/10events/8clients", minEvents(15000, "≥15k events/s")},
	{"Import/10000events", minEvents(60000, "≥60k events/s")},
	{"Load/1000events", maxTime(5*time.Millisecond, "<5ms")},
	{"Rebuild/10000events", minEvents(50000, "≥50k events/s")},
}

func target(name string, r *result) string {
	for _, t := range targets {
		if t.name == name {
			if r == nil {
				return "-"
			}
			return t.check(r)
		}
	}
	return "-"
}

func minEvents(min float64, label string) func(*result) string {
	return func(r *result) string {
		v, ok := r.metric("events/s")
		if !ok {
			return label
		}
		return verdict(label, v >= min)
	}
}

func maxTime(max time.Duration, label string) func(*result) string {
	return func(r *result) string {
		v, ok := r.metric("ns/op")
		if !ok {
			return label
		}
		return verdict(label, v < float64(max))
	}
}

func verdict(label string, ok bool) string {
	if ok {
		return label + " met"
	}
	return label + " MISSED"
}
