package main

import (
	"github.com/maelstrom-offsets/offsets/cluster"
	"github.com/maelstrom-offsets/offsets/metrics"
	"github.com/maelstrom-offsets/offsets/replica"
)

// clusterObserver registers a member's metrics when metrics are on (m not
// nil), and returns the raft loop's observer, the forwarding hook
// (cluster.Config.Forwarded) and the function that points the metrics at
// the opened member. With metrics off the hooks are nil and watch does
// nothing.
func clusterObserver(m *metrics.Node) (obs replica.Observer, forwarded func(string), watch func(*cluster.Member)) {
	if m == nil {
		return nil, nil, func(*cluster.Member) {}
	}
	c := m.Cluster()
	return c, c.Forwarded, func(mb *cluster.Member) { c.Watch(mb.Raft().Status) }
}
