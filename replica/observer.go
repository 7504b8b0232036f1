package replica

import (
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/tracker"
)

// Observer is told of a member's raft events (Config.Observer), for
// metrics; this package knows nothing of how they are exported. Its methods
// are called on the loop's goroutine (Proposed also on a caller's, for an
// Op refused before it reached the loop) and must not block.
type Observer interface {
	// LeaderChanged: this member learnt of a leader other than the one it
	// knew (lead is never 0), in term.
	LeaderChanged(lead, term uint64)
	// Progress is the leader's view of replication, published at every
	// tick: last is its own last durable index, and peers the others'
	// match indexes. On a member that is not the leader it is called with
	// peers nil.
	Progress(last uint64, peers []PeerProgress)
	// SnapshotSent: streaming a snapshot to peer to ended; err is nil when
	// the peer took it.
	SnapshotSent(to uint64, err error)
	// SnapshotReceived: this member installed a snapshot through index.
	SnapshotReceived(index uint64)
	// Proposed: a proposal's outcome is known (Op.Err: nil, or wrapping
	// ErrNotApplied, ErrTimeout or ErrStopped).
	Proposed(err error)
}

// PeerProgress is a peer's replication as the leader sees it.
type PeerProgress struct {
	ID    uint64
	Match uint64 // the highest index known replicated to the peer
	// State is raft's: "StateProbe", "StateReplicate" or "StateSnapshot".
	State string
}

// observeProgress publishes the leader's view of its peers to the Observer.
func (n *Node) observeProgress() {
	o := n.cfg.Observer
	if o == nil {
		return
	}
	if n.role != Leader {
		o.Progress(0, nil)
		return
	}
	var last uint64
	n.progress = n.progress[:0]
	n.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == n.cfg.ID {
			last = pr.Match
			return
		}
		n.progress = append(n.progress, PeerProgress{ID: id, Match: pr.Match, State: pr.State.String()})
	})
	o.Progress(last, n.progress)
}

// observeOp reports an op's outcome to the Observer.
func observeOp(o *Op, err error) {
	if o.obs != nil && !o.read {
		o.obs.Proposed(err)
	}
}

// observeLeader reports a change of leader, before changeRole notes it.
func (n *Node) observeLeader(lead, term uint64) {
	if n.cfg.Observer != nil && lead != 0 && lead != n.lead {
		n.cfg.Observer.LeaderChanged(lead, term)
	}
}

// observeSnapshotSent reports the end of a snapshot sent to a peer.
func (n *Node) observeSnapshotSent(to uint64, err error) {
	if n.cfg.Observer != nil {
		n.cfg.Observer.SnapshotSent(to, err)
	}
}

// observeSnapshotReceived reports a snapshot installed.
func (n *Node) observeSnapshotReceived(index uint64) {
	if n.cfg.Observer != nil {
		n.cfg.Observer.SnapshotReceived(index)
	}
}
