package log

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oldLogDigests are the digests of what Scan and Log.Replay read from the
// logs under testdata/logs, computed by the release before entry format
// version 2 existed (commit b69d2a5, whose checkpoints hold their records
// sorted by key): a log written by it must read the same record for record.
// For mid-log-damage it is Open's error.
var oldLogDigests = map[string]string{
	"clean":              "2a0cf75127471386f1af1df8d96b91b1a587139065e04b4005edd853684b004d",
	"compacted":          "bfb6b26e32ff11f0582f70c35883f1f3a213640c9b67adc4a50526fd37874c2d",
	"compacted-unsealed": "c2204ee9c3591b72a7fc713ae396acea073b070644a69054f1263e93a31bc518",
	"tombstones":         "0ad56902e157a0ea9b2b984fe13b50186efda091ad2820d1056a207aa1f537b4",
	"torn-tail":          "4f179bd7b628c5166f2f7d38a70288f05febf2423628e4cf9343e9e20c88591f",
	"mid-log-damage":     "6a5b9fd3da2abbe8dc3bc0a72a2d98ea347ac19a2f8eceda32e84efd78e00c94",
}

// copyTree copies directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// digestOldLog scans a copy of testdata/logs/name without writing, then
// opens it (repairing a torn tail) and replays it, and digests every record
// with its index, the stats, and the errors.
func digestOldLog(t *testing.T, name string) string {
	dir := filepath.Join(t.TempDir(), name)
	copyTree(t, filepath.Join("..", "testdata", "logs", name), dir)
	h := sha256.New()
	msg := func(err error) string {
		if err == nil {
			return "<nil>"
		}
		return strings.ReplaceAll(err.Error(), dir, "DIR")
	}
	rec := func(idx uint64, r Record) error {
		fmt.Fprintf(h, "%d %d %x\n", idx, r.Type, r.Data)
		return nil
	}
	st, err := Scan(dir, ScanOptions{Record: rec})
	fmt.Fprintf(h, "scan %+v %s tail=%v\n", st.ReplayStats, msg(err), st.Tail != nil)
	l, err := Open(dir, Options{SegmentSize: 512, Logger: quiet()})
	if err != nil {
		var ce *CorruptionError
		fmt.Fprintf(h, "open %v %s\n", errors.As(err, &ce), msg(err))
		return hex.EncodeToString(h.Sum(nil))
	}
	defer l.Close()
	rst, err := l.Replay(1, rec)
	fmt.Fprintf(h, "replay %+v %s last=%d\n", rst, msg(err), l.LastIndex())
	return hex.EncodeToString(h.Sum(nil))
}

func TestOldLogsReadIdentically(t *testing.T) {
	for name, want := range oldLogDigests {
		if got := digestOldLog(t, name); got != want {
			t.Errorf("testdata/logs/%s reads as %s, the release before version 2 read it as %s", name, got, want)
		}
	}
}
