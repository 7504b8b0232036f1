package transport

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestNodeIDs(t *testing.T) {
	for name, id := range map[string]uint64{"n0": 1, "n1": 2, "n2": 3, "n10": 11, "n18446744073709551614": 1<<64 - 1} {
		got, err := NodeID(name)
		if err != nil || got != id {
			t.Errorf("NodeID(%q) = %d, %v; want %d", name, got, err, id)
		}
		if back := NodeName(id); back != name {
			t.Errorf("NodeName(%d) = %q, want %q", id, back, name)
		}
	}
	for _, bad := range []string{"", "n", "1", "c1", "n01", "n-1", "n1x", "N1", "n 1", "n18446744073709551615", "n99999999999999999999"} {
		if _, err := NodeID(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("NodeID(%q): %v, want ErrBadName", bad, err)
		}
	}
	if NodeName(0) != "" {
		t.Errorf("NodeName(0) = %q", NodeName(0))
	}
}

func TestFileSink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snaps")
	s, err := NewFileSink(dir, "snap")
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("hello "))
	s.Write([]byte("world"))
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Fatalf("the final file exists before Commit: %v", err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(s.Path()); err != nil || string(b) != "hello world" {
		t.Fatalf("got %q, %v", b, err)
	}
	if err := s.Commit(); err == nil {
		t.Fatal("a second Commit succeeded")
	}
	s.Abort() // after Commit: keeps the file
	if _, err := os.Stat(s.Path()); err != nil {
		t.Fatal(err)
	}

	a, err := NewFileSink(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("partial"))
	a.Abort()
	es, _ := os.ReadDir(dir)
	if len(es) != 1 || es[0].Name() != "snap" {
		t.Fatalf("files after Abort: %v", es)
	}

	// A temporary left by a crash is replaced, not appended to.
	os.WriteFile(filepath.Join(dir, "third.tmp"), []byte("stale bytes"), 0o644)
	c, _ := NewFileSink(dir, "third")
	c.Write([]byte("new"))
	c.Commit()
	if b, _ := os.ReadFile(c.Path()); string(b) != "new" {
		t.Fatalf("got %q", b)
	}
}
