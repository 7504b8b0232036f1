package main

import (
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/maelstrom-offsets/offsets/internal/clustertest"
)

// clusterMetricsURLs finds the address each member logged it serves
// metrics on.
func clusterMetricsURLs(t *testing.T, c *clustertest.TCP) map[string]string {
	t.Helper()
	urls := make(map[string]string)
	for _, n := range c.Nodes() {
		m := metricsAddrRE.FindStringSubmatch(c.Stderr(n))
		if m == nil {
			t.Fatalf("no serving metrics line on %s's stderr:\n%s", n, c.Stderr(n))
		}
		urls[n] = "http://" + m[1] + "/metrics"
	}
	return urls
}

// lagPeers returns the peers the member exports a replication lag for, and
// whether every lag is 0.
func lagPeers(fams map[string]*dto.MetricFamily) (peers []string, caughtUp bool) {
	caughtUp = true
	if f := fams["offsets_raft_replication_lag_entries"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "peer" {
					peers = append(peers, l.GetValue())
				}
			}
			caughtUp = caughtUp && m.Gauge.GetValue() == 0
		}
	}
	slices.Sort(peers)
	return peers, caughtUp
}

// Three real members on loopback TCP, each serving metrics: after commits
// on the leader and through a follower, exactly one member reports the
// leader role, all three agree on the term and on the commit and applied
// indexes (which moved by at least the commits), and the leader exports a
// lag for both peers and counts the proposals committed; once the leader
// is killed, the survivors count a leader change.
func TestClusterMetrics(t *testing.T) {
	c := tcpCluster(t, t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	urls := clusterMetricsURLs(t, c)
	l := leaderOf(t, c, "")
	before := map[string]float64{}
	for n, u := range urls {
		before[n] = value(scrape(t, u), "offsets_raft_commit_index")
		if before[n] < 0 {
			t.Fatalf("%s exports no commit index", n)
		}
	}
	var follower string
	for _, n := range c.Nodes() {
		if n != l {
			follower = n
			break
		}
	}
	acked, viaFollower := 0, 0
	for k := range 20 {
		if commit(t, c, l, k, k) {
			acked++
		}
		if commit(t, c, follower, k, 100+k) {
			acked++
			viaFollower++
		}
	}
	if acked < 20 {
		t.Fatalf("only %d of 40 commits acknowledged", acked)
	}

	// The followers learn the commit index with the next heartbeat, and the
	// leader their match index with their replies: poll until they agree.
	var fams map[string]map[string]*dto.MetricFamily
	waitFor(t, "the members to agree on term and indexes", func() bool {
		fams = map[string]map[string]*dto.MetricFamily{}
		for n, u := range urls {
			fams[n] = scrape(t, u)
		}
		first := fams[l]
		for _, name := range []string{"offsets_raft_term", "offsets_raft_commit_index", "offsets_raft_applied_index"} {
			for n := range urls {
				if value(fams[n], name) != value(first, name) {
					return false
				}
			}
		}
		peers, caughtUp := lagPeers(first)
		return len(peers) == 2 && caughtUp
	})
	for n, u := range urls {
		f := fams[n]
		wantLeader := 0.0
		if n == l {
			wantLeader = 1
		}
		wantValue(t, f, wantLeader, "offsets_raft_role", "role", "leader")
		wantValue(t, f, 1-wantLeader, "offsets_raft_role", "role", "follower")
		if got := value(f, "offsets_raft_commit_index"); got < before[n]+float64(acked) {
			t.Errorf("%s: commit index %v -> %v after %d acknowledged commits", n, before[n], got, acked)
		}
		if value(f, "offsets_raft_term") < 1 {
			t.Errorf("%s: term %v", n, value(f, "offsets_raft_term"))
		}
		if peers, _ := lagPeers(f); n != l && len(peers) != 0 {
			t.Errorf("%s (a follower) exports lags for %v (%s)", n, peers, u)
		}
	}
	var others []string
	for _, n := range c.Nodes() {
		if n != l {
			others = append(others, n)
		}
	}
	if peers, _ := lagPeers(fams[l]); !slices.Equal(peers, others) {
		t.Errorf("the leader %s exports lags for %v, want %v", l, peers, others)
	}
	if got := value(fams[l], "offsets_raft_proposals_total", "outcome", "committed"); got < float64(acked) {
		t.Errorf("the leader counts %v committed proposals after %d acknowledged commits", got, acked)
	}
	if got := value(fams[follower], "offsets_forwarded_requests_total", "outcome", "answered"); got < float64(viaFollower) {
		t.Errorf("%s counts %v forwarded requests answered after %d commits through it were acknowledged", follower, got, viaFollower)
	}
	changes := map[string]float64{}
	for _, n := range others {
		changes[n] = value(fams[n], "offsets_raft_leader_changes_total")
		if changes[n] < 1 {
			t.Errorf("%s counted %v leader changes, having followed %s", n, changes[n], l)
		}
	}

	if err := c.Kill(l); err != nil {
		t.Fatal(err)
	}
	l2 := leaderOf(t, c, l)
	for _, n := range others {
		waitFor(t, n+" to count the leader change", func() bool {
			return value(scrape(t, urls[n]), "offsets_raft_leader_changes_total") > changes[n]
		})
	}
	f := scrape(t, urls[l2])
	wantValue(t, f, 1, "offsets_raft_role", "role", "leader")
	if value(f, "offsets_raft_term") <= value(fams[l2], "offsets_raft_term") {
		t.Errorf("the new leader's term did not move: %v -> %v", value(fams[l2], "offsets_raft_term"), value(f, "offsets_raft_term"))
	}
}
