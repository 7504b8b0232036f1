//go:build !linux

package log

import "os"

// preallocate does nothing where fallocate(2) is not available: segments
// grow as they are written.
func preallocate(f *os.File, size int64) error { return nil }

// datasync is fsync where fdatasync(2) is not available.
func datasync(f *os.File) error { return f.Sync() }
