package log

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRepair(t *testing.T) {
	t.Run("torn-tail", func(t *testing.T) {
		dir := inspLog(t, 20)
		segs := inspSegments(t, dir)
		newest := segs[len(segs)-1].path
		good, _ := os.ReadFile(newest)
		tail := []byte{0xff, 0xff, 0x03, 1, 2, 3}
		os.WriteFile(newest, append(append([]byte(nil), good...), tail...), 0o644)
		rep, err := Repair(dir)
		if err != nil || rep == nil {
			t.Fatalf("Repair = %v, %v", rep, err)
		}
		if rep.Segment != newest || rep.Offset != int64(len(good)) || rep.Dropped != int64(len(tail)) ||
			rep.FirstLost != 21 || rep.BrokenFile != newest+brokenExt {
			t.Fatalf("report %+v", rep)
		}
		now, _ := os.ReadFile(newest)
		evidence, _ := os.ReadFile(rep.BrokenFile)
		if !bytes.Equal(now, good) || !bytes.Equal(evidence, tail) {
			t.Fatal("repair did not cut exactly the tail and keep it")
		}
		if rep, err := Repair(dir); rep != nil || err != nil {
			t.Fatalf("second Repair = %v, %v; want nothing to do", rep, err)
		}
		if held, _, _ := LockHeld(dir); held {
			t.Fatal("Repair kept the lock")
		}
	})
	t.Run("mid-log", func(t *testing.T) {
		dir := inspLog(t, 20)
		segs := inspSegments(t, dir)
		newest := segs[len(segs)-1].path
		data, _ := os.ReadFile(newest)
		data[3] ^= 0xff
		os.WriteFile(newest, data, 0o644)
		before := snapshot(t, dir)
		rep, err := Repair(dir)
		var ce *CorruptionError
		if rep != nil || !errors.As(err, &ce) || ce.Path != newest {
			t.Fatalf("Repair of mid-log damage = %v, %v", rep, err)
		}
		if snapshot(t, dir) != before {
			t.Fatal("a refused repair changed the directory")
		}
	})
	t.Run("locked", func(t *testing.T) {
		dir := inspLog(t, 2)
		l, err := Open(dir, Options{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := Repair(dir); !errors.Is(err, ErrLocked) {
			t.Fatalf("Repair of a held directory = %v, want ErrLocked", err)
		}
	})
	t.Run("not-a-log", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := Repair(dir); !errors.Is(err, ErrNotLog) {
			t.Fatalf("Repair = %v, want ErrNotLog", err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatal("Repair created files in a directory that is not a log")
		}
		if _, err := Repair(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Repair = %v, want ErrNotExist", err)
		}
	})
}
