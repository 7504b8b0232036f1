package metrics

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/maelstrom-offsets/offsets/cluster"
	"github.com/maelstrom-offsets/offsets/replica"
)

// TestClusterHooks: the raft loop's events move the counters, the status
// is read at scrape time, and the lag series are the leader's view of the
// last tick, gone once the member no longer leads.
func TestClusterHooks(t *testing.T) {
	m := New()
	c := m.Cluster()
	if m.Cluster() != c {
		t.Fatal("a second Cluster call made new metrics")
	}
	if n := testutil.CollectAndCount(c, "offsets_raft_term"); n != 0 {
		t.Fatalf("term exported before Watch: %d series", n)
	}
	st := replica.Status{Role: replica.Leader, Term: 3, Leader: 1, Commit: 20, Applied: 19}
	c.Watch(func() replica.Status { return st })
	c.LeaderChanged(1, 2)
	c.LeaderChanged(1, 3)
	c.SnapshotSent(2, nil)
	c.SnapshotSent(3, errors.New("peer gone"))
	c.SnapshotReceived(100)
	c.Proposed(nil)
	c.Proposed(nil)
	c.Proposed(replica.ErrNotLeader)
	c.Proposed(fmt.Errorf("wrapped: %w", replica.ErrTimeout))
	c.Proposed(replica.ErrStopped)
	c.Progress(20, []replica.PeerProgress{{ID: 2, Match: 20}, {ID: 3, Match: 12}})
	c.Forwarded(cluster.ForwardAnswered)
	c.Forwarded(cluster.ForwardAnswered)
	c.Forwarded(cluster.ForwardTimeout)

	want := `
# HELP offsets_raft_applied_index The highest raft log index the member's raft loop has applied (handed to the store).
# TYPE offsets_raft_applied_index gauge
offsets_raft_applied_index 19
# HELP offsets_raft_commit_index The highest raft log index the member knows committed.
# TYPE offsets_raft_commit_index gauge
offsets_raft_commit_index 20
# HELP offsets_raft_leader_changes_total Times this member learnt of a new leader (its first included).
# TYPE offsets_raft_leader_changes_total counter
offsets_raft_leader_changes_total 2
# HELP offsets_raft_replication_lag_entries On the leader, per follower: the leader's last log index minus the follower's match index, as of the last raft tick.
# TYPE offsets_raft_replication_lag_entries gauge
offsets_raft_replication_lag_entries{peer="n1"} 0
offsets_raft_replication_lag_entries{peer="n2"} 8
# HELP offsets_raft_role 1 for the member's raft role, 0 for the others.
# TYPE offsets_raft_role gauge
offsets_raft_role{role="candidate"} 0
offsets_raft_role{role="follower"} 0
offsets_raft_role{role="leader"} 1
offsets_raft_role{role="pre-candidate"} 0
# HELP offsets_raft_snapshots_received_total Raft snapshots this member installed.
# TYPE offsets_raft_snapshots_received_total counter
offsets_raft_snapshots_received_total 1
# HELP offsets_raft_snapshots_send_failed_total Raft snapshots this member could not send, or a follower did not take.
# TYPE offsets_raft_snapshots_send_failed_total counter
offsets_raft_snapshots_send_failed_total 1
# HELP offsets_raft_snapshots_sent_total Raft snapshots this member streamed to a follower that took them.
# TYPE offsets_raft_snapshots_sent_total counter
offsets_raft_snapshots_sent_total 1
# HELP offsets_raft_term The member's current raft term.
# TYPE offsets_raft_term gauge
offsets_raft_term 3
`
	names := []string{"offsets_raft_applied_index", "offsets_raft_commit_index", "offsets_raft_leader_changes_total",
		"offsets_raft_replication_lag_entries", "offsets_raft_role", "offsets_raft_snapshots_received_total",
		"offsets_raft_snapshots_send_failed_total", "offsets_raft_snapshots_sent_total", "offsets_raft_term"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	for outcome, n := range map[string]float64{"committed": 2, "not_applied": 1, "timeout": 1, "stopped": 1} {
		if got := testutil.ToFloat64(c.proposals[outcome]); got != n {
			t.Errorf("proposals %s = %v, want %v", outcome, got, n)
		}
	}

	for outcome, n := range map[string]float64{cluster.ForwardAnswered: 2, cluster.ForwardTimeout: 1, cluster.ForwardNoLeader: 0} {
		if got := testutil.ToFloat64(c.forwards[outcome]); got != n {
			t.Errorf("forwards %s = %v, want %v", outcome, got, n)
		}
	}

	st.Role = replica.Follower
	c.Progress(0, nil)
	if n := testutil.CollectAndCount(c, "offsets_raft_replication_lag_entries"); n != 0 {
		t.Fatalf("%d lag series on a follower", n)
	}
}
