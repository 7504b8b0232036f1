//go:build linux

package consumeroffsets

import (
	"runtime"
	"syscall"
)

// lowerPriority pins the calling goroutine to its OS thread for good and
// raises that thread's nice value, so that a background compaction yields
// the CPU to the goroutines serving requests on a busy machine. The thread
// is not handed back: when the goroutine ends, the runtime retires it.
func lowerPriority() {
	runtime.LockOSThread()
	// Best effort: a failure leaves the normal priority, which is correct.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 10)
}
