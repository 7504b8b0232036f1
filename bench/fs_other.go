//go:build !linux

package main

import "errors"

// filesystemType names the filesystem holding path; outside Linux it does
// not know.
func filesystemType(path string) string { return "unknown" }

// deviceOf is only known on Linux.
func deviceOf(path string) (string, error) { return "", errors.New("not on Linux") }
