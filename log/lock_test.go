package log

import "testing"

func TestLockHeld(t *testing.T) {
	dir := t.TempDir()
	if held, known, err := LockHeld(dir); held || !known || err != nil {
		t.Fatalf("no LOCK file: %v %v %v", held, known, err)
	}
	l, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	held, known, err := LockHeld(dir)
	if err != nil || (known && !held) {
		t.Fatalf("held by Open: %v %v %v", held, known, err)
	}
	if !known {
		t.Skip("no /proc/locks here")
	}
	l.Close()
	if held, _, _ := LockHeld(dir); held {
		t.Fatal("held after Close")
	}
	// Not fooled by another file's lock.
	other := inspLog(t, 1)
	l2, _ := Open(other, Options{Logger: quiet()})
	defer l2.Close()
	if held, _, _ := LockHeld(dir); held {
		t.Fatal("another directory's lock counted")
	}
}
