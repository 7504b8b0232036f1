package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Variants of the cluster section's throughput and latency measurements.
const (
	clusterSingle   = "single"           // the single node, no --cluster
	clusterLeader   = "cluster-leader"   // three members, every request into the leader
	clusterSpread   = "cluster-spread"   // three members, requests spread over all three
	clusterFollower = "cluster-follower" // three members, one-at-a-time commits through a follower
)

// Raft tick settings the failover runs use.
const (
	ticksDefault = "default ticks (100ms x 10)"
	ticks10ms    = "--raft-tick 10ms"
)

var ticksArgs = map[string][]string{ticksDefault: nil, ticks10ms: {"--raft-tick", "10ms"}}

// clusterResult is what the cluster section measured.
type clusterResult struct {
	Throughput []runResult     // variants clusterSingle, clusterLeader, clusterSpread
	Latency    []sequentialRun // variants clusterSingle, clusterLeader, clusterFollower
	Failover   []failoverSample
	Catchup    []catchupRun
	Requests   int
	LatencyN   int
	Kills      int
	Down       time.Duration
	LoadRate   int
	Errors     map[string]int64 // error replies per throughput variant, over all runs
	Notes      []string
}

// failoverSample is one kill of the leader.
type failoverSample struct {
	Ticks   string
	Kill    int
	Killed  string  // the leader killed
	Acked   string  // the member whose acknowledgement ended it
	Seconds float64 // kill -9 to the first acknowledgement of a commit sent after it
}

// catchupRun is one follower restarted after being down under load.
type catchupRun struct {
	Run        int
	Follower   string
	Behind     uint64  // the leader's commit index minus the follower's applied index at the restart
	Seconds    float64 // process start to applied >= the leader's commit index
	Acked      int64   // load commits acknowledged over the run
	BySnapshot bool    // the follower's stderr mentions a snapshot
}

// clusterWorkload is the workload file without its init line, and the same
// requests dealt round robin into one file per member.
type clusterWorkload struct {
	*workload
	Body   string   // the requests, no init line
	Shares []string // request i in Shares[i%3]
	Counts []int
}

func prepareClusterWorkload(cfg config, workDir string) (*clusterWorkload, error) {
	spec := workloadSpec{Requests: cfg.Requests, Keys: cfg.Keys, Seed: cfg.Seed}
	progress("generating workload: %s requests over %s keys...", commas(float64(cfg.Requests)), commas(float64(cfg.Keys)))
	full, err := generate(filepath.Join(workDir, "cluster-workload-init.jsonl"), spec)
	if err != nil {
		return nil, err
	}
	in, err := os.Open(full.Path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	cw := &clusterWorkload{workload: full, Body: filepath.Join(workDir, "cluster-workload.jsonl"), Counts: make([]int, len(memberNames))}
	body, err := os.Create(cw.Body)
	if err != nil {
		return nil, err
	}
	var shares []*bufio.Writer
	var files []*os.File
	for i := range memberNames {
		p := filepath.Join(workDir, fmt.Sprintf("cluster-workload-%d.jsonl", i))
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		cw.Shares = append(cw.Shares, p)
		files = append(files, f)
		shares = append(shares, bufio.NewWriterSize(f, 1<<20))
	}
	files = append(files, body)
	bw := bufio.NewWriterSize(body, 1<<20)
	r := bufio.NewReaderSize(in, 1<<20)
	if _, err := r.ReadBytes('\n'); err != nil { // the init line
		return nil, err
	}
	for i := 0; ; i++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			bw.Write(line)
			shares[i%len(shares)].Write(line)
			cw.Counts[i%len(shares)]++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	for _, w := range append(shares, bw) {
		if err := w.Flush(); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return cw, nil
}

// pipeline writes the files to the members (file i to member i) at once
// and returns the time from the first write to the last reply, failing on
// every error reply. With window > 0 at most window requests are in flight
// to each member; otherwise the whole file is written as fast as the pipe
// takes it.
func pipeline(ms []*member, files []string, counts []int, window int, timeout time.Duration) (_ time.Duration, errs errorReplies, _ error) {
	var dones []<-chan struct{}
	for i, m := range ms {
		dones = append(dones, m.expectCount(int64(counts[i])))
	}
	errc := make(chan error, len(ms))
	start := time.Now()
	for i, m := range ms {
		go func() {
			f, err := os.Open(files[i])
			if err != nil {
				errc <- err
				return
			}
			defer f.Close()
			m.mu.Lock()
			stdin := m.stdin
			m.mu.Unlock()
			if window <= 0 {
				_, err = io.Copy(stdin, f)
				errc <- err
				return
			}
			errc <- writeWindowed(stdin, f, m, window)
		}()
	}
	deadline := time.After(timeout)
	for i, d := range dones {
		select {
		case <-d:
		case <-deadline:
			return 0, errs, fmt.Errorf("%s: %d of %d replies after %v\n%s", ms[i].name, ms[i].lines.Load(), counts[i], timeout, stderrTail(ms[i].stderr, 10))
		}
	}
	elapsed := time.Since(start)
	for range ms {
		if err := <-errc; err != nil {
			return 0, errs, err
		}
	}
	for _, m := range ms {
		if n := m.errLines.Load(); n > 0 {
			errs.n += n
			if errs.first == "" {
				errs.first, _ = m.firstErr.Load().(string)
			}
		}
	}
	return elapsed, errs, nil
}

// errorReplies counts the error replies of a pipelined run and keeps the
// first.
type errorReplies struct {
	n     int64
	first string
}

// spreadWindow is how many requests the spread clients keep in flight to
// each member. A follower forwards what it gets to the leader, whose queue
// of forwarded requests holds 4,096 (cmd/offsets-node) and refuses more
// with error 11: two followers at 1,024 each stay clear of it.
const spreadWindow = 1024

// writeWindowed copies the lines of r to w, at most window of them ahead of
// the replies m has counted, in chunks of an eighth of the window.
func writeWindowed(w io.Writer, r io.Reader, m *member, window int) error {
	br := bufio.NewReaderSize(r, 1<<20)
	chunk := max(window/8, 1)
	var buf []byte
	written := int64(0)
	for eof := false; !eof; {
		buf = buf[:0]
		n := 0
		for n < chunk {
			line, err := br.ReadSlice('\n')
			buf = append(buf, line...)
			if len(line) > 0 {
				n++
			}
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				return err
			}
		}
		for written+int64(n)-m.lines.Load() > int64(window) {
			time.Sleep(50 * time.Microsecond)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		written += int64(n)
	}
	return nil
}

// sequentialCommits times n commits sent one at a time to m.
func sequentialCommits(m *member, variant string, run, n, keys int) (sequentialRun, error) {
	res := sequentialRun{Variant: variant, Run: run, Samples: make([]latencySample, 0, n)}
	rng := rand.New(rand.NewPCG(uint64(run), 98))
	var buf []byte
	origin := time.Now()
	for i := range n {
		id := m.id()
		buf = appendCommit(buf[:0], id, rng.IntN(keys), id)
		start := time.Now()
		reply, err := m.call(id, buf, 30*time.Second)
		if err != nil {
			return res, err
		}
		if !bytes.Contains(reply, []byte(`"commit_offset_ok"`)) {
			return res, fmt.Errorf("%w from %s to commit %d: %s", errReply, m.name, i, bytes.TrimSpace(reply))
		}
		res.Samples = append(res.Samples, latencySample{At: start.Sub(origin).Seconds(), Micros: micros(time.Since(start))})
	}
	return res, nil
}

// measureCluster is the cluster section.
func (s *suite) measureCluster(nodeBin, workDir string) error {
	cfg := s.Cfg
	cr := &clusterResult{Requests: cfg.Requests, LatencyN: cfg.ClusterLatencyN, Kills: cfg.ClusterKills,
		Down: cfg.ClusterDown, LoadRate: clusterLoadRate}
	s.Cluster = cr
	wl, err := prepareClusterWorkload(cfg, workDir)
	if err != nil {
		return err
	}
	timeout := cfg.Timeout
	for r := 1; r <= cfg.Runs; r++ {
		// The single node: the same harness, the same requests.
		dir, err := os.MkdirTemp(workDir, "single-data-")
		if err != nil {
			return err
		}
		single := newMember("n1", []string{nodeBin, "--sync=fsync", "--data-dir", dir}, initLine,
			filepath.Join(workDir, fmt.Sprintf("single-run%d.stderr", r)))
		if err := single.start(); err != nil {
			return err
		}
		el, errs, err := pipeline([]*member{single}, []string{wl.Body}, []int{wl.Requests}, 0, timeout)
		if err != nil {
			single.stop(time.Minute)
			return fmt.Errorf("single node run %d: %w", r, err)
		}
		s.clusterThroughput(clusterSingle, "single node", r, wl.Requests, el, errs)
		lat, err := sequentialCommits(single, clusterSingle, r, cfg.ClusterLatencyN, cfg.Keys)
		single.stop(time.Minute)
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("single node run %d: %w", r, err)
		}
		s.clusterLatency(lat)

		c, err := startCluster(nodeBin, nil, workDir, fmt.Sprintf("cluster-run%d", r))
		if err != nil {
			return fmt.Errorf("cluster run %d: %w", r, err)
		}
		if err := s.clusterRun(c, wl, r, timeout); err != nil {
			c.close()
			return fmt.Errorf("cluster run %d: %w", r, err)
		}
		c.close()
	}
	for _, ticks := range []string{ticksDefault, ticks10ms} {
		if err := s.measureFailover(nodeBin, workDir, ticks); err != nil {
			return fmt.Errorf("failover, %s: %w", ticks, err)
		}
	}
	for r := 1; r <= cfg.Runs; r++ {
		if err := s.measureCatchup(nodeBin, workDir, r); err != nil {
			return fmt.Errorf("catch-up run %d: %w", r, err)
		}
	}
	return nil
}

// clusterRun measures one run on a fresh cluster: the workload into the
// leader, then spread over the three members, then one commit at a time
// into the leader and through a follower.
func (s *suite) clusterRun(c *tcpCluster, wl *clusterWorkload, r int, timeout time.Duration) error {
	l, err := c.waitHealthy(nil, time.Minute)
	if err != nil {
		return err
	}
	el, errs, err := pipeline([]*member{l}, []string{wl.Body}, []int{wl.Requests}, 0, timeout)
	if err != nil {
		return err
	}
	s.clusterThroughput(clusterLeader, "cluster, into the leader "+l.name, r, wl.Requests, el, errs)
	if l, err = c.waitHealthy(nil, time.Minute); err != nil {
		return err
	}
	el, errs, err = pipeline(c.members, wl.Shares, wl.Counts, spreadWindow, timeout)
	if err != nil {
		return err
	}
	s.clusterThroughput(clusterSpread, "cluster, spread over 3", r, wl.Requests, el, errs)
	if l, err = c.waitHealthy(nil, time.Minute); err != nil {
		return err
	}
	lat, err := sequentialCommits(l, clusterLeader, r, s.Cfg.ClusterLatencyN, s.Cfg.Keys)
	if err != nil {
		return err
	}
	s.clusterLatency(lat)
	var f *member
	for _, m := range c.members {
		if m != l {
			f = m
			break
		}
	}
	lat, err = sequentialCommits(f, clusterFollower, r, s.Cfg.ClusterLatencyN, s.Cfg.Keys)
	if err != nil {
		return err
	}
	s.clusterLatency(lat)
	return nil
}

// clusterThroughput records a throughput run. Error replies do not fail
// the section (a loaded machine can push a forwarded request past
// --request-timeout, or fill the leader's forwarding queue): they are
// counted and reported.
func (s *suite) clusterThroughput(variant, label string, r, n int, el time.Duration, errs errorReplies) {
	res := runResult{Variant: variant, Run: r, Requests: n, Seconds: el.Seconds()}
	progress("cluster run %d/%d %s: %s req/s (%s requests in %.3fs, %d error replies)", r, s.Cfg.Runs, label, commas(res.perSecond()), commas(float64(n)), res.Seconds, errs.n)
	s.Cluster.Throughput = append(s.Cluster.Throughput, res)
	if errs.n > 0 {
		if s.Cluster.Errors == nil {
			s.Cluster.Errors = map[string]int64{}
		}
		s.Cluster.Errors[variant] += errs.n
		s.Cluster.Notes = append(s.Cluster.Notes, fmt.Sprintf("%s, run %d: %d of %s requests answered with an error, the first: `%s`", label, r, errs.n, commas(float64(n)), errs.first))
	}
}

func (s *suite) clusterLatency(lat sequentialRun) {
	us := lat.micros(nil)
	progress("cluster run %d/%d latency %s: %d commits, p50 %.0f µs p99 %.0f µs", lat.Run, s.Cfg.Runs, lat.Variant, len(us), percentile(us, 50), percentile(us, 99))
	s.Cluster.Latency = append(s.Cluster.Latency, lat)
}

// measureFailover kills the leader of a fresh cluster Kills times, each
// time timing kill -9 to the first acknowledgement of a commit sent after
// it, then restarts the killed member and waits until all three are
// caught up.
func (s *suite) measureFailover(nodeBin, workDir, ticks string) error {
	tag := "failover-" + strings.NewReplacer(" ", "", "(", "", ")", "", "-", "").Replace(ticks)
	c, err := startCluster(nodeBin, ticksArgs[ticks], workDir, tag)
	if err != nil {
		return err
	}
	defer c.close()
	for k := 1; k <= s.Cfg.ClusterKills; k++ {
		l, err := c.waitHealthy(nil, time.Minute)
		if err != nil {
			return err
		}
		sample, err := failover(c, l)
		if err != nil {
			return err
		}
		sample.Ticks, sample.Kill = ticks, k
		progress("failover %s, kill %d/%d of leader %s: first acknowledgement after %.0f ms (from %s)", ticks, k, s.Cfg.ClusterKills,
			sample.Killed, sample.Seconds*1e3, sample.Acked)
		s.Cluster.Failover = append(s.Cluster.Failover, sample)
		if err := l.start(); err != nil {
			return err
		}
	}
	return nil
}

// failoverSendEvery is how often each survivor gets a new commit while the
// cluster has no leader: the resolution of a failover time.
const failoverSendEvery = 2 * time.Millisecond

// failover kills the leader l and sends a commit every failoverSendEvery to
// each survivor until one is acknowledged.
func failover(c *tcpCluster, l *member) (failoverSample, error) {
	type ack struct {
		from string
		at   time.Time
	}
	replies := make(chan ack, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	l.kill()
	for _, m := range c.members {
		if m == l {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each request gets its own channel, so a late error reply never
			// counts and a reply is seen as soon as it arrives.
			got := make(chan []byte, 1<<14)
			var buf []byte
			tick := time.NewTicker(failoverSendEvery)
			defer tick.Stop()
			for {
				id := m.id()
				m.expect(id, got)
				buf = appendCommit(buf[:0], id, 1, id)
				if m.write(buf) != nil {
					return
				}
				for waiting := true; waiting; {
					select {
					case <-stop:
						return
					case reply := <-got:
						if bytes.Contains(reply, []byte(`"commit_offset_ok"`)) {
							select {
							case replies <- ack{m.name, time.Now()}:
							default:
							}
						}
					case <-tick.C:
						waiting = false
					}
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	select {
	case a := <-replies:
		return failoverSample{Killed: l.name, Acked: a.from, Seconds: a.at.Sub(start).Seconds()}, nil
	case <-time.After(time.Minute):
		return failoverSample{}, fmt.Errorf("%w: no acknowledgement within a minute of killing %s", errNoLeader, l.name)
	}
}

// clusterLoadRate is the commits per second the catch-up runs send to the
// leader, in batches every 10 ms.
const clusterLoadRate = 20_000

// catchupFlags are the members' flags in the catch-up runs: compaction from
// 1 MiB of log, keeping 1,000 entries for slow followers.
var catchupFlags = []string{"--snapshot-trailing", "1000", "--compact-min-bytes", "1048576"}

// measureCatchup kills a follower of a fresh cluster under load, restarts
// it after Down and times its catch-up: process start until its applied
// index reaches the leader's commit index, both read by cluster_status
// (the leader's first).
func (s *suite) measureCatchup(nodeBin, workDir string, r int) error {
	// Small thresholds, so that the leader compacts while the follower is
	// down and a restarted follower behind the trailing window gets a
	// snapshot, as in production after a longer outage.
	c, err := startCluster(nodeBin, catchupFlags, workDir, fmt.Sprintf("catchup-run%d", r))
	if err != nil {
		return err
	}
	defer c.close()
	l, err := c.waitHealthy(nil, time.Minute)
	if err != nil {
		return err
	}
	var f *member
	for _, m := range c.members {
		if m != l {
			f = m
			break
		}
	}
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	l.expectCount(-1)
	go func() { // fire and forget: the replies are counted
		defer close(loadDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var buf []byte
		i := int64(0)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			buf = buf[:0]
			for range clusterLoadRate / 100 {
				i++
				buf = appendCommit(buf, 2+i%(1<<30), int(i%int64(s.Cfg.Keys)), 1<<41+i)
			}
			if l.write(buf) != nil {
				return
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-loadDone
	}()
	time.Sleep(time.Second) // the load under way
	f.kill()
	time.Sleep(s.Cfg.ClusterDown)
	start := time.Now()
	if err := f.start(); err != nil {
		return err
	}
	res := catchupRun{Run: r, Follower: f.name}
	for first := true; ; first = false {
		lst, err := l.status()
		if err != nil {
			return err
		}
		fst, err := f.status()
		if err != nil {
			return err
		}
		if first {
			res.Behind = lst.Commit - min(lst.Commit, fst.Applied)
		}
		if fst.Applied >= lst.Commit {
			res.Seconds = time.Since(start).Seconds()
			break
		}
		if time.Since(start) > 2*time.Minute {
			return fmt.Errorf("%s still behind after 2 minutes: applied %d, leader's commit %d", f.name, fst.Applied, lst.Commit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	<-loadDone
	res.Acked = l.lines.Load() - l.errLines.Load()
	if n := l.errLines.Load(); n > 0 {
		return fmt.Errorf("%w: the leader answered %d load commits with an error while %s was down\n%s", errReply, n, f.name, stderrTail(l.stderr, 10))
	}
	b, _ := os.ReadFile(f.stderr)
	res.BySnapshot = bytes.Contains(b, []byte(`msg="installed snapshot"`))
	progress("catch-up run %d/%d: %s down %v under %s commits/s, %d entries behind at the restart, applied the leader's commit index %.0f ms after its start",
		r, s.Cfg.Runs, f.name, s.Cfg.ClusterDown, commas(clusterLoadRate), res.Behind, res.Seconds*1e3)
	s.Cluster.Catchup = append(s.Cluster.Catchup, res)
	return nil
}
