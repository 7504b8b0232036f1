package log

import (
	"os"
	"syscall"
)

// preallocate allocates the blocks of f up to size bytes and sets its size
// to size if it is shorter (fallocate(2) mode 0: the new space reads as
// zeros).
func preallocate(f *os.File, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if err != syscall.EINTR {
			return err
		}
	}
}

// datasync is fdatasync(2): the data of f and the metadata needed to read
// it back, without the timestamps.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
