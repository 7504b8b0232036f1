// Package cluster is one member of a replicated offsets cluster: the
// single node's consumeroffsets.Store, whose log is the raft log of the
// member (package raftlog) replicated by the raft loop (package replica),
// served by the node package exactly as the single node's store is.
//
// # Writes
//
// The node stages a batch against the Store as it always does (validation,
// fencing, commit timestamps: decided by the leader, against its state).
// The Store's Flush hands the staged batch to its Log, which here is the
// replicated log: it proposes the batch's records as one raft entry with
// replica.Node.ProposeAfter(applied), so that the entry lands right after
// the state the batch was staged against, and waits for its outcome. When
// the entry commits at its index and term the staged changes are kept and
// the replies go out; otherwise the Store rolls them back and the node
// answers every request of the batch with error 11 (definitely not
// applied: not the leader, another entry took the index, an entry this
// member has not applied yet is in the log) or 0 (the outcome is unknown
// after the request timeout), through node.ReplyError.
//
// # Entries of other members
//
// The raft loop hands every committed entry to Member.Apply on its own
// goroutine. An entry that is not this member's pending proposal (every
// entry, on a follower) is queued as work for the node's serving goroutine
// (node.Config.Work), which runs it between batches, when nothing is
// staged: Store.ApplyCommitted applies its records through the replay
// code. The queue is unbounded, so the raft loop never waits for the
// serving goroutine, which may itself be waiting for the loop.
//
// # Reads
//
// A batch with nothing staged that read the state (Fetch, FetchGroup,
// Groups) is answered after a ReadIndex barrier: raft confirms with a quorum of heartbeats that the leader it
// asked was still the leader after the reads were computed, and returns
// the commit index R at that moment. The reads are served only if this
// member had applied through R when it computed them; otherwise (a
// follower behind the leader, a new leader still applying) the batch gets
// error 11. Every write acknowledged before the reads began has an index
// at most R, so the reads reflect it. A batch with writes is confirmed by
// its entry's commit instead: the entry lands right after the state its
// reads saw.
//
// # Forwarding
//
// Any member accepts any request. On a member that is not the leader,
// Route (node.Config.Route) takes each client request but init and
// cluster_status off the input before it is parsed and sends it whole to
// the leader as an application message (replica.Node.SendApp, on the raft
// transport); the leader serves it through node.Config.Inject as a request
// from a pseudo-client naming the follower, and ReplyWriter sends the
// reply back instead of writing it; the follower writes it to its client
// as its own. With no leader known the follower answers error 11 at once;
// without the leader's reply within the request timeout, or once another
// member has become the leader, error 0. Nothing is retried. A leader that cannot queue a forwarded request answers 11.
//
// # Compaction and snapshots
//
// A member compacts by the single node's rules (the Store's
// --compact-dirty-ratio and --compact-min-bytes, checked after each batch
// and each entry applied): the serving goroutine takes a snapshot of the
// State at the applied index N, and the compactor writes it in the
// background as the sealed checkpoint N, created by
// raftlog.Storage.CreateSnapshot (so it holds N's term and the ConfState),
// then raftlog.Storage.Compact(N) makes it raft's snapshot and truncates
// the wal, keeping Config.SnapshotTrailing entries. The only difference
// from the single node is where the checkpoint goes (replLog implements
// compactor.Checkpointer).
//
// A follower behind the trailing window is sent the checkpoint by the raft
// loop (Transport.SendSnapshot of Storage.SnapshotReader); it receives it
// into raftlog's Sink, raft accepts it, Save installs it, and Restore
// replaces the Store's state, on the serving goroutine, by a replay of the
// installed checkpoint (Store.Restore): the member has then applied N,
// and the entries after N follow from raft.
//
// Membership is fixed: the ConfState of every snapshot is the voters of
// Config.Peers.
package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
	"github.com/maelstrom-offsets/offsets/node"
	"github.com/maelstrom-offsets/offsets/raftlog"
	"github.com/maelstrom-offsets/offsets/replica"
	"github.com/maelstrom-offsets/offsets/transport"
)

// commitLag is raftlog.Options.CommitLag for a member.
const commitLag = 64

// Config configures Open.
type Config struct {
	// ID is this member's raft ID; Peers every member's, ID included.
	ID    uint64
	Peers []uint64
	// Dir is the member directory (raftlog.Open).
	Dir string
	// NoSync skips every fsync. Unsafe: for tests and benchmarks.
	NoSync bool
	// SegmentSize is the log's segment size (0: the log's default).
	SegmentSize int
	// SnapshotTrailing is raftlog.Options.Trailing.
	SnapshotTrailing uint64
	// Store configures the Store, whose compaction rules decide when the
	// member takes a snapshot.
	Store consumeroffsets.Options
	// Tick, ElectionTicks, HeartbeatTicks and RequestTimeout configure the
	// raft loop (replica.Config).
	Tick                          time.Duration
	ElectionTicks, HeartbeatTicks int
	RequestTimeout                time.Duration
	// Transport creates the member's transport with h as its handler.
	Transport func(h transport.Handler) (transport.Transport, error)
	// Work receives the functions the node's serving goroutine must run
	// (node.Config.Work); it must be the channel given to node.Run, with
	// room for one: the raft loop never waits to hand work over.
	Work chan<- func()
	// Out is where the replies this member relays for the leader, and its
	// own answers to forwarded requests, are written, whole lines at a
	// time: shared with the node's output through one lock
	// (maelstrom.SyncWriter).
	Out io.Writer
	// Inject receives the requests followers forward to this member while
	// it leads (node.Config.Inject); a full channel refuses them with
	// error 11.
	Inject chan<- []byte
	// Logger gets the member's log lines (slog.Default if nil).
	Logger *slog.Logger
	// Observer, if set, is the raft loop's (replica.Config.Observer).
	Observer replica.Observer
	// Forwarded, if set, is told the outcome (ForwardAnswered, ...) of
	// each request this member forwarded to the leader, as it is answered.
	Forwarded func(outcome string)
}

// Member is a running cluster member. It implements node.Offsets: the
// Store's methods, with Flush replicated.
type Member struct {
	*consumeroffsets.Store
	cfg  Config
	rl   *raftlog.Storage
	node *replica.Node
	tr   transport.Transport
	rlog *replLog
	log  *slog.Logger

	// The queue of entries for the serving goroutine; drainQueued is
	// on cfg.Work at most once at a time.
	qmu     sync.Mutex
	queued  []func()
	signal  bool
	drainFn func()

	failed error // an entry that could not be applied: the member is unusable
	read   bool  // the batch being staged has read the state

	fwd      *forwarder
	stopFwd  chan struct{}
	fwdTimer sync.WaitGroup
}

var _ node.Offsets = (*Member)(nil)

// Open opens the member directory, replays the committed state into the
// Store, and starts the raft loop and the transport.
func Open(cfg Config) (*Member, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = replica.DefaultRequestTimeout
	}
	if cfg.Work == nil || cap(cfg.Work) < 1 || cfg.Transport == nil || cfg.Out == nil || cfg.Inject == nil {
		return nil, errors.New("cluster: config needs a Transport, Out, Inject and a Work channel with room for one")
	}
	// The durable commit index may lag by commitLag entries: it needs no
	// durability for safety (a restart replays less and the leader commits
	// the rest again), and each HardState write costs two more fsyncs.
	rl, err := raftlog.Open(cfg.Dir, raftlog.Options{NoSync: cfg.NoSync, SegmentSize: cfg.SegmentSize,
		Trailing: cfg.SnapshotTrailing, CommitLag: commitLag, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	m := &Member{cfg: cfg, rl: rl, log: cfg.Logger, stopFwd: make(chan struct{})}
	m.fwd = &forwarder{m: m, self: transport.NodeName(cfg.ID), out: cfg.Out, inject: cfg.Inject,
		pending: make(map[uint64]forward)}
	m.drainFn = m.drain
	m.rlog = &replLog{m: m}
	store, rs, err := consumeroffsets.OpenLog(m.rlog, cfg.Store)
	if err != nil {
		rl.Close()
		return nil, fmt.Errorf("cluster: replay %s: %w", cfg.Dir, err)
	}
	m.Store = store
	m.node, err = replica.New(replica.Config{
		ID: cfg.ID, Peers: cfg.Peers, Storage: rl, StateMachine: m, Applied: m.rlog.applied,
		Tick: cfg.Tick, ElectionTicks: cfg.ElectionTicks, HeartbeatTicks: cfg.HeartbeatTicks,
		RequestTimeout: cfg.RequestTimeout,
		NewSink: func(snap *raftpb.Snapshot) (transport.SnapshotSink, error) {
			return rl.NewSink(snap)
		},
		OnApp:  m.fwd.onApp,
		Logger: cfg.Logger, Observer: cfg.Observer,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	m.tr, err = cfg.Transport(m.node)
	if err != nil {
		store.Close()
		return nil, err
	}
	m.node.Start(m.tr)
	m.fwdTimer.Add(1)
	go m.expireForwards()
	m.log.Info("cluster member started", "id", transport.NodeName(cfg.ID), "applied", m.rlog.applied,
		"records", rs.Records, "keys", rs.Keys, "duration", rs.Duration.Round(time.Microsecond))
	return m, nil
}

// Flush replicates the staged batch (see the package doc); with nothing
// staged, it confirms the batch's reads with a ReadIndex barrier.
func (m *Member) Flush() error {
	if m.failed != nil {
		return &node.ReplyError{Code: node.CodeCrash, Err: m.failed}
	}
	read := m.read
	m.read = false
	if m.Store.Pending() > 0 {
		return m.Store.Flush()
	}
	if !read {
		return nil
	}
	applied := m.rlog.applied
	op := m.node.ReadIndex()
	if err := op.Err(); err != nil {
		return replyError(err)
	}
	if op.Index() > applied {
		return &node.ReplyError{Code: node.CodeTemporarilyUnavailable,
			Err: fmt.Errorf("not current: this member has applied %d, the cluster has committed %d", applied, op.Index())}
	}
	return nil
}

// Fetch is the Store's, noting that the batch reads.
func (m *Member) Fetch(group, topic []byte, partition int32) (consumeroffsets.Committed, bool) {
	m.read = true
	return m.Store.Fetch(group, topic, partition)
}

// FetchGroup is the Store's, noting that the batch reads.
func (m *Member) FetchGroup(group []byte, topics [][]byte, fn func(topic string, partition int32, c consumeroffsets.Committed)) {
	m.read = true
	m.Store.FetchGroup(group, topics, fn)
}

// Groups is the Store's, noting that the batch reads.
func (m *Member) Groups() []string {
	m.read = true
	return m.Store.Groups()
}

// Status reports the member's view for cluster_status. Call it on the
// serving goroutine (Applied is the Store's).
func (m *Member) Status() node.ClusterStatus {
	st := m.node.Status()
	return node.ClusterStatus{Role: string(st.Role), Term: st.Term, Leader: transport.NodeName(st.Leader),
		Commit: st.Commit, Applied: m.rlog.applied}
}

// Raft returns the member's raft loop.
func (m *Member) Raft() *replica.Node { return m.node }

// Apply implements replica.StateMachine on the raft loop's goroutine.
func (m *Member) Apply(e *raftpb.Entry, own *replica.Op) error {
	if own != nil {
		// The serving goroutine is waiting in Append for this entry, with
		// its changes staged: they stay.
		return nil
	}
	idx, data := e.GetIndex(), e.GetData()
	m.enqueue(func() {
		if m.failed != nil {
			return
		}
		if idx <= m.rlog.snapshot {
			return // a snapshot restored after it was queued covers it
		}
		if want := m.rlog.applied + 1; idx != want {
			m.failed = fmt.Errorf("cluster: committed entry %d arrived where %d was due", idx, want)
		} else if err := m.Store.ApplyCommitted(idx, func(fn func(log.Record) error) error {
			return log.DecodeBatch(data, fn)
		}); err != nil {
			m.failed = err
		} else {
			m.rlog.applied = idx
		}
		if m.failed != nil {
			m.log.Error("cannot apply a committed entry: the member refuses every request until it is restarted", "err", m.failed)
		}
	})
	return nil
}

// Restore implements replica.StateMachine on the raft loop's goroutine:
// the storage has installed snap, and the serving goroutine replaces the
// Store's state by a replay of the installed checkpoint, after the entries
// queued before it. The checkpoint replayed is the newest one installed
// when that runs, which may be a later snapshot than snap: the entries it
// covers, queued before it, are then skipped.
func (m *Member) Restore(snap *raftpb.Snapshot) error {
	want := snap.GetMetadata().GetIndex()
	m.enqueue(func() {
		if m.failed != nil {
			return
		}
		start := time.Now()
		var records uint64
		var n uint64
		err := m.Store.Restore(func(fn func(uint64, log.Record) error) (uint64, error) {
			idx, _, err := m.rl.ReplaySnapshot(func(i uint64, r log.Record) error {
				records++
				return fn(i, r)
			})
			n = idx
			return idx, err
		})
		if err == nil && n < want {
			err = fmt.Errorf("cluster: snapshot %d installed, but the log's newest is %d", want, n)
		}
		if err != nil {
			m.failed = err
			m.log.Error("cannot restore an installed snapshot: the member refuses every request until it is restarted", "err", err)
			return
		}
		m.rlog.applied, m.rlog.snapshot = n, n
		m.log.Info("installed snapshot", "index", n, "records", records, "keys", m.Store.Keys(),
			"duration", time.Since(start).Round(time.Microsecond))
	})
	return nil
}

func (m *Member) enqueue(f func()) {
	m.qmu.Lock()
	m.queued = append(m.queued, f)
	send := !m.signal
	m.signal = true
	m.qmu.Unlock()
	if send {
		// Never blocks: Work has room for one, and only one drain is
		// outstanding at a time.
		m.cfg.Work <- m.drainFn
	}
}

// drain runs, on the serving goroutine, everything queued so far.
func (m *Member) drain() {
	for {
		m.qmu.Lock()
		q := m.queued
		m.queued = nil
		if len(q) == 0 {
			m.signal = false
			m.qmu.Unlock()
			return
		}
		m.qmu.Unlock()
		for _, f := range q {
			f()
		}
	}
}

// Close stops the member: the Store (which closes its Log: the raft loop,
// the transport and the storage).
func (m *Member) Close() error {
	close(m.stopFwd)
	m.fwdTimer.Wait()
	return m.Store.Close()
}

// expireForwards answers forwarded requests that time out.
func (m *Member) expireForwards() {
	defer m.fwdTimer.Done()
	t := time.NewTicker(min(max(m.cfg.RequestTimeout/20, 10*time.Millisecond), 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			m.fwd.expire(now, m.node.Status().Leader)
		case <-m.stopFwd:
			return
		}
	}
}

// replyError maps an outcome of the raft loop to the reply of a batch.
func replyError(err error) error {
	code := node.CodeTemporarilyUnavailable
	if errors.Is(err, replica.ErrTimeout) || errors.Is(err, replica.ErrStopped) {
		code = 0
	}
	return &node.ReplyError{Code: code, Err: fmt.Errorf("%w: %w", consumeroffsets.ErrNotCommitted, err)}
}

// replLog is the Store's Log: Append replicates, Replay reads what the
// member's storage holds committed.
type replLog struct {
	m       *Member
	applied uint64 // the last entry applied to the Store; serving goroutine only
	// snapshot is the index of the last snapshot restored into the Store
	// (Restore); serving goroutine only.
	snapshot uint64
}

var _ compactor.Checkpointer = (*replLog)(nil)

func (l *replLog) Append(b *log.Batch) (uint64, error) {
	// The batch's buffer is reused after Flush; raft and the transport
	// keep the entry's data.
	op := l.m.node.ProposeAfter(l.applied, bytes.Clone(b.Data()), nil)
	if err := op.Err(); err != nil {
		return 0, replyError(err)
	}
	l.applied = op.Index()
	return op.Index(), nil
}

// Sync does nothing: an entry Append returned is committed, fsynced by a
// majority of the members.
func (l *replLog) Sync() error { return nil }

// Replay replays the member's committed state (raftlog.Storage.Replay)
// once, at open.
func (l *replLog) Replay(from uint64, fn func(uint64, log.Record) error) (log.ReplayStats, error) {
	if from != 1 {
		return log.ReplayStats{}, fmt.Errorf("cluster: replay from %d: only a whole replay is supported", from)
	}
	applied, st, err := l.m.rl.Replay(fn)
	if err != nil {
		return st, err
	}
	l.applied = applied
	st.Last = applied
	return st, nil
}

// Close stops the raft loop, then the transport, then closes the storage.
func (l *replLog) Close() error {
	var errs []error
	if l.m.node != nil {
		l.m.node.Stop()
		errs = append(errs, l.m.node.Err())
	}
	if l.m.tr != nil {
		errs = append(errs, l.m.tr.Close())
	}
	errs = append(errs, l.m.rl.Close())
	return errors.Join(errs...)
}

// Dir is the member's offsets log directory.
func (l *replLog) Dir() string { return l.m.rl.LogDir() }

// CreateCheckpoint implements compactor.Checkpointer: a member's
// checkpoint is its raft snapshot at through, created by the raft storage
// with through's term and the fixed membership.
func (l *replLog) CreateCheckpoint(through uint64, _ int) (*log.CheckpointWriter, error) {
	voters := slices.Clone(l.m.cfg.Peers)
	slices.Sort(voters)
	return l.m.rl.CreateSnapshot(through, &raftpb.ConfState{Voters: voters})
}

// ReleaseThrough makes the committed checkpoint at n raft's snapshot and
// compacts the wal behind it (raftlog.Storage.Compact, which keeps
// Config.SnapshotTrailing entries). The duration returned is that of the
// whole Compact, an upper bound of the time it held the log. Compact's
// own steps have no hook: hook is ignored.
func (l *replLog) ReleaseThrough(n uint64, _ func(string) error) (time.Duration, error) {
	start := time.Now()
	if err := l.m.rl.Compact(n); err != nil {
		return time.Since(start), err
	}
	return time.Since(start), nil
}
