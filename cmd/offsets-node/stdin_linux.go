package main

import (
	"io"
	"os"
	"runtime"
	"syscall"
)

// openStdin returns standard input so that the node can stop reading it
// exactly: when it is a pipe or a socket, as an *os.File in non-blocking
// mode on Go's poller, whose read in flight a read deadline interrupts
// without consuming input. The returned function puts the descriptor back
// in blocking mode, for any process that shares it after the node exits.
// Anything else (a file, a terminal) is returned as it is: a read of a file
// does not wait, and a read of a terminal in flight at the stop is
// abandoned (see node.Run).
func openStdin() (io.Reader, func()) {
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err != nil {
		return os.Stdin, func() {}
	}
	if m := st.Mode & syscall.S_IFMT; m != syscall.S_IFIFO && m != syscall.S_IFSOCK {
		return os.Stdin, func() {}
	}
	if err := syscall.SetNonblock(0, true); err != nil {
		return os.Stdin, func() {}
	}
	f := os.NewFile(0, "/dev/stdin")
	return f, func() {
		syscall.SetNonblock(0, false)
		runtime.KeepAlive(f) // its finalizer would close descriptor 0
	}
}
