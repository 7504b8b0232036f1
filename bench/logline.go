package main

import (
	"strconv"
	"strings"
	"time"
)

// logLine is one log/slog text line of the node's stderr, such as
//
//	time=2026-11-25T12:00:00.000Z level=INFO msg=compacted through=42 duration=1.5ms pause=20µs
//
// split into its key=value fields.
type logLine map[string]string

// parseLogLine splits a slog text line into its fields. Values that slog
// quoted (because they hold spaces, quotes or '=') are unquoted. It returns
// nil for a line with no key=value field.
func parseLogLine(s string) logLine {
	s = strings.TrimRight(s, "\r\n")
	var out logLine
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := s[:eq]
		if strings.ContainsAny(key, " \"") {
			break // not a key=value line
		}
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				break
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else if sp := strings.IndexByte(s, ' '); sp >= 0 {
			val, s = s[:sp], s[sp:]
		} else {
			val, s = s, ""
		}
		if out == nil {
			out = logLine{}
		}
		out[key] = val
	}
	return out
}

// duration returns the field key parsed as a time.Duration, or 0.
func (l logLine) duration(key string) time.Duration {
	d, _ := time.ParseDuration(l[key])
	return d
}

// number returns the field key parsed as a float, or 0.
func (l logLine) number(key string) float64 {
	x, _ := strconv.ParseFloat(l[key], 64)
	return x
}
