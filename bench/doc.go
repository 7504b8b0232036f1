// Bench measures end-to-end request throughput of offsets-node against two
// baselines: naivenode (encoding/json per line, one fsync per commit; see
// bench/internal/naivenode) and learner.py (an in-memory Python node).
//
// It builds the Go binaries from the module it runs in, writes a
// deterministic workload (one init, then -n requests: 80% commit_offset, 20%
// fetch_offset over -keys keys), and runs every variant with stdin opened on
// the workload file and stdout read by the harness. A run is timed from
// process start until stdout reaches EOF and the process has exited; it
// counts only if the process exits 0, sends exactly one reply line per input
// line, and the reply to the last request carries the expected answer.
// Anything else fails the whole benchmark and prints the tail of the
// process's stderr.
//
// Variants (select with -variants):
//
//	node-fsync   offsets-node --sync=fsync --data-dir D
//	node-none    offsets-node --sync=none --data-dir D
//	naive-fsync  naivenode --data-dir D, on the first -naive-n requests only,
//	             because one fsync per commit takes minutes on the full run
//	naive-none   naivenode --sync=none --data-dir D
//	python       python3 bench/learner.py, skipped if python3 is not on PATH
//
// Variants run interleaved (all variants once, then all again, -runs times)
// so machine noise hits them alike; each run gets a fresh data directory.
// The result is a table of median, min and max requests per second, the
// ratios between variants, and the throughput goals from the spec marked
// PASS or FALL SHORT.
//
// Run it from anywhere inside the module:
//
//	go run ./bench                # 1,000,000 requests, 3 runs per variant
//	go run ./bench -quick         # 100,000 requests, 2 runs
//	go run ./bench -out results   # also write results/report.md and results/throughput.csv
//
// Progress goes to stderr, the report to stdout.
package main
