// Bench is the benchmark suite: one command that measures offsets-node
// against its baselines and draws the results. Every figure is measured
// side by side in the same run, so that machine noise and the disk of the
// day hit the node and its baselines alike.
//
//	go run ./bench                  # the whole suite (about 5.5 minutes on 2 cores, more when busy)
//	go run ./bench -quick           # a small version, about half a minute
//	go run ./bench -out DIR         # where report.md, *.csv and *.png go (checked first)
//	go run ./bench -sections latency,sawtooth   # only some sections
//
// Each section starts with a progress line giving its expected duration
// and ends with one giving the time it took. A -quick report says at its
// top that its verdicts come from small runs.
//
// Sections (select with -sections):
//
//	throughput          requests per second through the real binary, the
//	                    workload pipelined from a file on stdin (80% commits,
//	                    20% fetches), fsync on and off, against naivenode
//	                    (encoding/json per line, one fsync per commit, no
//	                    compaction; bench/internal/naivenode) and a Python
//	                    learner's in-memory node (bench/learner.py). Variants
//	                    with -variants.
//	latency             commit round trip one request at a time (write one
//	                    request to the node's stdin pipe, wait for its reply
//	                    line): p50/p99/p99.9, against the disk's own 4 KiB
//	                    write + fsync latency in the same filesystem.
//	compaction          logs of 10^5 to 10^7 records over 10^3 to 10^6 keys
//	                    (-quick: 10^4 to 10^6 over 10^3 to 10^5), built in
//	                    process through consumeroffsets and compacted in
//	                    process with consumeroffsets.CompactDir (the log
//	                    replayed into the state, then the checkpoint written
//	                    from a snapshot of it; the time is the checkpoint's,
//	                    the replay is the restart's): time, records of
//	                    history retired per second, MB/s, space before and
//	                    after, the snapshot pause and the switch's log hold,
//	                    and, for information, MB/s against the disk's
//	                    sequential write speed (256 MiB in 1 MiB writes +
//	                    fsync). On the same
//	                    copies, recovery: the binary's restart time before and
//	                    after compaction, and a least-squares line of restart
//	                    time against log size.
//	compaction-latency  the binary on a copy of a dirty log, commits one at a
//	                    time, background compaction off and on; samples that
//	                    overlap a compaction (from the node's msg=compacted
//	                    lines) against those without; the pause of the switch;
//	                    the node's peak RSS after init (VmHWM, reset through
//	                    /proc/PID/clear_refs) with compaction and without.
//	sawtooth            the binary with small compaction thresholds under
//	                    sustained commits; the data directory's size sampled
//	                    every 50 ms.
//	redis               the throughput workload's requests sent to
//	                    redis-server (appendfsync always) as SET/GET, then
//	                    BGREWRITEAOF and a restart: throughput, rewrite and
//	                    reload against the node's; skipped, and the report
//	                    says so, when redis-server is not on PATH.
//	cluster             not in the default set (-sections cluster; about 2
//	                    minutes, -quick about half a minute): three members
//	                    on free loopback ports (--cluster, fsync on) against
//	                    the single node, each run starting both afresh. The
//	                    throughput workload into the leader's stdin, then
//	                    dealt round robin over the three (at most 1,024 in
//	                    flight per member); one commit at a time into the
//	                    leader and through a follower; failover, kill -9 of
//	                    the leader (the member every member names in
//	                    cluster_status) to the first acknowledgement of a
//	                    commit sent after it, -cluster-kills times at the
//	                    default ticks and at --raft-tick 10ms; catch-up, a
//	                    follower killed under load, restarted after
//	                    -cluster-down, until its applied index reaches the
//	                    leader's commit index. Error replies are counted
//	                    and reported, not retried.
//
// Every measurement runs -runs times (runs of several variants
// interleaved); tables give the median over runs with min and max. The
// goals of the spec and of issues 10 (throughput) and 11 (compaction from
// the live state) are checked and marked PASS or FALL SHORT in the report;
// they are never tuned for.
//
// Output: DIR/report.md (also printed on stdout), DIR/*.csv with the raw
// numbers (every latency sample, every compaction, every size sample), and
// DIR/*.png drawn with gonum.org/v1/plot: log size over time with the
// compactions' saw-tooth, commit latency over time with compactions marked,
// compaction time and restart time against log size. Progress goes to
// stderr.
//
// A throughput run counts only if the process exits 0, sends exactly one
// reply line per input line, and the reply to the last request carries the
// expected answer; a sequential commit only if its reply is its
// commit_offset_ok. Anything else fails the whole suite and prints the tail
// of the process's stderr.
package main
