package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

// The logs under testdata/logs are built by genLogs with fixed timestamps,
// so that every command's output on them is the same on every run. They are
// committed; TestTestdataLogs checks that they are what genLogs builds, and
// -update rebuilds them along with the golden files.

const logsDir = "../../testdata/logs"

// base is the time of the first record of every generated log.
var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ts is base plus n tenths of a second, in Unix milliseconds.
func ts(n int) int64 { return base.Add(time.Duration(n) * 100 * time.Millisecond).UnixMilli() }

func commitRec(group, topic string, part int32, off int64, meta string, at int64) log.Record {
	data := consumeroffsets.AppendOffsetCommit(nil, []byte(group), []byte(topic), part,
		consumeroffsets.OffsetValue{Offset: off, Metadata: meta, CommitTime: at})
	return log.Record{Type: consumeroffsets.TypeOffsetCommit, Data: data}
}

func offsetTombRec(group, topic string, part int32, at int64) log.Record {
	return log.Record{Type: consumeroffsets.TypeOffsetTombstone,
		Data: consumeroffsets.AppendOffsetTombstone(nil, []byte(group), []byte(topic), part, at)}
}

func groupRec(group string, gen int32, at int64) log.Record {
	return log.Record{Type: consumeroffsets.TypeGroupMetadata,
		Data: consumeroffsets.AppendGroupMetadata(nil, []byte(group), gen, at)}
}

func groupTombRec(group string, at int64) log.Record {
	return log.Record{Type: consumeroffsets.TypeGroupTombstone,
		Data: consumeroffsets.AppendGroupTombstone(nil, []byte(group), at)}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// appendEntries appends one entry per element of entries to the log in dir,
// creating it with segments of segSize bytes.
func appendEntries(dir string, segSize int, entries [][]log.Record) error {
	l, err := log.Open(dir, log.Options{SegmentSize: segSize, Logger: discardLogger()})
	if err != nil {
		return err
	}
	var b log.Batch
	for _, recs := range entries {
		b.Reset()
		for _, r := range recs {
			b.Add(r.Type, r.Data)
		}
		if _, err := l.Append(&b); err != nil {
			l.Close()
			return err
		}
	}
	return l.Close()
}

// history is a small, varied commit history: three groups (one with a
// space and non-ASCII in its name), several topics and partitions, commits
// that supersede earlier ones, one that moves an offset back, metadata.
func history() [][]log.Record {
	return [][]log.Record{
		{commitRec("billing", "payments", 0, 10, "", ts(0)), commitRec("billing", "payments", 1, 7, "", ts(0))},
		{commitRec("orders-svc", "orders", 0, 100, "consumer-7", ts(3))},
		{commitRec("billing", "payments", 0, 25, "", ts(5)), commitRec("ünïcode grp", "événements", 2, 1, "", ts(5))},
		{commitRec("orders-svc", "orders", 1, 55, "", ts(8)), commitRec("orders-svc", "audit", 0, 3, "", ts(8)),
			commitRec("billing", "invoices", 0, 900, "", ts(8))},
		{commitRec("orders-svc", "orders", 0, 140, "consumer-7", ts(12))},
		{commitRec("billing", "payments", 1, 9, "", ts(15)), commitRec("ünïcode grp", "événements", 2, 4, "", ts(15))},
		{commitRec("billing", "payments", 0, 20, "rewound", ts(21))}, // a consumer that seeks back
		{commitRec("orders-svc", "orders", 1, 60, "", ts(25)), commitRec("orders-svc", "Orders", 0, 1, "", ts(25))},
		{commitRec("billing", "invoices", 0, 1000, "", ts(30))},
		{commitRec("orders-svc", "orders", 0, 150, "consumer-7", ts(34)), commitRec("billing", "payments", 1, 12, "", ts(34))},
	}
}

// tombstoneHistory adds what the node's deletes, generations and offset
// expiry write: orders-svc gets generations and loses orders/1
// (delete_offsets); billing is deleted (delete_group: a tombstone for each
// offset, then the group's) and comes back with one commit; "ünïcode grp"
// has its offsets expired; "idle" only ever had a generation.
func tombstoneHistory() [][]log.Record {
	h := history()
	h = append(h,
		[][]log.Record{
			{groupRec("orders-svc", 1, ts(40)), groupRec("billing", 3, ts(40)), groupRec("idle", 1, ts(40))},
			{offsetTombRec("orders-svc", "orders", 1, ts(45))},
			{groupRec("orders-svc", 2, ts(50)), commitRec("orders-svc", "orders", 0, 151, "", ts(50))},
			{offsetTombRec("billing", "invoices", 0, ts(55)), offsetTombRec("billing", "payments", 0, ts(55)),
				offsetTombRec("billing", "payments", 1, ts(55)), groupTombRec("billing", ts(55))},
			{commitRec("billing", "refunds", 0, 5, "", ts(60))},
			{offsetTombRec("ünïcode grp", "événements", 2, ts(65))},
		}...)
	return h
}

// frame is an entry as a segment holds it: a uvarint length, then the entry.
func frame(entry []byte) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(entry))), entry...)
}

// segmentsOf lists the wal segment files of the log in dir, oldest first.
func segmentsOf(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "wal", strings.Repeat("[0-9]", 20)))
	sort.Strings(paths)
	return paths, err
}

// entryOffsets returns the byte offset of every frame of a good segment.
func entryOffsets(data []byte) []int {
	var offs []int
	for off := 0; off < len(data); {
		n, w := binary.Uvarint(data[off:])
		offs = append(offs, off)
		off += w + int(n)
	}
	return offs
}

// genLogs builds every test log under root.
func genLogs(root string) error {
	gens := map[string]func(dir string) error{
		"clean": func(dir string) error { return appendEntries(dir, 512, history()) },
		"torn-tail": func(dir string) error {
			h := history()
			if err := appendEntries(dir, 512, h); err != nil {
				return err
			}
			// The next entry's write, cut short by a crash.
			next := log.EncodeEntry(uint64(len(h)+1), commitRec("billing", "payments", 0, 30, "", ts(40)),
				commitRec("orders-svc", "orders", 0, 160, "", ts(40)))
			f := frame(next)
			return appendTo(dir, f[:len(f)/2])
		},
		"mid-log-damage": func(dir string) error {
			if err := appendEntries(dir, 512, history()); err != nil {
				return err
			}
			segs, err := segmentsOf(dir)
			if err != nil || len(segs) < 2 {
				return fmt.Errorf("want 2 segments or more, got %d (%v)", len(segs), err)
			}
			// A flipped bit in the data of the first segment's second entry,
			// and a flipped CRC byte in the newest segment's first entry:
			// both with good entries after them.
			if err := damage(segs[0], 1, 20); err != nil {
				return err
			}
			return damage(segs[len(segs)-1], 0, 1)
		},
		"compacted": func(dir string) error {
			if err := appendEntries(dir, 512, tombstoneHistory()); err != nil {
				return err
			}
			// Tombstones younger than 1.5 seconds at compaction time are
			// kept: billing's delete and the expiry, not the older
			// delete_offsets.
			now := time.UnixMilli(ts(66))
			if _, err := consumeroffsets.CompactDir(dir, 1500*time.Millisecond, consumeroffsets.Options{
				Now: func() time.Time { return now }, SegmentSize: 512,
			}); err != nil {
				return err
			}
			return appendEntries(dir, 512, [][]log.Record{
				{commitRec("billing", "refunds", 0, 6, "", ts(70)), commitRec("orders-svc", "orders", 0, 170, "", ts(70))},
				{commitRec("new-group", "orders", 3, 1, "", ts(75)), groupRec("new-group", 1, ts(75))},
			})
		},
		"tombstones": func(dir string) error { return appendEntries(dir, 512, tombstoneHistory()) },
	}
	// What the release before checkpoint seals wrote for "compacted": the
	// same segments in checkpoint.N/, with no SEAL.
	gens["compacted-unsealed"] = func(dir string) error {
		if err := gens["compacted"](dir); err != nil {
			return err
		}
		sealed, err := filepath.Glob(filepath.Join(dir, "checkpoint.*.sealed"))
		if err != nil || len(sealed) != 1 {
			return fmt.Errorf("want one sealed checkpoint, got %v (%v)", sealed, err)
		}
		if err := os.Remove(filepath.Join(sealed[0], "SEAL")); err != nil {
			return err
		}
		return os.Rename(sealed[0], strings.TrimSuffix(sealed[0], ".sealed"))
	}
	for name, gen := range gens {
		dir := filepath.Join(root, name)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := gen(dir); err != nil {
			return fmt.Errorf("generate %s: %w", name, err)
		}
	}
	return nil
}

// damage flips one bit at byte at of the k-th entry of a segment.
func damage(seg string, k, at int) error {
	data, err := os.ReadFile(seg)
	if err != nil {
		return err
	}
	offs := entryOffsets(data)
	data[offs[k]+at] ^= 0x10
	return os.WriteFile(seg, data, 0o644)
}

// appendTo appends bytes to the newest segment of the log in dir.
func appendTo(dir string, b []byte) error {
	segs, err := segmentsOf(dir)
	if err != nil || len(segs) == 0 {
		return fmt.Errorf("no segments: %v", err)
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tree lists every file under root with its bytes.
func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		r, _ := filepath.Rel(root, p)
		files[r] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestTestdataLogs checks that the committed logs are what genLogs builds.
func TestTestdataLogs(t *testing.T) {
	if *update {
		if err := genLogs(logsDir); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	if err := genLogs(tmp); err != nil {
		t.Fatal(err)
	}
	want, got := tree(t, tmp), tree(t, logsDir)
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("testdata/logs/%s differs from what the generator builds; run go test ./cmd/offsets-log -update", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("testdata/logs/%s is not built by the generator", name)
		}
	}
}
