package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/spf13/cobra"
)

func compactCommand(e *env) *cobra.Command {
	o := &compactOpts{}
	c := &cobra.Command{
		Use:     "compact [flags] DIR",
		GroupID: groupChange,
		Short:   "rewrite the log down to its live records (a checkpoint)",
		Long: `Runs the compactor offline, as the node does in the background: it reads
the whole log, keeps the latest record of every key, drops tombstones older
than --tombstone-retention, writes the survivors as a new checkpoint in the
log's own format (tmp, fsync, rename), and releases the wal entries it
covers. It prints what it did.

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
	Dir            string  `json:"dir"`
	Through        uint64  `json:"through"`
	RecordsBefore  uint64  `json:"records_before"`
	RecordsKept    uint64  `json:"records_kept"`
	RecordsDropped uint64  `json:"records_dropped"`
	TombstonesKept uint64  `json:"tombstones_kept"`
	BytesBefore    int64   `json:"bytes_before"`
	BytesAfter     int64   `json:"bytes_after"`
	RecordBytes    int64   `json:"record_bytes"`
	KeptBytes      int64   `json:"kept_bytes"`
	DurationMs     float64 `json:"duration_ms"`
	PauseMs        float64 `json:"pause_ms"`
	Compacted      bool    `json:"compacted"`
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
	st, err := consumeroffsets.CompactDir(dir, o.retention, consumeroffsets.Options{})
	slog.SetDefault(restore)
	if err != nil {
		return e.fail("compact", dir, err)
	}
	out := compactJSON{Dir: dir, Through: st.Through, RecordsBefore: st.RecordsBefore, RecordsKept: st.RecordsKept,
		RecordsDropped: st.RecordsDropped(), TombstonesKept: st.TombstonesKept, BytesBefore: st.BytesBefore,
		BytesAfter: st.BytesAfter, RecordBytes: st.RecordBytes, KeptBytes: st.KeptBytes,
		DurationMs: float64(st.Duration.Microseconds()) / 1e3, PauseMs: float64(st.Pause.Microseconds()) / 1e3,
		Compacted: st.BytesAfter > 0 || st.RecordsBefore > 0}
	w := bufio.NewWriter(e.stdout)
	switch {
	case o.json:
		jsonLines(w).Encode(out)
	case st.Through == 0:
		fmt.Fprintf(w, "nothing to compact: %s is empty\n", dir)
	case !out.Compacted:
		fmt.Fprintf(w, "nothing to compact: the newest checkpoint already covers the whole log, through index %d\n", st.Through)
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

// dropTime removes the time from slog lines: a command's stderr is read
// by a person as it happens.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
