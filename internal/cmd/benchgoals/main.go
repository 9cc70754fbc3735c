// Command benchgoals reads go test -bench output (make bench's bench.txt) and
// prints, for each benchmark run as …/impl=consequent beside …/impl=raw, the
// median time of each side, Consequent's speed relative to raw (raw time ÷
// Consequent time: 1.00 is as fast) and whether it meets the goal of issue 8
// (≥ 0.8). The noise of each figure is benchstat's to report:
//
//	go tool benchstat -col /impl bench.txt
//	go run ./internal/cmd/benchgoals bench.txt
//
// It exits 1 when a goal is missed.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// goal is the least speed relative to raw pgx that each row must reach.
const goal = 0.8

func main() {
	path := "bench.txt"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchgoals: %v (make bench writes it)\n", err)
		os.Exit(2)
	}
	defer f.Close()
	times := map[string]map[string][]float64{} // row → impl → sec/op
	var rows []string
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		row, impl := split(res.Name)
		v, ok := res.Value("sec/op")
		if impl == "" || !ok {
			continue
		}
		if times[row] == nil {
			times[row] = map[string][]float64{}
			rows = append(rows, row)
		}
		times[row][impl] = append(times[row][impl], v)
	}
	if err := r.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "benchgoals:", err)
		os.Exit(2)
	}
	missed := 0
	fmt.Printf("%-44s %12s %12s %6s  goal ≥ %.2f\n", "benchmark", "consequent", "raw", "ratio", goal)
	for _, row := range rows {
		c, raw := times[row]["consequent"], times[row]["raw"]
		if len(c) == 0 || len(raw) == 0 {
			continue
		}
		ratio := median(raw) / median(c)
		verdict := "met"
		if ratio < goal {
			verdict, missed = "MISSED", missed+1
		}
		fmt.Printf("%-44s %12s %12s %6.2f  %s (n=%d/%d)\n", row, dur(median(c)), dur(median(raw)), ratio, verdict, len(c), len(raw))
	}
	if missed > 0 {
		fmt.Printf("%d row(s) below %.2f× raw\n", missed, goal)
		os.Exit(1)
	}
}

// split returns a benchmark's name without its impl=… part (and the
// -GOMAXPROCS suffix), and that part's value.
func split(n benchfmt.Name) (row, impl string) {
	base, parts := n.Parts()
	row = string(base)
	for _, p := range parts {
		s := string(p)
		switch {
		case strings.HasPrefix(s, "/impl="):
			impl = strings.TrimPrefix(s, "/impl=")
		case strings.HasPrefix(s, "-"): // GOMAXPROCS
		default:
			row += s
		}
	}
	return row, impl
}

func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func dur(sec float64) string {
	return time.Duration(sec * 1e9).Round(time.Microsecond).String()
}
