package main

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows a bar on stderr for work that has run for more than a
// second, and only when stderr is a terminal, so that scripts and logs
// never see it. A nil *progress shows nothing.
type progress struct {
	bar   *progressbar.ProgressBar
	start time.Time
}

const progressDelay = time.Second

// newProgress starts the clock of a bar for total bytes of work labelled
// label; the bar shows once the work has run for progressDelay.
func (e *env) newProgress(label string, total int64) *progress {
	if !e.terminal || total <= 0 {
		return nil
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	// The bar is made now and fed only after the delay, rather than made
	// after it, so that its rate and time left count from the start of
	// the work, not from the moment it shows.
	bar.StartWithoutRender()
	return &progress{bar: bar, start: time.Now()}
}

// set reports done bytes of the total.
func (p *progress) set(done int64) {
	if p == nil || time.Since(p.start) < progressDelay {
		return
	}
	// A running node may grow the log past the total measured at the start.
	p.bar.Set64(min(done, p.bar.GetMax64()))
}

// finish clears the bar, if one was drawn.
func (p *progress) finish() {
	if p != nil {
		p.bar.Finish()
	}
}
