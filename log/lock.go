package log

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// procLocks is the kernel's table of file locks; a variable for tests.
var procLocks = "/proc/locks"

// LockHeld reports whether a process holds the lock on the log in dir
// without taking it. Locked takes the lock for an instant, and a node
// starting in that instant would refuse to start; readers that must never
// disturb a node use LockHeld, which looks the lock file up in the kernel's
// table of flock(2) locks (Linux's /proc/locks). known is false when that
// table cannot be read. A directory without a LOCK file is not held.
func LockHeld(dir string) (held, known bool, err error) {
	fi, err := os.Stat(filepath.Join(dir, lockName))
	if errors.Is(err, os.ErrNotExist) {
		return false, true, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("log: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, false, nil
	}
	f, err := os.Open(procLocks)
	if err != nil {
		return false, false, nil
	}
	defer f.Close()
	// The kernel prints the device as major:minor in hex, then the inode:
	// "1: FLOCK  ADVISORY  WRITE 1234 fe:00:9979733 0 EOF". Waiters carry
	// "->" after the number and hold nothing.
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && fields[1] == "FLOCK" && fields[5] == want {
			return true, true, nil
		}
	}
	if sc.Err() != nil {
		return false, false, nil
	}
	return false, true, nil
}

// lockDir takes an exclusive, non-blocking flock on dir/LOCK. The kernel
// drops it when the process dies, so a crash never leaves a stale lock.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("log: lock %s: %w", path, err)
	}
	return f, nil
}

// LockDir takes the exclusive, non-blocking flock(2) on dir/LOCK that Open
// takes on a log directory, for a directory that holds a log with files of
// its own beside it (a cluster member's). It fails with ErrLocked when
// another process holds it; closing the file releases it.
func LockDir(dir string) (*os.File, error) { return lockDir(dir) }
