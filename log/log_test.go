package log

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openT opens a log in dir with small segments and a discarding logger.
func openT(t *testing.T, dir string, logger *slog.Logger) *Log {
	t.Helper()
	if logger == nil {
		logger = quiet()
	}
	l, err := Open(dir, Options{SegmentSize: 1 << 10, Logger: logger})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// appendN appends n entries, each with two records naming the entry number.
func appendN(t *testing.T, l *Log, n int) {
	t.Helper()
	var b Batch
	for i := 0; i < n; i++ {
		b.Reset()
		b.Add(1, []byte(fmt.Sprintf("rec-%d-a", l.LastIndex()+1)))
		b.Add(2, []byte(fmt.Sprintf("rec-%d-b", l.LastIndex()+1)))
		if _, err := l.Append(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// replayAll returns every record as "index:type:data".
func replayAll(t *testing.T, dir string) ([]string, error) {
	t.Helper()
	var got []string
	_, err := Replay(dir, 1, func(idx uint64, r Record) error {
		got = append(got, fmt.Sprintf("%d:%d:%s", idx, r.Type, r.Data))
		return nil
	})
	return got, err
}

func expectRecords(t *testing.T, dir string, entries int) {
	t.Helper()
	got, err := replayAll(t, dir)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if len(got) != 2*entries {
		t.Fatalf("replayed %d records, want %d", len(got), 2*entries)
	}
	for i := 0; i < entries; i++ {
		want := fmt.Sprintf("%d:1:rec-%d-a", i+1, i+1)
		if got[2*i] != want {
			t.Fatalf("record %d = %q, want %q", 2*i, got[2*i], want)
		}
	}
}

func TestAppendReopenReplay(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 100) // ~3 KiB over 1 KiB segments: several segments
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(filepath.Join(dir, walDirName))
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	l = openT(t, dir, nil)
	if l.LastIndex() != 100 {
		t.Fatalf("LastIndex after reopen = %d, want 100", l.LastIndex())
	}
	appendN(t, l, 5)
	l.Close()
	expectRecords(t, dir, 105)

	var from []uint64
	if _, err := Replay(dir, 50, func(idx uint64, r Record) error {
		from = append(from, idx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if from[0] != 50 || from[len(from)-1] != 105 || len(from) != 2*56 {
		t.Fatalf("replay from 50 visited %d..%d (%d records)", from[0], from[len(from)-1], len(from))
	}
}

func TestSegmentCycleMirror(t *testing.T) {
	// Sync fsyncs the directory after tidwall creates a segment; the mirror
	// of tidwall's cycling rule must see every new segment.
	dir := t.TempDir()
	l := openT(t, dir, nil)
	defer l.Close()
	walDir := filepath.Join(dir, walDirName)
	var b Batch
	for i := 0; i < 200; i++ {
		b.Reset()
		b.Add(1, bytes.Repeat([]byte{'x'}, i%97))
		before, _ := listSegments(walDir)
		if _, err := l.Append(&b); err != nil {
			t.Fatal(err)
		}
		after, _ := listSegments(walDir)
		if created := len(after) > len(before); created != l.dirDirty {
			t.Fatalf("append %d: segment created=%v but dirDirty=%v", i, created, l.dirDirty)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	if _, err := Open(dir, Options{Logger: quiet()}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if held, known, err := LockHeld(dir); err != nil || (known && !held) {
		t.Fatalf("LockHeld = %v, %v, %v; want held", held, known, err)
	}
	l.Close()
	if held, known, err := LockHeld(dir); err != nil || (known && held) {
		t.Fatalf("LockHeld after Close = %v, %v, %v; want not held", held, known, err)
	}
	l = openT(t, dir, nil)
	l.Close()
}

// newestSegment returns the path of the newest segment of a log.
func newestSegment(t *testing.T, dir string) string {
	segs, err := listSegments(filepath.Join(dir, walDirName))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return segs[len(segs)-1].path
}

func appendToFile(t *testing.T, path string, data []byte) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestTornTailRepair(t *testing.T) {
	half := func(t *testing.T, dir string) []byte {
		// the first half of a real frame for the next entry
		e := EncodeEntry(21, Record{Type: 1, Data: []byte("lost")})
		frame := append([]byte{byte(len(e))}, e...)
		return frame[:len(frame)/2]
	}
	cases := map[string]func(t *testing.T, dir string) []byte{
		// A zeroed page of a torn entry whose next page reached the disk;
		// zeros alone up to the end are unused space
		// (TestPreallocatedTailNotRepaired).
		"zeros": func(*testing.T, string) []byte { return append(make([]byte, 4096), 0x17) },
		"random": func(*testing.T, string) []byte {
			return []byte("\x93garbage\xff\x01\x02 not an entry at all, just bytes")
		},
		"half-entry":   half,
		"long-length":  func(*testing.T, string) []byte { return []byte{0xff, 0xff, 0x03, 1, 2, 3} },
		"bad-checksum": badChecksumFrame,
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, nil)
			appendN(t, l, 20)
			l.Close()
			seg := newestSegment(t, dir)
			good, _ := os.ReadFile(seg)
			bad := damage(t, dir)
			appendToFile(t, seg, bad)

			var logBuf bytes.Buffer
			l = openT(t, dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if l.LastIndex() != 20 {
				t.Fatalf("LastIndex after repair = %d, want 20", l.LastIndex())
			}
			appendN(t, l, 1) // the repaired log takes appends
			l.Close()
			expectRecords(t, dir, 21)

			lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "torn tail") || !strings.Contains(lines[0], seg) {
				t.Fatalf("want one log line naming %s, got:\n%s", seg, logBuf.String())
			}
			evidence, err := os.ReadFile(seg + brokenExt)
			if err != nil || !bytes.Equal(evidence, bad) {
				t.Fatalf("evidence file holds %q (err %v), want the %d dropped bytes", evidence, err, len(bad))
			}
			now, _ := os.ReadFile(seg)
			if !bytes.HasPrefix(now, good) {
				t.Fatal("repair changed bytes before the damage")
			}
		})
	}
}

// badChecksumFrame is a whole frame for entry 21 with one byte of its data
// flipped.
func badChecksumFrame(*testing.T, string) []byte {
	e := EncodeEntry(21, Record{Type: 1, Data: []byte("flipped")})
	e[len(e)-1] ^= 0x40
	return append([]byte{byte(len(e))}, e...)
}

func TestMidLogDamageRefused(t *testing.T) {
	t.Run("newest-segment", func(t *testing.T) {
		dir := t.TempDir()
		l := openT(t, dir, nil)
		appendN(t, l, 20)
		l.Close()
		seg := newestSegment(t, dir)
		data, _ := os.ReadFile(seg)
		before := append([]byte(nil), data...)
		data[3] ^= 0xff // inside the first entry; good entries follow
		os.WriteFile(seg, data, 0o644)
		_, err := Open(dir, Options{SegmentSize: 1 << 10, Logger: quiet()})
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Path != seg || ce.Offset != 0 {
			t.Fatalf("Open = %v, want a CorruptionError at %s byte 0", err, seg)
		}
		now, _ := os.ReadFile(seg)
		if !bytes.Equal(now, data) || len(now) != len(before) {
			t.Fatal("a refused open modified the segment")
		}
	})
	t.Run("older-segment", func(t *testing.T) {
		dir := t.TempDir()
		l := openT(t, dir, nil)
		appendN(t, l, 100)
		l.Close()
		segs, _ := listSegments(filepath.Join(dir, walDirName))
		first := segs[0].path
		data, _ := os.ReadFile(first)
		off := len(data) / 2
		data[off] ^= 0x55
		os.WriteFile(first, data, 0o644)
		l = openT(t, dir, nil) // the newest segment is fine: Open succeeds
		defer l.Close()
		_, err := l.Replay(1, func(uint64, Record) error { return nil })
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Path != first || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Replay = %v, want a CorruptionError in %s", err, first)
		}
		if !strings.Contains(err.Error(), first) || !strings.Contains(err.Error(), "at byte") {
			t.Fatalf("error %q does not name the file and offset", err)
		}
	})
	t.Run("missing-segment", func(t *testing.T) {
		dir := t.TempDir()
		l := openT(t, dir, nil)
		appendN(t, l, 100)
		l.Close()
		segs, _ := listSegments(filepath.Join(dir, walDirName))
		os.Remove(segs[1].path)
		_, err := Replay(dir, 1, func(uint64, Record) error { return nil })
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Replay over a gap = %v, want ErrCorrupt", err)
		}
	})
}

func TestUnknownVersionNotCut(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 3)
	l.Close()
	e := EncodeEntry(4, Record{Type: 1, Data: []byte("from the future")})
	e[verOffset] = VersionRaft + 1 // a version from the future
	putCRC(e)
	seg := newestSegment(t, dir)
	appendToFile(t, seg, append([]byte{byte(len(e))}, e...))
	_, err := Open(dir, Options{Logger: quiet()})
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("Open = %v, want ErrVersion", err)
	}
	if _, err := os.Stat(seg + brokenExt); !os.IsNotExist(err) {
		t.Fatal("an entry of a newer version was cut off")
	}
}

func putCRC(e []byte) {
	crc := crcOf(e)
	e[0], e[1], e[2], e[3] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
}

func TestStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, nil)
	appendN(t, l, 3)
	l.Close()
	tmp := filepath.Join(dir, walDirName, segmentName(2)+".START.TEMP")
	os.WriteFile(tmp, []byte("half a truncation"), 0o644)
	l = openT(t, dir, nil)
	l.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatal("stale .TEMP file survived Open")
	}
	expectRecords(t, dir, 3)
}

func TestDecodeEntryErrors(t *testing.T) {
	good := EncodeEntry(7, Record{Type: 3, Data: []byte("abc")}, Record{Type: 4, Data: nil})
	var got []string
	idx, err := DecodeEntry(good, func(r Record) error {
		got = append(got, fmt.Sprintf("%d:%s", r.Type, r.Data))
		return nil
	})
	if err != nil || idx != 7 || strings.Join(got, ",") != "3:abc,4:" {
		t.Fatalf("DecodeEntry = %d %v %v", idx, got, err)
	}
	for name, c := range map[string]struct {
		entry []byte
		want  error
	}{
		"empty":     {nil, ErrZeroed},
		"zeros":     {make([]byte, 40), ErrZeroed},
		"short":     {good[:10], ErrChecksum},
		"flipped":   {flip(good, 20), ErrChecksum},
		"truncated": {good[:len(good)-1], ErrChecksum},
	} {
		if _, err := DecodeEntry(c.entry, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}
