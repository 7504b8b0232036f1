// Package tmpfstest mounts small tmpfs file systems for tests that need a
// disk that fills up: a real ENOSPC from write(2), or from creating a file
// when the inodes run out.
package tmpfstest

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// Mount mounts a tmpfs with the given mount options (e.g. "size=3m" or
// "size=4m,nr_inodes=16") on a fresh directory and returns it. It is
// unmounted when the test ends; cleanups registered later (closing files in
// it) run before that. It skips the test, saying why, when not running as
// root or when the mount fails (a container without the right).
func Mount(t testing.TB, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: filling a small tmpfs needs root to mount it")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
