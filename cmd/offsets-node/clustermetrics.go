package main

import (
	"github.com/maelstrom-offsets/offsets/cluster"
	"github.com/maelstrom-offsets/offsets/metrics"
	"github.com/maelstrom-offsets/offsets/replica"
)

// clusterObserver registers a member's metrics when metrics are on (m not
// nil), and returns the raft loop's observer and the function that points
// the metrics at the opened member. With metrics off both do nothing.
func clusterObserver(m *metrics.Node) (replica.Observer, func(*cluster.Member)) {
	if m == nil {
		return nil, func(*cluster.Member) {}
	}
	c := m.Cluster()
	return c, func(mb *cluster.Member) { c.Watch(mb.Raft().Status) }
}
