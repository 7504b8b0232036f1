//go:build !linux

package main

import (
	"io"
	"os"
)

// openStdin returns standard input as it is: a read in flight when the node
// stops is abandoned (see node.Run). On Linux a pipe is read through Go's
// poller instead, so that the stop interrupts it exactly.
func openStdin() (io.Reader, func()) { return os.Stdin, func() {} }
