package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/maelstrom-offsets/offsets/log"
)

// scanLog runs log.Scan for a reading command with a progress bar, after
// checking that dir is a log. held tells whether a node holds dir, as far
// as that can be told without disturbing it.
func (e *env) scanLog(cmd, dir string, opts log.ScanOptions) (st log.ScanStats, held bool, err error) {
	held, _, _ = log.LockHeld(dir)
	total, _ := log.Size(dir)
	bar := e.newProgress(cmd, total)
	opts.Progress = bar.set
	st, err = log.Scan(dir, opts)
	bar.finish()
	return st, held, err
}

// noteTail says on stderr that the log ended at a torn tail, and what
// becomes of it.
func (e *env) noteTail(cmd, dir string, held bool, d *log.Damage) {
	if d == nil {
		return
	}
	seg := rel(dir, d.Path)
	if held && errors.Is(d.Err, log.ErrTorn) {
		// No byte count: d.Bytes runs to the end of the file, which is
		// the segment's preallocated space, not what was written so far.
		fmt.Fprintf(e.stderr, "offsets-log %s: note: a running node holds %s and is writing entry %d at %s byte %d; shown: the log before it\n",
			cmd, dir, d.Index, seg, d.Offset)
		return
	}
	fmt.Fprintf(e.stderr, "offsets-log %s: warning: the newest segment ends in a torn tail: %d bytes at %s byte %d, entry %d on (%s). The node cuts it at its next start",
		cmd, d.Bytes, seg, d.Offset, d.Index, relErr(dir, d.Err))
	if !held {
		fmt.Fprintf(e.stderr, "; 'offsets-log repair %s' cuts it now, keeping the bytes in %s.broken", dir, seg)
	}
	fmt.Fprint(e.stderr, ". Shown: the log without it.\n")
}

// ms formats a time as RFC 3339 with milliseconds, in UTC.
func ms(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// quote shows a name as it is when that is unambiguous in a table, and as
// a Go string literal when it is empty or holds spaces, quotes or
// unprintable characters.
func quote(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' || r == '\\'
	}) {
		return strconv.Quote(s)
	}
	return s
}

// jsonLines writes one JSON object per line, with non-ASCII kept as it is
// and no HTML escaping.
func jsonLines(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// rate formats records per second.
func rate(n uint64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/d.Seconds(), 'f', 0, 64)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
