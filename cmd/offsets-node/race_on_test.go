//go:build race

package main

// raceEnabled makes the durability tests build the node with -race too, so
// that the race detector watches the real binary under load and compaction.
const raceEnabled = true
