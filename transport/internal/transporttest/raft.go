package transporttest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/transport"
)

// Member is one raft.RawNode on MemoryStorage, driven by a loop in the
// shape the node's raft loop will have: tick, step what the transport
// delivers, and for each Ready persist, send, apply, advance.
type Member struct {
	ID      uint64
	Storage *raft.MemoryStorage
	H       *Handler
	T       transport.Transport

	rn        *raft.RawNode
	proposals chan []byte
	cmds      chan func()
	stop      chan struct{}
	done      chan struct{}

	mu      sync.Mutex
	applied [][]byte // data of the normal entries applied, in order
	state   []byte   // the application state: applied data joined by '\n'
	lead    uint64
	appIdx  uint64
	snaps   int // snapshots installed from the leader
}

// NewMember creates member id of a cluster of ids; its snapshots land in
// dir. Start it with Start once its transport is set.
func NewMember(t testing.TB, id uint64, ids []uint64, dir string) *Member {
	t.Helper()
	st := raft.NewMemoryStorage()
	if err := st.ApplySnapshot(&raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		ConfState: &raftpb.ConfState{Voters: ids}}}); err != nil {
		t.Fatal(err)
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID: id, ElectionTick: 10, HeartbeatTick: 1, Storage: st,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
		CheckQuorum: true, PreVote: true, DisableProposalForwarding: true,
		Logger: quietLogger{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Member{ID: id, Storage: st, H: NewHandler(dir), rn: rn,
		proposals: make(chan []byte, 64), cmds: make(chan func()), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the member's loop until Stop.
func (m *Member) Start() { go m.loop() }

// Stop ends the loop and waits for it; it does not close the transport.
func (m *Member) Stop() {
	close(m.stop)
	m.H.Stop()
	<-m.done
}

// Propose hands data to the loop for raft.RawNode.Propose.
func (m *Member) Propose(data []byte) { m.proposals <- data }

// Leader returns the leader this member knows of (0 for none).
func (m *Member) Leader() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lead
}

// Applied returns the data of the entries applied so far, and the number
// of snapshots installed.
func (m *Member) Applied() (string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.state), m.snaps
}

// Compact takes a snapshot of the applied state and drops the log before
// it, so that a member behind it can only catch up by snapshot.
func (m *Member) Compact() {
	done := make(chan struct{})
	m.cmds <- func() { m.compact(); close(done) }
	<-done
}

func (m *Member) loop() {
	defer close(m.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.rn.Tick()
		case msg := <-m.H.Msgs:
			if msg.GetType() == raftpb.MsgSnap {
				m.loadSnapshot(msg)
			}
			m.rn.Step(msg)
		case id := <-m.H.Unreach:
			m.rn.ReportUnreachable(id)
		case r := <-m.H.Snapshots:
			st := raft.SnapshotFinish
			if r.Err != nil {
				st = raft.SnapshotFailure
			}
			m.rn.ReportSnapshot(r.ID, st)
		case data := <-m.proposals:
			m.rn.Propose(data)
		case f := <-m.cmds:
			f()
		}
		for m.rn.HasReady() {
			m.handleReady(m.rn.Ready())
		}
	}
}

// loadSnapshot fills in the body that the transport streamed beside msg.
func (m *Member) loadSnapshot(msg *raftpb.Message) {
	if b, err := os.ReadFile(filepath.Join(m.H.Dir, SnapshotName(msg))); err == nil {
		msg.Snapshot.Data = b
	}
}

func (m *Member) compact() {
	m.mu.Lock()
	idx, state := m.appIdx, bytes.Clone(m.state)
	m.mu.Unlock()
	cs := m.rn.Status().Config.Voters.IDs()
	voters := make([]uint64, 0, len(cs))
	for id := range cs {
		voters = append(voters, id)
	}
	if _, err := m.Storage.CreateSnapshot(idx, &raftpb.ConfState{Voters: voters}, state); err != nil {
		panic(err)
	}
	if err := m.Storage.Compact(idx); err != nil {
		panic(err)
	}
}

func (m *Member) handleReady(rd raft.Ready) {
	if rd.SoftState != nil {
		m.mu.Lock()
		m.lead = rd.SoftState.Lead
		m.mu.Unlock()
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := m.Storage.ApplySnapshot(rd.Snapshot); err != nil {
			panic(err)
		}
		m.mu.Lock()
		m.state = bytes.Clone(rd.Snapshot.GetData())
		m.appIdx = rd.Snapshot.GetMetadata().GetIndex()
		m.snaps++
		m.mu.Unlock()
	}
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		m.Storage.SetHardState(rd.HardState)
	}
	if err := m.Storage.Append(rd.Entries); err != nil {
		panic(err)
	}
	var msgs []*raftpb.Message
	for _, msg := range rd.Messages {
		if msg.GetType() != raftpb.MsgSnap {
			msgs = append(msgs, msg)
			continue
		}
		// Stream the body beside a MsgSnap that carries none, as the
		// node will stream its checkpoint.
		head := proto.Clone(msg).(*raftpb.Message)
		body := head.Snapshot.Data
		head.Snapshot.Data = nil
		m.T.SendSnapshot(head, io.NopCloser(bytes.NewReader(body)))
	}
	m.T.Send(msgs)
	for _, e := range rd.CommittedEntries {
		if e.GetType() == raftpb.EntryNormal && len(e.GetData()) > 0 {
			m.mu.Lock()
			m.state = append(m.state, e.GetData()...)
			m.state = append(m.state, '\n')
			m.mu.Unlock()
		}
		m.mu.Lock()
		m.appIdx = e.GetIndex()
		m.mu.Unlock()
	}
	m.rn.Advance(rd)
}

// WaitFor polls cond every 10 ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RunCluster elects a leader among members, commits proposals through it,
// stops one follower, commits more, compacts the leader's log past it,
// restarts it and checks that it catches up by snapshot.
func RunCluster(t *testing.T, members []*Member) {
	t.Helper()
	for _, m := range members {
		m.Start()
	}
	var leader *Member
	WaitFor(t, 60*time.Second, "a leader known to all", func() bool {
		l := members[0].Leader()
		for _, m := range members {
			if m.Leader() == 0 || m.Leader() != l {
				return false
			}
		}
		for _, m := range members {
			if m.ID == l {
				leader = m
			}
		}
		return leader != nil
	})
	var want []byte
	for i := range 10 {
		d := fmt.Sprintf("entry %d", i)
		want = append(want, d+"\n"...)
		leader.Propose([]byte(d))
	}
	allApplied := func(ms []*Member) func() bool {
		return func() bool {
			for _, m := range ms {
				if s, _ := m.Applied(); s != string(want) {
					return false
				}
			}
			return true
		}
	}
	WaitFor(t, 60*time.Second, "the first proposals applied everywhere", allApplied(members))

	// A follower that misses entries the leader then compacts away must
	// catch up by snapshot.
	var lagging *Member
	for _, m := range members {
		if m != leader {
			lagging = m
			break
		}
	}
	lagging.pause()
	for i := range 10 {
		d := fmt.Sprintf("entry %d with a payload %s", 10+i, bytes.Repeat([]byte{'x'}, 100<<10))
		want = append(want, d+"\n"...)
		leader.Propose([]byte(d))
	}
	var others []*Member
	for _, m := range members {
		if m != lagging {
			others = append(others, m)
		}
	}
	WaitFor(t, 60*time.Second, "the second proposals applied by the majority", allApplied(others))
	leader.Compact()
	lagging.resume()
	WaitFor(t, 60*time.Second, "the lagging member caught up", allApplied(members))
	if _, snaps := lagging.Applied(); snaps == 0 {
		t.Errorf("the lagging member caught up without a snapshot")
	}
	for _, m := range members {
		m.Stop()
	}
}

// pause stops the loop from handling anything while its transport keeps
// receiving (the handler's buffers fill, then the transport waits).
// Messages arriving meanwhile are discarded on resume, as if lost.
func (m *Member) pause() {
	close(m.stop)
	<-m.done
}

func (m *Member) resume() {
	for len(m.H.Msgs) > 0 {
		<-m.H.Msgs
	}
	m.stop = make(chan struct{})
	m.done = make(chan struct{})
	go m.loop()
}

type quietLogger struct{}

func (quietLogger) Debug(...any)              {}
func (quietLogger) Debugf(string, ...any)     {}
func (quietLogger) Error(...any)              {}
func (quietLogger) Errorf(string, ...any)     {}
func (quietLogger) Info(...any)               {}
func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Warning(...any)            {}
func (quietLogger) Warningf(string, ...any)   {}
func (quietLogger) Fatal(v ...any)            { panic(fmt.Sprint(v...)) }
func (quietLogger) Fatalf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
func (quietLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (quietLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
