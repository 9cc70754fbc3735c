// Command benchgoals reads go test -bench output (make bench's bench.txt) and
// prints the goals of issue 8, met or missed:
//
//   - for each benchmark run as …/impl=consequent beside …/impl=raw, the median
//     time of each side, Consequent's speed relative to raw (raw time ÷
//     Consequent time: 1.00 is as fast) and whether it meets the goal (≥ 0.8);
//   - for each benchmark with an absolute goal (see absolute), its median time
//     per op against that goal.
//
// With -scale (make bench-scale's bench-scale.txt) it prints instead, for each
// benchmark run at several store sizes (…/events=N/…), its rate at each size
// relative to the first size (the empty store), and whether Consequent's rate
// at the largest size is at least scaleGoal of it. The noise of each figure is
// benchstat's to report:
//
//	go tool benchstat -col /impl bench.txt
//	go run ./internal/cmd/benchgoals bench.txt
//	go tool benchstat -col /events bench-scale.txt
//	go run ./internal/cmd/benchgoals -scale bench-scale.txt
//
// It exits 1 when a goal is missed.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// goal is the least speed relative to raw pgx that each row must reach.
const goal = 0.8

// absolute holds the goals stated as a time per op, for benchmarks without a
// raw twin, by name without "Benchmark" (as benchstat names them): a row's
// median must be at most max; stretch is the goal beyond it.
var absolute = []struct {
	row          string
	max, stretch time.Duration
}{
	{"Spec", 20 * time.Microsecond, 10 * time.Microsecond}, // one in-memory Given/When/Then spec
}

// scaleGoal is the least rate, relative to the empty store's, that
// Consequent must keep at the largest store size of make bench-scale.
const scaleGoal = 0.9

func main() {
	scale := flag.Bool("scale", false, "compare each benchmark's rate across store sizes (…/events=N/…)")
	flag.Parse()
	path := "bench.txt"
	if flag.NArg() > 0 {
		path = flag.Arg(0)
	}
	key := "impl"
	if *scale {
		key = "events"
	}
	rows, times, cols, err := read(path, key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchgoals:", err)
		os.Exit(2)
	}
	var missed int
	if *scale {
		missed = scaleGoals(rows, times, cols)
	} else {
		missed = ratioGoals(rows, times) + absoluteGoals(times)
	}
	if missed > 0 {
		os.Exit(1)
	}
}

// read returns the sec/op samples of the file at path by row (the benchmark's
// name without its key=… part) and by that part's value; rows and cols are
// in the order they first appear.
func read(path, key string) (rows []string, times map[string]map[string][]float64, cols []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w (make bench writes it)", err)
	}
	defer f.Close()
	times = map[string]map[string][]float64{}
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		v, ok := res.Value("sec/op")
		if !ok {
			continue
		}
		row, col := split(res.Name, key)
		if times[row] == nil {
			times[row] = map[string][]float64{}
			rows = append(rows, row)
		}
		if !slices.Contains(cols, col) {
			cols = append(cols, col)
		}
		times[row][col] = append(times[row][col], v)
	}
	return rows, times, cols, r.Err()
}

// ratioGoals prints each consequent/raw pair and returns how many miss goal.
func ratioGoals(rows []string, times map[string]map[string][]float64) (missed int) {
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
	}
	return missed
}

// absoluteGoals prints the rows with an absolute goal that the file holds and
// returns how many miss it.
func absoluteGoals(times map[string]map[string][]float64) (missed int) {
	for _, g := range absolute {
		ts := times[g.row][""]
		if len(ts) == 0 {
			continue
		}
		m := median(ts)
		verdict := "met"
		if m > g.max.Seconds() {
			verdict, missed = "MISSED", missed+1
		}
		stretch := "met"
		if m > g.stretch.Seconds() {
			stretch = "not yet"
		}
		fmt.Printf("%-44s %12s  goal ≤ %v: %s; stretch ≤ %v: %s (n=%d)\n", g.row,
			time.Duration(m*1e9).Round(100*time.Nanosecond), g.max, verdict, g.stretch, stretch, len(ts))
	}
	return missed
}

// scaleGoals prints each row's rate (ops/s, from the median time) at each
// store size and its ratio to the first size, and returns how many
// Consequent rows (…/impl=consequent) fall below scaleGoal at the last size.
func scaleGoals(rows []string, times map[string]map[string][]float64, sizes []string) (missed int) {
	sizes = slices.DeleteFunc(sizes, func(s string) bool { return s == "" }) // benchmarks of one size
	if len(sizes) == 0 {
		fmt.Println("no benchmark run at several store sizes (…/events=N/…)")
		return 0
	}
	last := sizes[len(sizes)-1]
	fmt.Printf("%-40s", "rate (ops/s, ratio to events="+sizes[0]+")")
	for _, s := range sizes {
		fmt.Printf(" %18s", "events="+s)
	}
	fmt.Printf("  goal ≥ %.2f at events=%s\n", scaleGoal, last)
	for _, row := range rows {
		base := times[row][sizes[0]]
		if len(base) == 0 {
			continue
		}
		fmt.Printf("%-40s", row)
		ratio := 0.0
		for _, s := range sizes {
			ts := times[row][s]
			if len(ts) == 0 {
				fmt.Printf(" %18s", "-")
				ratio = 0
				continue
			}
			ratio = median(base) / median(ts)
			fmt.Printf(" %11.0f %5.2f×", 1/median(ts), ratio)
		}
		switch {
		case !strings.Contains(row, "/impl=consequent"):
			fmt.Println("  (baseline)")
		case ratio >= scaleGoal:
			fmt.Println("  met")
		default:
			fmt.Println("  MISSED")
			missed++
		}
	}
	if missed > 0 {
		fmt.Printf("%d row(s) below %.2f× the empty store's rate at events=%s\n", missed, scaleGoal, last)
	}
	// The sizes run one after the other, minutes apart: the speed relative to
	// raw at the same size is the figure that another load on the machine
	// leaves alone.
	fmt.Printf("\n%-40s", "speed relative to raw at the same size")
	for _, s := range sizes {
		fmt.Printf(" %18s", "events="+s)
	}
	fmt.Println()
	for _, row := range rows {
		twin := strings.Replace(row, "/impl=consequent", "/impl=raw", 1)
		if twin == row || times[twin] == nil {
			continue
		}
		fmt.Printf("%-40s", strings.Replace(row, "/impl=consequent", "", 1))
		for _, s := range sizes {
			c, raw := times[row][s], times[twin][s]
			if len(c) == 0 || len(raw) == 0 {
				fmt.Printf(" %18s", "-")
				continue
			}
			fmt.Printf(" %18.2f", median(raw)/median(c))
		}
		fmt.Println()
	}
	return missed
}

// split returns a benchmark's name without its key=… part (and the
// -GOMAXPROCS suffix), and that part's value ("" when it has none).
func split(n benchfmt.Name, key string) (row, val string) {
	base, parts := n.Parts()
	row = string(base)
	for _, p := range parts {
		s := string(p)
		switch {
		case strings.HasPrefix(s, "/"+key+"="):
			val = strings.TrimPrefix(s, "/"+key+"=")
		case strings.HasPrefix(s, "-"): // GOMAXPROCS
		default:
			row += s
		}
	}
	return row, val
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
