package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/transport"
)

// Errors an Op or the Node reports; test with errors.Is.
var (
	// ErrNotApplied means the proposal's entry is definitely not applied,
	// now or later: another entry took its index, or it never left this
	// member. Retrying it is safe (Maelstrom error 11).
	ErrNotApplied = errors.New("replica: not applied")
	// ErrNotLeader wraps ErrNotApplied: this member is not a leader ready
	// to take proposals.
	ErrNotLeader = fmt.Errorf("%w: not the leader", ErrNotApplied)
	// ErrTimeout means the outcome is unknown after Config.RequestTimeout:
	// the entry may or may not be applied (Maelstrom error 0).
	ErrTimeout = errors.New("replica: outcome unknown (timed out)")
	// ErrStopped means the node stopped before the outcome was known; like
	// ErrTimeout, the outcome is unknown.
	ErrStopped = errors.New("replica: stopped")
)

// Defaults for Config's zero values.
const (
	DefaultTick           = 100 * time.Millisecond
	DefaultElectionTicks  = 10
	DefaultHeartbeatTicks = 1
	DefaultRequestTimeout = 5 * time.Second
)

// Storage is a member's raft storage: what raft reads, plus the one call
// per Ready that makes rd.Snapshot, rd.Entries and rd.HardState durable (one
// fsync for all of them when rd.MustSync). raftlog.Storage implements it;
// MemoryStorage adapts raft's in-memory storage for tests.
type Storage interface {
	raft.Storage
	Save(rd raft.Ready) error
}

// StateMachine is what committed entries are applied to. Its methods are
// called on the loop's goroutine, in log order.
type StateMachine interface {
	// Apply applies a committed normal entry; its data is empty for the
	// entry a new leader appends, which only advances the applied index.
	// own is the Op of this member's proposal when the entry is its own
	// (same index and term), nil otherwise. An error stops the node.
	Apply(e *raftpb.Entry, own *Op) error
	// Restore replaces the state with the snapshot's, which the Storage
	// has just installed (Save). An error stops the node.
	Restore(snap *raftpb.Snapshot) error
}

// SnapshotSource is implemented by a Storage whose snapshots carry their
// body outside raft (raftlog: the checkpoint): the loop streams it to a
// follower with Transport.SendSnapshot instead of sending Snapshot.Data
// inline, and receives one through NewSink.
type SnapshotSource interface {
	SnapshotReader(index uint64) (io.ReadCloser, error)
}

// Config configures a Node. ID, Peers, Storage and StateMachine are
// required.
type Config struct {
	// ID is this member's raft ID; Peers holds every member's, ID included.
	ID    uint64
	Peers []uint64
	// Storage holds the raft log and state; StateMachine applies it.
	Storage      Storage
	StateMachine StateMachine
	// Applied is the index the state machine has applied through when the
	// node starts (the index a restart replayed through); raft hands back
	// only the committed entries after it.
	Applied uint64
	// Tick is the raft tick (DefaultTick); ElectionTicks and
	// HeartbeatTicks count ticks (DefaultElectionTicks,
	// DefaultHeartbeatTicks).
	Tick                          time.Duration
	ElectionTicks, HeartbeatTicks int
	// RequestTimeout bounds the wait for an Op's outcome
	// (DefaultRequestTimeout).
	RequestTimeout time.Duration
	// NewSink, if set, receives snapshots streamed by peers (see
	// transport.Handler.ReceiveSnapshot); without it they are refused.
	NewSink func(snap *raftpb.Snapshot) (transport.SnapshotSink, error)
	// OnApp, if set, receives the application messages peers send with
	// SendApp, on a transport goroutine; it must not block for long (the
	// transport stops reading from that peer meanwhile).
	OnApp func(from uint64, data []byte)
	// Logger gets the loop's events (slog.Default if nil).
	Logger *slog.Logger
	// Observer, if set, is told of the loop's events (for metrics).
	Observer Observer
}

// Role is a member's raft role, as cluster_status spells it.
type Role string

// The roles.
const (
	Leader       Role = "leader"
	Follower     Role = "follower"
	Candidate    Role = "candidate"
	PreCandidate Role = "pre-candidate"
)

func roleOf(s raft.StateType) Role {
	switch s {
	case raft.StateLeader:
		return Leader
	case raft.StateCandidate:
		return Candidate
	case raft.StatePreCandidate:
		return PreCandidate
	}
	return Follower
}

// Status is a member's view of the cluster.
type Status struct {
	Role Role
	// Term is the current term; Leader the leader's raft ID (0 if none
	// known).
	Term, Leader uint64
	// Commit is the highest index known committed; Applied the highest
	// applied to the state machine.
	Commit, Applied uint64
	// Ready is true on a leader that takes proposals: it has applied the
	// first entry of its term.
	Ready bool
}

// Op is the outcome of a proposal or a read, decided by the loop.
type Op struct {
	data     []byte
	base     uint64
	cas      bool
	tag      any
	deadline time.Time
	read     bool
	rctx     uint64
	index    uint64
	term     uint64
	done     chan struct{}
	err      error
	obs      Observer
}

// Done is closed when the outcome is known.
func (o *Op) Done() <-chan struct{} { return o.done }

// Err returns the outcome once Done is closed: nil (committed and applied;
// for a read, the barrier passed), or an error wrapping ErrNotApplied,
// ErrTimeout or ErrStopped.
func (o *Op) Err() error {
	<-o.done
	return o.err
}

// Wait waits for the outcome and returns Err.
func (o *Op) Wait() error { return o.Err() }

// Index is the entry's index (for a read, the read index) once known; 0
// before.
func (o *Op) Index() uint64 { return o.index }

// Term is the entry's term once placed.
func (o *Op) Term() uint64 { return o.term }

// Tag returns the value given to Propose.
func (o *Op) Tag() any { return o.tag }

func (o *Op) resolved() bool {
	select {
	case <-o.done:
		return true
	default:
		return false
	}
}

// resolve sets the outcome once; later calls do nothing.
func (o *Op) resolve(err error) {
	if o.resolved() {
		return
	}
	o.err = err
	observeOp(o, err)
	close(o.done)
}

// Node is one running member. Create it with New, start it with Start.
type Node struct {
	cfg  Config
	rn   *raft.RawNode
	tr   transport.Transport
	log  *slog.Logger
	snap SnapshotSource // nil: snapshots travel inline

	recv       chan *raftpb.Message
	unreach    chan uint64
	snapStatus chan snapReport
	wake       chan struct{}
	stop       chan struct{}
	stopped    chan struct{}
	stopOnce   sync.Once
	err        error

	qmu    sync.Mutex
	queued []*Op // proposals and reads waiting for the loop

	// Owned by the loop.
	applied   uint64
	termStart uint64 // index of the first entry of this leader's term; 0 if none
	role      Role
	lead      uint64
	unplaced  []*Op            // proposed this turn, awaiting their entries in the Ready
	pending   map[uint64][]*Op // placed proposals by index
	reads     map[uint64]*Op   // reads awaiting their ReadState, by request context
	readWait  []*Op            // reads with their index, awaiting applied
	byAge     []*Op            // every unresolved op, oldest first (for timeouts)
	nextRctx  uint64
	progress  []PeerProgress // observeProgress's

	status atomic.Pointer[Status]
}

type snapReport struct {
	id  uint64
	err error
}

// fixedConf reports the configured voters as the ConfState of a storage
// that holds none yet (no snapshot), so a member starts with its
// membership known and without configuration entries in its log.
type fixedConf struct {
	Storage
	voters []uint64
}

func (s fixedConf) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	hs, cs, err := s.Storage.InitialState()
	if err != nil {
		return nil, nil, err
	}
	if len(cs.GetVoters()) == 0 {
		cs = &raftpb.ConfState{Voters: slices.Clone(s.voters)}
	}
	return hs, cs, nil
}

// New creates a member from cfg. It does not start it: create the
// transport with the Node as its Handler, then call Start.
func New(cfg Config) (*Node, error) {
	if cfg.ID == 0 || cfg.Storage == nil || cfg.StateMachine == nil || !slices.Contains(cfg.Peers, cfg.ID) {
		return nil, errors.New("replica: config needs an ID among Peers, a Storage and a StateMachine")
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.ElectionTicks <= 0 {
		cfg.ElectionTicks = DefaultElectionTicks
	}
	if cfg.HeartbeatTicks <= 0 {
		cfg.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if cfg.ElectionTicks <= cfg.HeartbeatTicks {
		return nil, fmt.Errorf("replica: election ticks (%d) must exceed heartbeat ticks (%d)", cfg.ElectionTicks, cfg.HeartbeatTicks)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	peers := slices.Clone(cfg.Peers)
	slices.Sort(peers)
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             cfg.HeartbeatTicks,
		Storage:                   fixedConf{Storage: cfg.Storage, voters: peers},
		Applied:                   cfg.Applied,
		MaxSizePerMsg:             4 << 20,
		MaxInflightMsgs:           256,
		MaxUncommittedEntriesSize: 1 << 30,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		DisableProposalForwarding: true,
		Logger:                    raftLogger{cfg.Logger},
	})
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	n := &Node{
		cfg: cfg, rn: rn, log: cfg.Logger,
		recv:       make(chan *raftpb.Message, 256),
		unreach:    make(chan uint64, 16),
		snapStatus: make(chan snapReport, 4),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		stopped:    make(chan struct{}),
		applied:    cfg.Applied,
		role:       Follower,
		pending:    make(map[uint64][]*Op),
		reads:      make(map[uint64]*Op),
	}
	n.snap, _ = cfg.Storage.(SnapshotSource)
	n.publish()
	return n, nil
}

// Start runs the loop, sending through t (whose Handler is n).
func (n *Node) Start(t transport.Transport) {
	n.tr = t
	go n.run()
}

// Stop stops the loop and waits for it; every unresolved Op gets
// ErrStopped. It does not close the transport or the storage.
func (n *Node) Stop() {
	n.stopOnce.Do(func() { close(n.stop) })
	if n.tr != nil {
		<-n.stopped
	}
}

// Done is closed when the loop has stopped, by Stop or by a failure (Err).
func (n *Node) Done() <-chan struct{} { return n.stopped }

// Err returns the failure that stopped the loop (a Storage or
// StateMachine error), or nil.
func (n *Node) Err() error {
	<-n.stopped
	return n.err
}

// Status returns the member's latest view; safe from any goroutine.
func (n *Node) Status() Status { return *n.status.Load() }

// Propose queues data as the next entry of this member's log and returns
// its Op at once. tag is kept on the Op for the caller (Op.Tag). data must
// not be modified afterwards.
func (n *Node) Propose(data []byte, tag any) *Op {
	return n.enqueue(&Op{data: data, tag: tag})
}

// ProposeAfter is Propose on a condition: data is proposed only if the
// last entry of this member's log is at index base, so that its entry
// lands at base+1, right after the state it was computed from. Otherwise
// the Op fails at once with ErrNotApplied. A caller that stages a batch
// against a state machine applied through base uses it so that no entry it
// has not applied can come between that state and the batch.
func (n *Node) ProposeAfter(base uint64, data []byte, tag any) *Op {
	return n.enqueue(&Op{data: data, tag: tag, base: base, cas: true})
}

// ReadIndex returns an Op that resolves once the state machine reflects
// every entry committed before the call (see the package doc).
func (n *Node) ReadIndex() *Op { return n.enqueue(&Op{read: true}) }

func (n *Node) enqueue(o *Op) *Op {
	o.done = make(chan struct{})
	o.obs = n.cfg.Observer
	o.deadline = time.Now().Add(n.cfg.RequestTimeout)
	select {
	case <-n.stopped:
		o.resolve(ErrStopped)
		return o
	default:
	}
	n.qmu.Lock()
	n.queued = append(n.queued, o)
	n.qmu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	return o
}

// Application messages travel through the raft transport as a message of
// a type that raft only uses locally (RawNode.Step refuses it from a peer,
// so one that reached raft would be dropped), marked by its Index, with the
// data in Context.
const (
	appType   = raftpb.MsgUnreachable
	appMarker = 0x6170706d7367 // "appmsg"
)

// SendApp sends data to peer to as an application message (Config.OnApp
// on the peer). Like raft's messages it may be dropped; it never blocks.
// Safe from any goroutine.
func (n *Node) SendApp(to uint64, data []byte) {
	n.tr.Send([]*raftpb.Message{{Type: appType.Enum(), From: new(n.cfg.ID), To: new(to),
		Index: new(uint64(appMarker)), Context: data}})
}

// Receive implements transport.Handler.
func (n *Node) Receive(m *raftpb.Message) {
	if m.GetType() == appType && m.GetIndex() == appMarker {
		if n.cfg.OnApp != nil {
			n.cfg.OnApp(m.GetFrom(), m.GetContext())
		}
		return
	}
	select {
	case n.recv <- m:
	case <-n.stopped:
	}
}

// Unreachable implements transport.Handler.
func (n *Node) Unreachable(id uint64) {
	select {
	case n.unreach <- id:
	case <-n.stopped:
	}
}

// SnapshotStatus implements transport.Handler.
func (n *Node) SnapshotStatus(id uint64, err error) {
	select {
	case n.snapStatus <- snapReport{id, err}:
	case <-n.stopped:
	}
}

// ReceiveSnapshot implements transport.Handler.
func (n *Node) ReceiveSnapshot(m *raftpb.Message) (transport.SnapshotSink, error) {
	if n.cfg.NewSink == nil {
		return nil, errors.New("replica: this member takes no streamed snapshots")
	}
	return n.cfg.NewSink(m.GetSnapshot())
}

var _ transport.Handler = (*Node)(nil)

func (n *Node) run() {
	defer close(n.stopped)
	err := n.loop()
	n.err = err
	if err != nil {
		n.log.Error("raft loop stopped", "err", err)
	}
	n.failAll(ErrStopped)
	n.qmu.Lock()
	q := n.queued
	n.queued = nil
	n.qmu.Unlock()
	for _, o := range q {
		o.resolve(ErrStopped)
	}
}

func (n *Node) loop() error {
	ticker := time.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-n.stop:
			return nil
		case <-ticker.C:
			n.tick()
		case m := <-n.recv:
			n.step(m)
		case id := <-n.unreach:
			n.rn.ReportUnreachable(id)
		case r := <-n.snapStatus:
			n.reportSnapshot(r)
		case <-n.wake:
		}
		// Take what else is waiting, then the proposals, so that nothing
		// is stepped between a Propose and the Ready that carries it.
	drain:
		for range 1024 {
			select {
			case m := <-n.recv:
				n.step(m)
			case id := <-n.unreach:
				n.rn.ReportUnreachable(id)
			case r := <-n.snapStatus:
				n.reportSnapshot(r)
			case <-ticker.C:
				n.tick()
			default:
				break drain
			}
		}
		// Handle what the inputs made ready first, so that the log holds
		// every entry raft has (ProposeAfter compares against it) and the
		// role is current.
		if err := n.ready(); err != nil {
			return err
		}
		if err := n.propose(); err != nil {
			return err
		}
		if err := n.ready(); err != nil {
			return err
		}
	}
}

func (n *Node) tick() {
	n.rn.Tick()
	n.observeProgress()
	now := time.Now()
	i := 0
	for ; i < len(n.byAge); i++ {
		o := n.byAge[i]
		if o.resolved() {
			continue
		}
		if now.Before(o.deadline) {
			break
		}
		n.forget(o)
		o.resolve(ErrTimeout)
	}
	n.byAge = n.byAge[i:]
}

// forget removes an op from the loop's indexes before it times out.
func (n *Node) forget(o *Op) {
	if o.read {
		delete(n.reads, o.rctx)
		return
	}
	if o.index != 0 {
		ops := slices.DeleteFunc(n.pending[o.index], func(p *Op) bool { return p == o })
		if len(ops) == 0 {
			delete(n.pending, o.index)
		} else {
			n.pending[o.index] = ops
		}
	}
}

func (n *Node) step(m *raftpb.Message) {
	if err := n.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		n.log.Debug("raft step", "type", m.GetType().String(), "from", m.GetFrom(), "err", err)
	}
}

func (n *Node) reportSnapshot(r snapReport) {
	st := raft.SnapshotFinish
	if r.err != nil {
		n.log.Warn("snapshot to peer failed", "peer", transport.NodeName(r.id), "err", r.err)
		st = raft.SnapshotFailure
	} else {
		n.log.Info("snapshot sent", "peer", transport.NodeName(r.id))
	}
	n.observeSnapshotSent(r.id, r.err)
	n.rn.ReportSnapshot(r.id, st)
}

// propose hands the queued proposals and reads to raft. Proposals are
// refused unless this member is a ready leader.
func (n *Node) propose() error {
	n.qmu.Lock()
	q := n.queued
	n.queued = nil
	n.qmu.Unlock()
	if len(q) == 0 {
		return nil
	}
	ready := n.role == Leader && n.termStart != 0 && n.applied >= n.termStart
	last, err := n.cfg.Storage.LastIndex()
	if err != nil {
		return fmt.Errorf("replica: last index: %w", err)
	}
	for _, o := range q {
		if o.read {
			if n.rn.BasicStatus().Lead == raft.None {
				o.resolve(fmt.Errorf("%w: no leader known", ErrNotApplied))
				continue
			}
			n.nextRctx++
			o.rctx = n.nextRctx
			n.reads[o.rctx] = o
			n.byAge = append(n.byAge, o)
			var rctx [8]byte
			binary.BigEndian.PutUint64(rctx[:], o.rctx)
			n.rn.ReadIndex(rctx[:])
			continue
		}
		if !ready {
			o.resolve(ErrNotLeader)
			continue
		}
		if o.cas && o.base != last {
			o.resolve(fmt.Errorf("%w: the log is at %d, the proposal follows %d", ErrNotApplied, last, o.base))
			continue
		}
		if err := n.rn.Propose(o.data); err != nil {
			o.resolve(fmt.Errorf("%w: %v", ErrNotApplied, err))
			continue
		}
		last++
		n.unplaced = append(n.unplaced, o)
		n.byAge = append(n.byAge, o)
	}
	return nil
}

// ready handles every Ready raft has: persist, send, apply, advance.
func (n *Node) ready() error {
	for n.rn.HasReady() {
		rd := n.rn.Ready()
		term := n.rn.BasicStatus().HardState.GetTerm()
		if rd.SoftState != nil {
			n.observeLeader(rd.Lead, term)
			n.changeRole(roleOf(rd.RaftState), rd.Lead)
		}
		if err := n.place(rd.Entries, term); err != nil {
			return err
		}
		if n.role == Leader && n.termStart == 0 {
			for _, e := range rd.Entries {
				if e.GetTerm() == term {
					n.termStart = e.GetIndex()
					break
				}
			}
		}
		if err := n.cfg.Storage.Save(rd); err != nil {
			return fmt.Errorf("replica: persist: %w", err)
		}
		n.send(rd.Messages)
		if !raft.IsEmptySnap(rd.Snapshot) {
			if err := n.restore(rd.Snapshot); err != nil {
				return err
			}
		}
		for _, e := range rd.CommittedEntries {
			if err := n.apply(e); err != nil {
				return err
			}
		}
		n.readStates(rd.ReadStates)
		n.releaseReads()
		n.rn.Advance(rd)
	}
	n.publish()
	return nil
}

// place gives the proposals of this turn their index and term: raft has
// appended them, in order, as the last entries of this Ready.
func (n *Node) place(ents []*raftpb.Entry, term uint64) error {
	if len(n.unplaced) == 0 {
		return nil
	}
	k := len(n.unplaced)
	if len(ents) < k {
		return fmt.Errorf("replica: %d proposals but %d new entries", k, len(ents))
	}
	for i, o := range n.unplaced {
		e := ents[len(ents)-k+i]
		if e.GetTerm() != term || len(e.GetData()) != len(o.data) {
			return fmt.Errorf("replica: proposal %d of %d does not match entry %d (term %d)", i, k, e.GetIndex(), e.GetTerm())
		}
		o.index, o.term = e.GetIndex(), e.GetTerm()
		if !o.resolved() {
			n.pending[o.index] = append(n.pending[o.index], o)
		}
	}
	n.unplaced = n.unplaced[:0]
	return nil
}

// changeRole notes a new role and leader. Reads not yet confirmed when
// the leader changes are answered not applied: raft drops those a deposed
// leader held, and those a follower sent to the old leader are lost.
func (n *Node) changeRole(r Role, lead uint64) {
	if lead != n.lead || (n.role == Leader && r != Leader) {
		for rctx, o := range n.reads {
			delete(n.reads, rctx)
			o.resolve(fmt.Errorf("%w: the leader changed before the read was confirmed", ErrNotApplied))
		}
	}
	n.lead = lead
	if r != Leader {
		n.termStart = 0
	}
	n.role = r
}

func (n *Node) send(msgs []*raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	if n.snap == nil {
		n.tr.Send(msgs)
		return
	}
	plain := msgs[:0:0]
	for _, m := range msgs {
		if m.GetType() != raftpb.MsgSnap {
			plain = append(plain, m)
			continue
		}
		body, err := n.snap.SnapshotReader(m.GetSnapshot().GetMetadata().GetIndex())
		if err != nil {
			n.log.Warn("snapshot for peer unavailable", "peer", transport.NodeName(m.GetTo()), "err", err)
			n.observeSnapshotSent(m.GetTo(), err)
			n.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
			continue
		}
		n.log.Info("sending snapshot", "peer", transport.NodeName(m.GetTo()), "index", m.GetSnapshot().GetMetadata().GetIndex())
		n.tr.SendSnapshot(m, body)
	}
	n.tr.Send(plain)
}

func (n *Node) restore(snap *raftpb.Snapshot) error {
	if err := n.cfg.StateMachine.Restore(snap); err != nil {
		return fmt.Errorf("replica: restore snapshot %d: %w", snap.GetMetadata().GetIndex(), err)
	}
	idx := snap.GetMetadata().GetIndex()
	n.observeSnapshotReceived(idx)
	// The snapshot says nothing of which entries it holds: proposals it
	// covers have an unknown outcome.
	for i, ops := range n.pending {
		if i <= idx {
			for _, o := range ops {
				o.resolve(fmt.Errorf("%w: covered by a snapshot", ErrTimeout))
			}
			delete(n.pending, i)
		}
	}
	n.applied = max(n.applied, idx)
	return nil
}

// apply applies one committed entry and decides the proposals at its
// index.
func (n *Node) apply(e *raftpb.Entry) error {
	idx := e.GetIndex()
	if idx <= n.applied {
		return fmt.Errorf("replica: raft handed back entry %d, applied through %d", idx, n.applied)
	}
	var own *Op
	if ops, ok := n.pending[idx]; ok {
		delete(n.pending, idx)
		for _, o := range ops {
			if o.term == e.GetTerm() {
				own = o
				continue
			}
			o.resolve(fmt.Errorf("%w: entry %d went to term %d", ErrNotApplied, idx, e.GetTerm()))
		}
	}
	switch {
	case e.GetType() == raftpb.EntryNormal:
		if err := n.cfg.StateMachine.Apply(e, own); err != nil {
			return fmt.Errorf("replica: apply entry %d: %w", idx, err)
		}
	case e.GetType() == raftpb.EntryConfChange || e.GetType() == raftpb.EntryConfChangeV2:
		// Membership is fixed and this package never proposes a change;
		// one written by another tool is applied so raft stays
		// consistent.
		cc := new(raftpb.ConfChangeV2)
		if e.GetType() == raftpb.EntryConfChange {
			v1 := new(raftpb.ConfChange)
			if err := unmarshal(e.GetData(), v1); err != nil {
				return fmt.Errorf("replica: entry %d: %w", idx, err)
			}
			cc = v1.AsV2()
		} else if err := unmarshal(e.GetData(), cc); err != nil {
			return fmt.Errorf("replica: entry %d: %w", idx, err)
		}
		n.rn.ApplyConfChange(cc)
	}
	n.applied = idx
	if own != nil {
		own.resolve(nil)
	}
	return nil
}

func (n *Node) readStates(rs []raft.ReadState) {
	for _, s := range rs {
		if len(s.RequestCtx) != 8 {
			continue
		}
		rctx := binary.BigEndian.Uint64(s.RequestCtx)
		o, ok := n.reads[rctx]
		if !ok {
			continue
		}
		delete(n.reads, rctx)
		o.index = s.Index
		n.readWait = append(n.readWait, o)
	}
}

func (n *Node) releaseReads() {
	n.readWait = slices.DeleteFunc(n.readWait, func(o *Op) bool {
		if o.resolved() {
			return true
		}
		if o.index <= n.applied {
			o.resolve(nil)
			return true
		}
		return false
	})
}

// failAll resolves every unresolved op with err.
func (n *Node) failAll(err error) {
	for _, o := range n.byAge {
		o.resolve(err)
	}
	for _, o := range n.unplaced {
		o.resolve(err)
	}
	n.byAge, n.unplaced = nil, nil
	clear(n.pending)
	clear(n.reads)
	n.readWait = nil
}

func (n *Node) publish() {
	st := n.rn.BasicStatus()
	s := &Status{
		Role:    roleOf(st.RaftState),
		Term:    st.HardState.GetTerm(),
		Leader:  st.Lead,
		Commit:  st.HardState.GetCommit(),
		Applied: n.applied,
	}
	s.Ready = s.Role == Leader && n.termStart != 0 && n.applied >= n.termStart
	n.status.Store(s)
}
