//go:build !linux

package main

// filesystemType names the filesystem holding path; outside Linux it does
// not know.
func filesystemType(path string) string { return "unknown" }
