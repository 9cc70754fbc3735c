package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how work advances: on a terminal, a bar with the rate
// and the time left; otherwise (a log, a pipe) one plain line per phase and
// one every few seconds in between. It is used by one goroutine.
type progress struct {
	w     io.Writer
	label string
	tty   bool
	bar   *progressbar.ProgressBar
	phase string
	last  time.Time // the last plain line
	every time.Duration
	ended bool
}

// plainEvery is how often a plain progress line is written within a phase.
const plainEvery = 5 * time.Second

func newProgress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, tty: isTerminal(w), every: plainEvery}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// update reports the phase and how many of total units are done; rate (per
// second) and eta are shown on plain lines, the bar measures its own.
func (p *progress) update(phase string, done, total int64, rate float64, eta time.Duration) {
	total = max(total, done)
	if p.tty {
		p.draw(phase, done, total)
		return
	}
	if phase == p.phase && time.Since(p.last) < p.every {
		return
	}
	p.phase, p.last = phase, time.Now()
	line := fmt.Sprintf("%s: %s %d/%d", p.label, phase, done, total)
	if total > 0 {
		line += fmt.Sprintf(" (%d%%)", done*100/total)
	}
	if rate > 0 {
		line += ", " + rateText(rate)
	}
	if eta > 0 {
		line += ", " + durationText(eta) + " left"
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) draw(phase string, done, total int64) {
	if total == 0 {
		total = 1 // the bar needs a length
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.label+" "+phase),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionThrottle(100*time.Millisecond))
		p.phase = phase
	}
	if total != p.bar.GetMax64() {
		p.bar.ChangeMax64(total)
	}
	if phase != p.phase {
		p.phase = phase
		p.bar.Describe(p.label + " " + phase)
	}
	_ = p.bar.Set64(done)
}

// end ends the bar's line.
func (p *progress) end() {
	if p.ended {
		return
	}
	p.ended = true
	if p.bar != nil {
		fmt.Fprintln(p.w)
	}
}
