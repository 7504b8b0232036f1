package metrics

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/maelstrom-offsets/offsets/cluster"
	"github.com/maelstrom-offsets/offsets/replica"
	"github.com/maelstrom-offsets/offsets/transport"
)

// Cluster is the metrics of a cluster member's raft loop, in its node's
// registry. It implements replica.Observer: the counters move on the
// loop's events, and the loop publishes its leader's view of the peers'
// replication at every tick, under a mutex the scrape takes to read it.
// Term, role, commit and applied index are read at scrape time from the
// member's Status, which the loop publishes atomically; the scrape never
// calls into raft.
type Cluster struct {
	leaderChanges       prometheus.Counter
	snapshotsSent       prometheus.Counter
	snapshotsSendFailed prometheus.Counter
	snapshotsReceived   prometheus.Counter
	proposals           map[string]prometheus.Counter // by outcome
	forwards            map[string]prometheus.Counter // by outcome

	status atomic.Pointer[func() replica.Status]

	mu    sync.Mutex
	last  uint64                 // the leader's last index
	peers []replica.PeerProgress // nil unless this member leads

	termDesc, roleDesc, commitDesc, appliedDesc, lagDesc *prometheus.Desc
}

// Outcomes of a proposal, as offsets_raft_proposals_total labels them.
const (
	outcomeCommitted  = "committed"
	outcomeNotApplied = "not_applied"
	outcomeTimeout    = "timeout"
	outcomeStopped    = "stopped"
)

// forwardOutcomes label offsets_forwarded_requests_total.
var forwardOutcomes = []string{cluster.ForwardAnswered, cluster.ForwardNoLeader, cluster.ForwardOverloaded,
	cluster.ForwardTimeout, cluster.ForwardLeaderChanged}

// roles are the raft roles offsets_raft_role has a series for.
var roles = []replica.Role{replica.Leader, replica.Follower, replica.Candidate, replica.PreCandidate}

// Cluster registers the metrics of a cluster member in the node's registry
// and returns them, to be given to the member's raft loop as its
// replica.Observer; later calls return the same. Call it when the node
// runs as a member, then Watch the member's status.
func (m *Node) Cluster() *Cluster {
	m.clusterOnce.Do(func() { m.cluster = m.newCluster() })
	return m.cluster
}

func (m *Node) newCluster() *Cluster {
	f := factory{m.reg}
	c := &Cluster{
		leaderChanges: f.counter("offsets_raft_leader_changes_total",
			"Times this member learnt of a new leader (its first included)."),
		snapshotsSent: f.counter("offsets_raft_snapshots_sent_total",
			"Raft snapshots this member streamed to a follower that took them."),
		snapshotsSendFailed: f.counter("offsets_raft_snapshots_send_failed_total",
			"Raft snapshots this member could not send, or a follower did not take."),
		snapshotsReceived: f.counter("offsets_raft_snapshots_received_total",
			"Raft snapshots this member installed."),
		proposals: make(map[string]prometheus.Counter),
		forwards:  make(map[string]prometheus.Counter),
	}
	pv := f.counterVec("offsets_raft_proposals_total",
		"Proposals (one per replicated batch) by outcome: committed, not_applied (error 11: definitely not applied), "+
			"timeout (error 0: unknown after --request-timeout), stopped (unknown: the member stopped).", "outcome")
	for _, o := range []string{outcomeCommitted, outcomeNotApplied, outcomeTimeout, outcomeStopped} {
		c.proposals[o] = pv.WithLabelValues(o)
	}
	fv := f.counterVec("offsets_forwarded_requests_total",
		"Client requests this member forwarded to the leader, by outcome: answered (the leader's reply relayed), "+
			"no_leader (error 11, not sent), overloaded (error 11 from the leader), timeout and leader_changed (error 0).", "outcome")
	for _, o := range forwardOutcomes {
		c.forwards[o] = fv.WithLabelValues(o)
	}
	c.termDesc = prometheus.NewDesc("offsets_raft_term", "The member's current raft term.", nil, nil)
	c.roleDesc = prometheus.NewDesc("offsets_raft_role", "1 for the member's raft role, 0 for the others.", []string{"role"}, nil)
	c.commitDesc = prometheus.NewDesc("offsets_raft_commit_index", "The highest raft log index the member knows committed.", nil, nil)
	c.appliedDesc = prometheus.NewDesc("offsets_raft_applied_index",
		"The highest raft log index the member's raft loop has applied (handed to the store).", nil, nil)
	c.lagDesc = prometheus.NewDesc("offsets_raft_replication_lag_entries",
		"On the leader, per follower: the leader's last log index minus the follower's match index, as of the last raft tick.",
		[]string{"peer"}, nil)
	m.reg.MustRegister(c)
	return c
}

// Watch makes the scrape read term, role and indexes from status
// (replica.Node.Status); until then they are not exported.
func (c *Cluster) Watch(status func() replica.Status) { c.status.Store(&status) }

// LeaderChanged implements replica.Observer.
func (c *Cluster) LeaderChanged(lead, term uint64) { c.leaderChanges.Inc() }

// Progress implements replica.Observer.
func (c *Cluster) Progress(last uint64, peers []replica.PeerProgress) {
	c.mu.Lock()
	c.last = last
	c.peers = append(c.peers[:0], peers...)
	if peers == nil {
		c.peers = nil
	}
	c.mu.Unlock()
}

// SnapshotSent implements replica.Observer.
func (c *Cluster) SnapshotSent(to uint64, err error) {
	if err != nil {
		c.snapshotsSendFailed.Inc()
		return
	}
	c.snapshotsSent.Inc()
}

// SnapshotReceived implements replica.Observer.
func (c *Cluster) SnapshotReceived(index uint64) { c.snapshotsReceived.Inc() }

// Proposed implements replica.Observer.
func (c *Cluster) Proposed(err error) {
	o := outcomeCommitted
	switch {
	case err == nil:
	case errors.Is(err, replica.ErrNotApplied):
		o = outcomeNotApplied
	case errors.Is(err, replica.ErrTimeout):
		o = outcomeTimeout
	default:
		o = outcomeStopped
	}
	c.proposals[o].Inc()
}

// Forwarded counts a forwarded request's outcome (cluster.Config.Forwarded).
func (c *Cluster) Forwarded(outcome string) {
	if ctr := c.forwards[outcome]; ctr != nil {
		ctr.Inc()
	}
}

var _ replica.Observer = (*Cluster)(nil)

// Describe implements prometheus.Collector.
func (c *Cluster) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.termDesc
	ch <- c.roleDesc
	ch <- c.commitDesc
	ch <- c.appliedDesc
	ch <- c.lagDesc
}

// Collect implements prometheus.Collector.
func (c *Cluster) Collect(ch chan<- prometheus.Metric) {
	if p := c.status.Load(); p != nil {
		st := (*p)()
		ch <- prometheus.MustNewConstMetric(c.termDesc, prometheus.GaugeValue, float64(st.Term))
		for _, r := range roles {
			v := 0.0
			if st.Role == r {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.roleDesc, prometheus.GaugeValue, v, string(r))
		}
		ch <- prometheus.MustNewConstMetric(c.commitDesc, prometheus.GaugeValue, float64(st.Commit))
		ch <- prometheus.MustNewConstMetric(c.appliedDesc, prometheus.GaugeValue, float64(st.Applied))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.peers {
		lag := uint64(0)
		if c.last > p.Match {
			lag = c.last - p.Match
		}
		ch <- prometheus.MustNewConstMetric(c.lagDesc, prometheus.GaugeValue, float64(lag), transport.NodeName(p.ID))
	}
}
