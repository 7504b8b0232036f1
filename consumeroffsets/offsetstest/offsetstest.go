// Package offsetstest builds offsets logs for benchmarks and tests: a log of
// many commits written straight through consumeroffsets (no protocol, no
// fsync), and a copy of a log directory to change without touching the
// original.
package offsetstest

import (
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
)

// KeyFunc names the group, topic and partition of synthetic key i.
type KeyFunc func(i int) (group, topic []byte, partition int32)

// WriteLog writes records commits over keys keys into a new log in dir, in
// batches of 4096 as the node's group commit does. Each commit goes to a key
// drawn uniformly at random (seeded by records and keys, so the same
// arguments give the same log) and moves its offset forward by 1 to 16.
// Automatic compaction is off and nothing is fsynced.
func WriteLog(dir string, records, keys int, key KeyFunc) error {
	s, _, err := consumeroffsets.Open(dir, consumeroffsets.Options{
		NoSync: true, CompactMinBytes: -1, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(records), uint64(keys)))
	offsets := make([]int64, keys)
	for i := 0; i < records; i++ {
		k := rng.IntN(keys)
		offsets[k] += 1 + rng.Int64N(16)
		g, t, p := key(k)
		if err := s.Commit(g, t, p, offsets[k], nil); err != nil {
			s.Close()
			return err
		}
		if s.Pending() == 4096 || i == records-1 {
			if err := s.Flush(); err != nil {
				s.Close()
				return err
			}
		}
	}
	return s.Close()
}

// CopyDir copies the directories and regular files under src to dst, which
// must not exist yet.
func CopyDir(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
