package main

import (
	"fmt"
	"strings"
	"time"
)

// progress draws a bar on stderr for work that has run for more than a
// second, and only when stderr is a terminal, so that scripts and logs
// never see it.
type progress struct {
	e           *env
	label       string
	total       int64
	start, last time.Time
	drawn       bool
}

const (
	progressDelay  = time.Second
	progressPeriod = 100 * time.Millisecond
	progressWidth  = 30
)

func (e *env) newProgress(label string, total int64) *progress {
	return &progress{e: e, label: label, total: total, start: time.Now()}
}

// set reports done units of the total.
func (p *progress) set(done int64) {
	if p == nil || !p.e.terminal || p.total <= 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < progressDelay || now.Sub(p.last) < progressPeriod {
		return
	}
	p.last, p.drawn = now, true
	frac := min(float64(done)/float64(p.total), 1)
	full := int(frac * progressWidth)
	bar := strings.Repeat("=", full) + strings.Repeat(" ", progressWidth-full)
	if full < progressWidth {
		bar = bar[:full] + ">" + bar[full+1:]
	}
	fmt.Fprintf(p.e.stderr, "\r%s [%s] %3.0f%% %s/%s", p.label, bar, frac*100, mib(done), mib(p.total))
}

// finish clears the bar, if one was drawn.
func (p *progress) finish() {
	if p != nil && p.drawn {
		fmt.Fprint(p.e.stderr, "\r\033[K")
		p.drawn = false
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
