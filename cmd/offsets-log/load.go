package main

import (
	"errors"
	"fmt"
	"time"

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

// loaded is the state a replay up to a point rebuilt: the node's state
// machine, read through its read-only methods.
type loaded struct {
	state *consumeroffsets.State
	last  uint64        // index of the last record applied
	took  time.Duration // time the replay took
}

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// loadState replays the log in dir up to p into a consumeroffsets.State,
// as the node does at start, for the commands that read the offsets
// (replay, export, reset-plan). The stop at a time is the replay loop's:
// it stops before the first record written after p.until. A point before
// the newest checkpoint is an error wrapping log.ErrCompacted that names
// the earliest time or index the log can still show; an index past the
// end of the log is an error too. On failure it has said why on stderr
// and returns the exit code.
func (e *env) loadState(cmd, dir string, p point) (loaded, int) {
	if !e.checkDir(cmd, dir) {
		return loaded{}, exitUsage
	}
	start := time.Now()
	state := consumeroffsets.NewState()
	rp := state.Replayer()
	until, limit := p.until.UnixMilli(), !p.until.IsZero()
	var (
		inCheckpoint bool
		ckIndex      uint64 // the checkpoint's index, when there is one
		ckNewest     int64  // newest record time in the checkpoint, Unix ms
		stopInCk     bool   // until falls inside the checkpoint's history
		lastEntry    uint64 // index of the last entry visited
	)
	record := rp.Apply
	if limit {
		record = func(idx uint64, r log.Record) error {
			at, err := consumeroffsets.RecordTime(r)
			switch {
			case stopInCk: // only reading the checkpoint on to its newest time
				if err == nil {
					ckNewest = max(ckNewest, at)
				}
				return nil
			case err != nil:
				return err
			case at > until:
				if !inCheckpoint {
					return errStop
				}
				stopInCk = true
			}
			if inCheckpoint {
				ckNewest = max(ckNewest, at)
			}
			if stopInCk {
				return nil
			}
			return rp.Apply(idx, r)
		}
	}
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
		Record: record,
	})
	rp.Done()
	if stopInCk && (scanErr == nil || errors.Is(scanErr, errStop)) {
		scanErr = fmt.Errorf("%w: %s is before the newest record that checkpoint %d holds; the earliest time this log can show is %s",
			log.ErrCompacted, p.flag, ckIndex, ms(time.UnixMilli(ckNewest)))
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
	if scanErr == nil && !p.quiet {
		e.noteTail(cmd, dir, held, st.Tail)
	}
	return loaded{state: state, last: state.Index(), took: time.Since(start)}, exitOK
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
