package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/maelstrom-offsets/offsets/cluster"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/metrics"
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

// wire makes cfg open a cluster member when the node is one, and returns
// the writer for the node's replies (shared with the replies the member
// relays and, in Maelstrom mode, with its raft messages). With --cluster
// the member is one of a TCP cluster. Without it, the node is a member of
// a Maelstrom cluster when init's node_ids names other nodes too, and the
// single node otherwise (as it also is when a name is not Maelstrom's n0,
// n1, ...).
func (c clusterFlags) wire(cfg *node.Config, stdout io.Writer, root string, noSync bool, segmentSize int,
	opts consumeroffsets.Options, logger *slog.Logger, mx *metrics.Node) io.Writer {
	openSingle := cfg.Open
	var addrs map[uint64]string
	if *c.members != "" {
		addrs, _ = tcp.ParseCluster(*c.members) // checked
	}
	work := make(chan func(), 1)
	inject := make(chan []byte, 4096)
	out := maelstrom.NewSyncWriter(stdout)
	var (
		member  atomic.Pointer[cluster.Member]
		single  atomic.Bool
		nodeIDs atomic.Pointer[[]string] // init's node_ids, Maelstrom mode
		self    atomic.Pointer[string]   // the single node's name
		ps      fastjson.Parser          // the reader goroutine's
	)
	cfg.Work = work
	cfg.Inject = inject
	cfg.Status = func() node.ClusterStatus {
		if m := member.Load(); m != nil {
			return m.Status()
		}
		return node.ClusterStatus{Role: "leader", Leader: *self.Load()} // a single node leads itself
	}
	cfg.Route = func(msg []byte) bool {
		if m := member.Load(); m != nil {
			return m.Route(msg)
		}
		if single.Load() || addrs != nil || !bytes.Contains(msg, []byte(`"init"`)) {
			return false
		}
		// Before init in Maelstrom mode: note init's node_ids, and leave
		// the message to the node.
		if v, err := ps.ParseBytes(msg); err == nil && string(v.GetStringBytes("body", "type")) == "init" {
			var ids []string
			for _, id := range v.GetArray("body", "node_ids") {
				ids = append(ids, string(id.GetStringBytes()))
			}
			nodeIDs.Store(&ids)
		}
		return false
	}
	cfg.Open = func(nodeID string) (node.Offsets, error) {
		id, err := transport.NodeID(nodeID)
		var peers []uint64
		var newTransport func(h transport.Handler) (transport.Transport, error)
		switch {
		case addrs != nil:
			if err != nil {
				return nil, err
			}
			if _, ok := addrs[id]; !ok {
				return nil, fmt.Errorf("node_id %q is not a member of --cluster %s", nodeID, *c.members)
			}
			peers = slices.Sorted(maps.Keys(addrs))
			newTransport = func(h transport.Handler) (transport.Transport, error) {
				return tcp.Listen(tcp.Config{ID: id, Addr: addrs[id], Peers: addrs, Handler: h, Logger: logger})
			}
		default:
			var ids []string
			if p := nodeIDs.Load(); p != nil {
				ids = *p
			}
			for _, name := range ids {
				if pid, err := transport.NodeID(name); err == nil {
					peers = append(peers, pid)
				}
			}
			if len(ids) < 2 || len(peers) != len(ids) || err != nil || !slices.Contains(ids, nodeID) {
				// One node, or names that are not Maelstrom's nK (raft
				// needs the IDs those give): the single node.
				single.Store(true)
				self.Store(&nodeID)
				return openSingle(nodeID)
			}
			newTransport = func(h transport.Handler) (transport.Transport, error) {
				return maelstrom.New(maelstrom.Config{ID: id, Peers: peers, Out: out, Handler: h, Logger: logger})
			}
		}
		obs, forwarded, watch := clusterObserver(mx)
		m, err := cluster.Open(cluster.Config{
			ID: id, Peers: peers, Dir: filepath.Join(root, nodeID),
			NoSync: noSync, SegmentSize: segmentSize, SnapshotTrailing: *c.trailing, Store: opts,
			Tick: *c.tick, ElectionTicks: *c.electionTicks, HeartbeatTicks: *c.heartbeatTicks,
			RequestTimeout: *c.requestTimeout,
			Transport:      newTransport,
			Work:           work, Out: out, Inject: inject, Logger: logger, Observer: obs, Forwarded: forwarded,
		})
		if err != nil {
			return nil, err
		}
		watch(m)
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
