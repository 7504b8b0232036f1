package main

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseClusterStatus(t *testing.T) {
	for _, tc := range []struct {
		line string
		want clusterStatus
	}{
		{`{"src": "n2", "dest": "c9", "body": {"type": "cluster_status_ok", "in_reply_to": 7, "role": "follower", "term": 3, "leader": "n1", "commit": 120, "applied": 118, "msg_id": 9}}`,
			clusterStatus{Role: "follower", Leader: "n1", Term: 3, Commit: 120, Applied: 118}},
		{`{"src": "n3", "dest": "c9", "body": {"type": "cluster_status_ok", "in_reply_to": 7, "role": "pre-candidate", "term": 4, "leader": null, "commit": 5, "applied": 5, "msg_id": 2}}`,
			clusterStatus{Role: "pre-candidate", Term: 4, Commit: 5, Applied: 5}},
		// The single node: leader of itself, term 0.
		{`{"src": "n1", "dest": "c9", "body": {"type": "cluster_status_ok", "in_reply_to": 7, "role": "leader", "term": 0, "leader": "n1", "commit": 0, "applied": 0, "msg_id": 3}}`,
			clusterStatus{Role: "leader", Leader: "n1"}},
	} {
		got, err := parseClusterStatus([]byte(tc.line + "\n"))
		if err != nil || got != tc.want {
			t.Errorf("parseClusterStatus(%s) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		`{"src": "n1", "dest": "c9", "body": {"type": "error", "in_reply_to": 7, "code": 11, "text": "x"}}`,
		`{"src": "n1", "dest": "c9", "body": {"type": "cluster_status_ok", "role": "leader", "term": 1, "commit": 1, "applied": 1}}`,              // no leader
		`{"src": "n1", "dest": "c9", "body": {"type": "cluster_status_ok", "role": "leader", "term": 1, "leader": 2, "commit": 1, "applied": 1}}`, // leader a number
		`{"src": "n1", "dest": "c9", "body": {"type": "cluster_status_ok", "term": 1, "leader": "n1", "commit": 1, "applied": 1}}`,                // no role
		`{"src": "n1", "dest": "c9", "body": {"type": "cluster_status_ok"`,
	} {
		if st, err := parseClusterStatus([]byte(bad)); !errors.Is(err, errReply) {
			t.Errorf("parseClusterStatus(%s) = %+v, %v; want errReply", bad, st, err)
		}
	}
}

func TestInReplyTo(t *testing.T) {
	for line, want := range map[string]int64{
		`{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 1099511627777, "msg_id": 4}}`: 1<<40 + 1,
		`{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}`:                      1,
		`{"src": "n1", "dest": "c1", "body": {"type": "error", "code": 11}}`:                                           0,
	} {
		if got := inReplyTo([]byte(line)); got != want {
			t.Errorf("inReplyTo(%s) = %d, want %d", line, got, want)
		}
	}
}

// fakeCluster returns made-up cluster measurements: the leader at 0.6x the
// single node but under 500,000 req/s, p50 into the leader 2x and through
// a follower 4x the single node's, failover passing at the default ticks
// and falling short at 10 ms, one catch-up over 2 s.
func fakeCluster() *clusterResult {
	c := &clusterResult{Requests: 1000, LatencyN: 10, Kills: 5, Down: 10 * time.Second, LoadRate: clusterLoadRate}
	for run := 1; run <= 3; run++ {
		c.Throughput = append(c.Throughput,
			runResult{Variant: clusterSingle, Run: run, Requests: 1000, Seconds: 1000 / (700_000 + 10_000*float64(run))},
			runResult{Variant: clusterLeader, Run: run, Requests: 1000, Seconds: 1000 / (420_000 + 10_000*float64(run))},
			runResult{Variant: clusterSpread, Run: run, Requests: 1000, Seconds: 1000 / 300_000.0})
		lat := func(v string, us float64) sequentialRun {
			r := sequentialRun{Variant: v, Run: run}
			for i := range 11 {
				r.Samples = append(r.Samples, latencySample{At: float64(i) / 1000, Micros: us + float64(i-5)})
			}
			return r
		}
		c.Latency = append(c.Latency, lat(clusterSingle, 200), lat(clusterLeader, 400), lat(clusterFollower, 800))
		c.Catchup = append(c.Catchup, catchupRun{Run: run, Follower: "n2", Behind: 900, Seconds: 0.5 * float64(run), Acked: 200_000})
	}
	for k := 1; k <= 5; k++ {
		c.Failover = append(c.Failover,
			failoverSample{Ticks: ticksDefault, Kill: k, Killed: "n1", Acked: "n2", Seconds: 1.0 + 0.1*float64(k)},
			failoverSample{Ticks: ticks10ms, Kill: k, Killed: "n3", Acked: "n1", Seconds: 0.25 + 0.05*float64(k)})
	}
	return c
}

func TestClusterGoals(t *testing.T) {
	c := fakeCluster()
	var got []string
	for _, g := range c.goals() {
		got = append(got, g.Verdict+" | "+g.Text+" | "+g.Detail)
	}
	want := []string{
		"FALL SHORT | cluster into the leader >= 500,000 req/s | median 440,000 req/s (spread over 3: 300,000)",
		"PASS | cluster into the leader >= 0.5 x the single node's req/s | 0.61x (440,000 vs 720,000 req/s, same run)",
		"PASS | commit p50, cluster, into the leader <= 3x the single node's | 2.0x (400 vs 200 µs)",
		"FALL SHORT | commit p50, cluster, through a follower <= 3x the single node's | 4.0x (800 vs 200 µs)",
		"PASS | failover p50, default ticks (100ms x 10) <= 1,500 ms | p50 1,300 ms (1,100-1,500) over 5 kills",
		"FALL SHORT | failover p50, --raft-tick 10ms <= 300 ms | p50 400 ms (300-500) over 5 kills",
		"PASS | catch-up by log: a follower restarted after being down under load applies the leader's commit index within 2.00 s, every run | slowest 1,500 ms (median 1,000) over 3 runs, down 10s",
		"NOT RUN | catch-up by snapshot | " + noSnapshotNote,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("goals:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A catch-up over the goal falls short; one through a snapshot drops
	// the NOT RUN line.
	c.Catchup[0].Seconds, c.Catchup[1].BySnapshot = 2.5, true
	gs := c.goals()
	last := gs[len(gs)-1]
	if last.Verdict != "FALL SHORT" || !strings.Contains(last.Text, "by log or snapshot") || !strings.HasPrefix(last.Detail, "slowest 2,500 ms") {
		t.Errorf("catch-up goal with a slow run through a snapshot: %+v", last)
	}

	// Nothing measured: NOT RUN, never PASS.
	for _, g := range (&clusterResult{}).goals() {
		if g.Verdict != "NOT RUN" {
			t.Errorf("empty result: %+v", g)
		}
	}
}

func TestClusterReportAndFiles(t *testing.T) {
	cfg, _ := parseFlags([]string{"-sections", "cluster"})
	s := &suite{Cfg: cfg, Ran: map[string]bool{sectionCluster: true}, Cluster: fakeCluster()}
	var b bytes.Buffer
	if err := s.writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| FALL SHORT | cluster into the leader >= 500,000 req/s ",
		"| NOT RUN    | catch-up by snapshot ",
		"## Cluster: three members on loopback TCP against the single node",
		"| cluster, into the leader |    3 |      440,000 | 430,000-450,000 |          0.61x |",
		"| --raft-tick 10ms           |     5 |    400 |    300 |    500 | 300, 350, 400, 450, 500 ",
		"- PASS        failover p50, default ticks (100ms x 10) <= 1,500 ms: p50 1,300 ms",
		"![failover times](cluster_failover.png)",
		"Raw numbers: cluster_catchup.csv, cluster_failover.csv, cluster_latency.csv, cluster_throughput.csv.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
	dir := t.TempDir()
	if err := s.write(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{pngClusterThroughput, pngClusterFailover} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 600 || cfg.Height < 300 {
			t.Errorf("%s: %v, %dx%d", name, err, cfg.Width, cfg.Height)
		}
	}
	fo, err := os.ReadFile(filepath.Join(dir, csvClusterFailover))
	if err != nil || strings.Count(string(fo), "\n") != 11 || !strings.Contains(string(fo), "--raft-tick 10ms,5,n3,n1,0.500000\n") {
		t.Errorf("%s: %v\n%s", csvClusterFailover, err, fo)
	}
}

// TestClusterWorkload checks that the spread shares deal the workload's
// requests round robin, every one once, and the body drops the init line.
func TestClusterWorkload(t *testing.T) {
	cfg, _ := parseFlags([]string{"-n", "1000", "-keys", "50"})
	wl, err := prepareClusterWorkload(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(wl.Body)
	lines := strings.SplitAfter(string(body), "\n")
	lines = lines[:len(lines)-1]
	if len(lines) != 1000 || strings.Contains(lines[0], `"init"`) {
		t.Fatalf("body: %d lines, first %s", len(lines), lines[0])
	}
	for i, p := range wl.Shares {
		b, _ := os.ReadFile(p)
		var want strings.Builder
		for j := i; j < len(lines); j += len(wl.Shares) {
			want.WriteString(lines[j])
		}
		if string(b) != want.String() || strings.Count(string(b), "\n") != wl.Counts[i] {
			t.Errorf("share %d: %d lines (count %d), not every third request from %d", i, strings.Count(string(b), "\n"), wl.Counts[i], i)
		}
	}
}

// TestClusterHarnessAgainstNode drives three real members through the
// cluster section's pieces on tiny sizes: start and init on free ports,
// agreeing on a leader, the workload into the leader and spread over the
// three (forwarding), commits one at a time through a follower, one kill
// of the leader with a restart, and a follower killed and caught up.
func TestClusterHarnessAgainstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds offsets-node; skipped in -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "offsets-node")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/offsets-node").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg, _ := parseFlags([]string{"-sections", "cluster", "-quick", "-n", "3000", "-keys", "100", "-runs", "1",
		"-cluster-latency-n", "20", "-cluster-kills", "1", "-cluster-down", "200ms", "-dir", dir})
	wl, err := prepareClusterWorkload(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{Cfg: cfg, Ran: map[string]bool{}, Cluster: &clusterResult{}}
	c, err := startCluster(bin, ticksArgs[ticks10ms], dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	l, err := c.waitHealthy(nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.members {
		st, err := m.status()
		if err != nil || st.Leader != l.name || (m == l) != (st.Role == "leader") || st.Applied == 0 {
			t.Errorf("%s: status %+v, %v; leader %s", m.name, st, err, l.name)
		}
	}
	if err := s.clusterRun(c, wl, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(s.Cluster.Throughput) != 2 || len(s.Cluster.Latency) != 2 || len(s.Cluster.Latency[1].Samples) != 20 {
		t.Errorf("cluster run: %+v", s.Cluster)
	}
	l, err = c.waitHealthy(nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f, err := failover(c, l)
	if err != nil {
		t.Fatal(err)
	}
	if f.Killed != l.name || f.Acked == l.name || f.Seconds <= 0 {
		t.Errorf("failover: %+v", f)
	}
	if err := l.start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.waitHealthy(nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	c.close()

	if err := s.measureCatchup(bin, dir, 1); err != nil {
		t.Fatal(err)
	}
	if r := s.Cluster.Catchup; len(r) != 1 || r[0].Seconds <= 0 || r[0].Acked <= 0 {
		t.Errorf("catch-up: %+v", r)
	}
}
