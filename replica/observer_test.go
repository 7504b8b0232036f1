package replica

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// recorder is an Observer shared by every member of a test cluster.
type recorder struct {
	mu        sync.Mutex
	leaders   []uint64 // LeaderChanged's lead, every member's
	last      uint64   // the last Progress with peers
	peers     []PeerProgress
	committed int
	refused   int
	other     []error
}

func (r *recorder) LeaderChanged(lead, term uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leaders = append(r.leaders, lead)
}

func (r *recorder) Progress(last uint64, peers []PeerProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if peers != nil {
		r.last, r.peers = last, slices.Clone(peers)
	}
}

func (r *recorder) SnapshotSent(uint64, error) {}
func (r *recorder) SnapshotReceived(uint64)    {}

func (r *recorder) Proposed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.committed++
	case errors.Is(err, ErrNotApplied):
		r.refused++
	default:
		r.other = append(r.other, err)
	}
}

// The Observer learns every member's first leader, each proposal's
// outcome, and, at the leader's ticks, both followers' match indexes,
// which reach the leader's last index once the proposals are committed.
func TestObserver(t *testing.T) {
	r := &recorder{}
	cfg := testConfig()
	cfg.Observer = r
	c := newCluster(t, cfg)
	l := c.leader(0)
	var o outcomes
	for _, op := range o.propose(l, 5) {
		if err := op.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var follower *member
	for _, m := range c.members {
		if m.id != l.id {
			follower = m
		}
	}
	if err := follower.node.Propose([]byte("x"), nil).Err(); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a follower's proposal: %v", err)
	}
	c.caughtUp()
	c.waitFor("the leader's progress with both followers caught up", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.peers) != 2 || r.last < l.sm.last() {
			return false
		}
		for _, p := range r.peers {
			if p.ID == l.id || p.Match != r.last {
				return false
			}
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.committed != 5 || r.refused != 1 || len(r.other) != 0 {
		t.Errorf("outcomes: %d committed, %d refused, others %v; want 5, 1, none", r.committed, r.refused, r.other)
	}
	if n := slices.Index(r.leaders, l.id); n < 0 || len(r.leaders) < 3 {
		t.Errorf("leader changes %v: want each of 3 members to learn of %d", r.leaders, l.id)
	}
}
