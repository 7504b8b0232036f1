//go:build !linux

package consumeroffsets

// lowerPriority does nothing where thread priorities are not per thread.
func lowerPriority() {}
