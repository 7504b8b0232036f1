package transport

import (
	"fmt"
	"os"
	"path/filepath"
)

// FileSink is a SnapshotSink that writes a snapshot's body to a file,
// crash-safely: the chunks go to NAME.tmp in the sink's directory; Commit
// fsyncs it, renames it to NAME and fsyncs the directory, so after a crash
// NAME either does not exist or holds the whole verified body. Abort
// removes NAME.tmp. A NAME.tmp left by a crash is replaced by the next
// sink of the same name.
type FileSink struct {
	dir, name string
	f         *os.File
	done      bool
}

// NewFileSink creates dir if needed and opens dir/name.tmp for a new body,
// truncating any stale one.
func NewFileSink(dir, name string) (*FileSink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot sink: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".tmp"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("snapshot sink: %w", err)
	}
	return &FileSink{dir: dir, name: name, f: f}, nil
}

// Path returns the file the body is in once committed.
func (s *FileSink) Path() string { return filepath.Join(s.dir, s.name) }

// Write appends a chunk of the body.
func (s *FileSink) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	if err != nil {
		err = fmt.Errorf("snapshot sink: %w", err)
	}
	return n, err
}

// Commit makes the body durable under its final name.
func (s *FileSink) Commit() error {
	if s.done {
		return fmt.Errorf("snapshot sink %s: already finished", s.name)
	}
	s.done = true
	tmp := s.f.Name()
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("snapshot sink: fsync %s: %w", tmp, err)
	}
	if err := s.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("snapshot sink: %w", err)
	}
	if err := os.Rename(tmp, s.Path()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("snapshot sink: %w", err)
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("snapshot sink: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("snapshot sink: fsync %s: %w", s.dir, err)
	}
	return nil
}

// Abort discards the body written so far.
func (s *FileSink) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.f.Close()
	os.Remove(s.f.Name())
}
