package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/maelstrom-offsets/offsets/cluster"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/node"
	"github.com/maelstrom-offsets/offsets/replica"
	"github.com/maelstrom-offsets/offsets/transport"
	"github.com/maelstrom-offsets/offsets/transport/maelstrom"
	"github.com/maelstrom-offsets/offsets/transport/tcp"
)

// clusterFlags are the flags of a cluster member.
type clusterFlags struct {
	members        *string
	tick           *time.Duration
	electionTicks  *int
	heartbeatTicks *int
	requestTimeout *time.Duration
	trailing       *uint64
}

func addClusterFlags(fs *flag.FlagSet) clusterFlags {
	return clusterFlags{
		members: fs.String("cluster", "", "run as a member of the TCP cluster `n1=HOST:PORT,n2=...` (every member, this one included; "+
			"init's node_id names this one); without it the node runs alone"),
		tick:           fs.Duration("raft-tick", replica.DefaultTick, "raft tick `D`, > 0"),
		electionTicks:  fs.Int("election-ticks", replica.DefaultElectionTicks, "ticks without a leader before an election (randomised up to twice that), > --heartbeat-ticks"),
		heartbeatTicks: fs.Int("heartbeat-ticks", replica.DefaultHeartbeatTicks, "ticks between a leader's heartbeats, >= 1"),
		requestTimeout: fs.Duration("request-timeout", replica.DefaultRequestTimeout,
			"answer error 0 (outcome unknown) to a request not decided in `D` (Kafka's offsets.commit.timeout.ms), > 0"),
		trailing: fs.Uint64("snapshot-trailing", 10000, "entries a raft snapshot keeps in the log for slow followers"),
	}
}

// check returns a usage error, or "".
func (c clusterFlags) check() string {
	switch {
	case *c.tick <= 0:
		return fmt.Sprintf("--raft-tick must be positive, not %v", *c.tick)
	case *c.heartbeatTicks < 1:
		return fmt.Sprintf("--heartbeat-ticks must be at least 1, not %d", *c.heartbeatTicks)
	case *c.electionTicks <= *c.heartbeatTicks:
		return fmt.Sprintf("--election-ticks (%d) must exceed --heartbeat-ticks (%d)", *c.electionTicks, *c.heartbeatTicks)
	case *c.requestTimeout <= 0:
		return fmt.Sprintf("--request-timeout must be positive, not %v", *c.requestTimeout)
	}
	if *c.members != "" {
		if _, err := tcp.ParseCluster(*c.members); err != nil {
			return "--cluster: " + err.Error()
		}
	}
	return ""
}

// wire makes cfg open a cluster member instead of a single store, and
// returns the writer for the node's replies (shared with the replies the
// member relays).
func (c clusterFlags) wire(cfg *node.Config, stdout io.Writer, root string, noSync bool, segmentSize int, opts consumeroffsets.Options, logger *slog.Logger) io.Writer {
	addrs, _ := tcp.ParseCluster(*c.members) // checked
	peers := slices.Sorted(maps.Keys(addrs))
	work := make(chan func(), 1)
	inject := make(chan []byte, 4096)
	out := maelstrom.NewSyncWriter(stdout)
	var member atomic.Pointer[cluster.Member]
	cfg.Work = work
	cfg.Inject = inject
	cfg.Status = func() node.ClusterStatus { return member.Load().Status() }
	cfg.Route = func(msg []byte) bool {
		m := member.Load()
		return m != nil && m.Route(msg)
	}
	cfg.Open = func(nodeID string) (node.Offsets, error) {
		id, err := transport.NodeID(nodeID)
		if err != nil {
			return nil, err
		}
		if _, ok := addrs[id]; !ok {
			return nil, fmt.Errorf("node_id %q is not a member of --cluster %s", nodeID, *c.members)
		}
		m, err := cluster.Open(cluster.Config{
			ID: id, Peers: peers, Dir: filepath.Join(root, nodeID),
			NoSync: noSync, SegmentSize: segmentSize, SnapshotTrailing: *c.trailing, Store: opts,
			Tick: *c.tick, ElectionTicks: *c.electionTicks, HeartbeatTicks: *c.heartbeatTicks,
			RequestTimeout: *c.requestTimeout,
			Transport: func(h transport.Handler) (transport.Transport, error) {
				return tcp.Listen(tcp.Config{ID: id, Addr: addrs[id], Peers: addrs, Handler: h, Logger: logger})
			},
			Work: work, Out: out, Inject: inject, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
		member.Store(m)
		return m, nil
	}
	return writerFunc(func(p []byte) (int, error) {
		if m := member.Load(); m != nil {
			return m.ReplyWriter(out).Write(p)
		}
		return out.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
