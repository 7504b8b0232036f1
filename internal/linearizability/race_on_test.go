//go:build race

package linearizability

// raceEnabled makes the end-to-end test build the node with -race too.
const raceEnabled = true
