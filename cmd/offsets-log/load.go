package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/maelstrom-offsets/offsets/cmd/offsets-log/internal/inspect"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

// point is where a replay stops: after the entry at index atIndex, or
// before the first record written after until; zero values mean the end.
// flag names the option that set it, for messages.
type point struct {
	atIndex uint64
	until   time.Time
	flag    string // e.g. "--at-time 2026-01-02T03:04:05Z"
	// quiet leaves out the note on a torn tail: a second replay of the
	// same log in one command.
	quiet bool
}

// loaded is the state a replay up to a point rebuilt.
type loaded struct {
	state *inspect.State
	last  uint64        // index of the last record applied
	took  time.Duration // time the replay took
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// loadState replays the log in dir up to p, as replay does, for the
// commands that read the offsets (replay, export, reset-plan). A point
// before the newest checkpoint is an error wrapping log.ErrCompacted that
// names the earliest time or index the log can still show; an index past
// the end of the log is an error too. On failure it has said why on stderr
// and returns the exit code.
func (e *env) loadState(cmd, dir string, p point) (loaded, int) {
	if !e.checkDir(cmd, dir) {
		return loaded{}, exitUsage
	}
	start := time.Now()
	state := inspect.New(p.until)
	var keyer consumeroffsets.Keyer
	var (
		inCheckpoint bool
		ckIndex      uint64    // the checkpoint's index, when there is one
		ckNewest     time.Time // newest record time in the checkpoint
		stopInCk     bool      // until falls inside the checkpoint's history
		lastEntry    uint64    // index of the last entry visited
		last         uint64    // index of the last record applied
	)
	st, held, scanErr := e.scanLog(cmd, dir, log.ScanOptions{
		To: p.atIndex,
		Entry: func(en log.EntryInfo) error {
			if inCheckpoint && !en.Checkpoint && stopInCk {
				return errStop
			}
			inCheckpoint = en.Checkpoint
			if en.Checkpoint {
				ckIndex = en.Index
			}
			lastEntry = en.Index
			return nil
		},
		Record: func(idx uint64, r log.Record) error {
			if stopInCk { // only reading the checkpoint on to its newest time
				if _, _, at, err := keyer.Classify(r); err == nil && at.After(ckNewest) {
					ckNewest = at
				}
				return nil
			}
			err := state.Apply(r)
			if errors.Is(err, inspect.ErrStop) {
				if !inCheckpoint {
					return errStop
				}
				stopInCk = true
				if _, _, at, cerr := keyer.Classify(r); cerr == nil && at.After(ckNewest) {
					ckNewest = at
				}
				return nil
			}
			if inCheckpoint {
				if _, _, at, cerr := keyer.Classify(r); cerr == nil && at.After(ckNewest) {
					ckNewest = at
				}
			}
			last = idx
			return err
		},
	})
	if stopInCk && (scanErr == nil || errors.Is(scanErr, errStop)) {
		scanErr = fmt.Errorf("%w: %s is before the newest record that checkpoint %d holds; the earliest time this log can show is %s",
			log.ErrCompacted, p.flag, ckIndex, ms(ckNewest))
	}
	if scanErr != nil && !errors.Is(scanErr, errStop) {
		return loaded{}, e.fail(cmd, dir, scanErr)
	}
	if p.atIndex > 0 && lastEntry < p.atIndex {
		if lastEntry == 0 {
			fmt.Fprintf(e.stderr, "offsets-log %s: %s is past the end of the log: %s is empty\n", cmd, p.flag, dir)
		} else {
			fmt.Fprintf(e.stderr, "offsets-log %s: %s is past the end of the log, which ends at index %d\n", cmd, p.flag, lastEntry)
		}
		return loaded{}, exitUsage
	}
	if _, err := state.Offsets(); err != nil {
		return loaded{}, e.fail(cmd, dir, err)
	}
	if scanErr == nil && !p.quiet {
		e.noteTail(cmd, dir, held, st.Tail)
	}
	return loaded{state: state, last: last, took: time.Since(start)}, exitOK
}

// Time layouts --at-time and --to-time accept besides RFC 3339: Kafka's
// --to-datetime form without a zone, read as UTC.
var zonelessLayouts = []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05"}

// parseTime reads a time flag: RFC 3339 (2026-01-02T03:04:05Z,
// 2026-01-02T03:04:05.250+01:00) or Kafka's YYYY-MM-DDTHH:mm:SS.sss, which
// has no zone and is taken as UTC (Kafka takes the local zone; this tool
// shows every time in UTC).
func parseTime(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range zonelessLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError(fmt.Sprintf("%s %q is not a time: give RFC 3339 such as 2026-01-02T03:04:05Z or 2026-01-02T03:04:05.250+01:00, or Kafka's YYYY-MM-DDTHH:mm:SS.sss (taken as UTC) such as 2026-01-02T03:04:05.250", flag, s))
}
