package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"time"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/spf13/cobra"
)

func compactCommand(e *env) *cobra.Command {
	o := &compactOpts{}
	c := &cobra.Command{
		Use:     "compact [flags] DIR",
		GroupID: groupChange,
		Short:   "rewrite the log down to its live records (a checkpoint)",
		Long: `Runs the compactor offline, as the node does in the background: it replays
the whole log into the node's state, writes the latest record of every key
(sorted by key), less the tombstones older than --tombstone-retention, as a
new sealed checkpoint in the log's own format (tmp, fsync, seal, rename),
reads it back against its seal, and releases the wal entries it covers.
It prints what it did, or why it did nothing (with --json, in "reason":
"empty", or "covered": the newest checkpoint already covers the whole log
and holds no tombstone older than --tombstone-retention). When
the checkpoint covers the whole log but holds such tombstones, it appends
one empty entry for the new checkpoint to cover, and compacts: so
--tombstone-retention 0 drops every tombstone now.

It takes the directory's lock, so it refuses while a node runs on DIR. Like
the node's start, it first cuts a torn tail off the newest segment (keeping
the bytes in SEGMENT.broken, and saying so on stderr), and it refuses a log
with damage anywhere else.`,
		RunE: runOn(e, o.run),
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print what it did as one JSON object")
	f.DurationVar(&o.retention, "tombstone-retention", 24*time.Hour, "drop tombstones written longer ago than `D` (Kafka's delete.retention.ms)")
	return c
}

type compactOpts struct {
	json      bool
	retention time.Duration
}

type compactJSON struct {
	Dir            string `json:"dir"`
	Through        uint64 `json:"through"`
	RecordsBefore  uint64 `json:"records_before"`
	RecordsKept    uint64 `json:"records_kept"`
	RecordsDropped uint64 `json:"records_dropped"`
	TombstonesKept uint64 `json:"tombstones_kept"`
	BytesBefore    int64  `json:"bytes_before"`
	BytesAfter     int64  `json:"bytes_after"`
	RecordBytes    int64  `json:"record_bytes"`
	KeptBytes      int64  `json:"kept_bytes"`
	// Reason says why nothing was compacted: "empty" (no entries) or
	// "covered" (the newest checkpoint covers the whole log and holds no
	// tombstone past retention); empty when it compacted.
	Reason     string  `json:"reason,omitempty"`
	DurationMs float64 `json:"duration_ms"`
	PauseMs    float64 `json:"pause_ms"`
	Compacted  bool    `json:"compacted"`
}

func (o *compactOpts) run(e *env, dir string) int {
	if !e.checkDir("compact", dir) {
		return exitUsage
	}
	if o.retention < 0 {
		fmt.Fprintln(e.stderr, "offsets-log compact: --tombstone-retention must not be negative")
		return exitUsage
	}
	// Opening the log may cut a torn tail; its one line goes to stderr.
	restore := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{ReplaceAttr: dropTime})))
	st, reason, err := compactOffline(dir, o.retention)
	slog.SetDefault(restore)
	if err != nil {
		return e.fail("compact", dir, err)
	}
	out := compactJSON{Dir: dir, Through: st.Through, RecordsBefore: st.RecordsBefore, RecordsKept: st.RecordsKept,
		RecordsDropped: st.RecordsDropped(), TombstonesKept: st.TombstonesKept, BytesBefore: st.BytesBefore,
		BytesAfter: st.BytesAfter, RecordBytes: st.RecordBytes, KeptBytes: st.KeptBytes,
		DurationMs: float64(st.Duration.Microseconds()) / 1e3, PauseMs: float64(st.Pause.Microseconds()) / 1e3,
		Compacted: reason == "", Reason: reason}
	w := bufio.NewWriter(e.stdout)
	switch {
	case o.json:
		jsonLines(w).Encode(out)
	case reason == reasonEmpty:
		fmt.Fprintf(w, "nothing to compact: %s is empty\n", dir)
	case reason == reasonCovered:
		fmt.Fprintf(w, "nothing to compact: the newest checkpoint already covers the whole log, through index %d, and holds no tombstone older than %s\n", st.Through, o.retention)
	default:
		fmt.Fprintf(w, "compacted %s through index %d into a checkpoint\n", dir, st.Through)
		fmt.Fprintf(w, "records  %d before, %d kept, %d dropped (%d tombstones kept, younger than %s)\n",
			st.RecordsBefore, st.RecordsKept, st.RecordsDropped(), st.TombstonesKept, o.retention)
		fmt.Fprintf(w, "bytes    %d on disk before, %d after; record bytes %d read, %d kept\n",
			st.BytesBefore, st.BytesAfter, st.RecordBytes, st.KeptBytes)
		fmt.Fprintf(w, "took     %s (the log was held for %s)\n", st.Duration.Round(time.Microsecond), st.Pause.Round(time.Microsecond))
	}
	if err := w.Flush(); err != nil {
		return e.fail("compact", dir, err)
	}
	return exitOK
}

// Why compact did nothing.
const (
	reasonEmpty   = "empty"
	reasonCovered = "covered"
)

// compactOffline compacts the log in dir through its last entry with
// consumeroffsets.CompactDir, which also compacts a checkpoint that covers
// the whole log but holds tombstones older than retention, and always
// rewrites one written before seals. reason says why nothing was
// compacted, if nothing was.
func compactOffline(dir string, retention time.Duration) (compactor.Stats, string, error) {
	now := time.Now()
	st, err := consumeroffsets.CompactDir(dir, retention, consumeroffsets.Options{Now: func() time.Time { return now }})
	switch {
	case err != nil || !st.Skipped:
		return st, "", err
	case st.Through == 0:
		return st, reasonEmpty, nil
	default:
		return st, reasonCovered, nil
	}
}

// dropTime removes the time from slog lines: a command's stderr is read
// by a person as it happens.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
