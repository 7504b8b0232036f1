package raftlog

import (
	"fmt"
	"io"
	stdlog "log"
	"slices"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/log"
)

// member is one raft node of an in-process cluster, on a Storage, driven
// by the loop the package doc describes: Save, send, apply, Advance.
type member struct {
	id      uint64
	dir     string
	s       *Storage
	rn      *raft.RawNode
	state   []string // the records applied, in order
	applied uint64
	cs      *raftpb.ConfState
	down    bool
}

type cluster struct {
	t       *testing.T
	members []*member
	snaps   int // snapshots streamed
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t}
	for id := uint64(1); id <= 3; id++ {
		m := &member{id: id, dir: t.TempDir()}
		c.members = append(c.members, m)
		c.start(m, true)
	}
	return c
}

// start opens m's storage, replays it through the durable commit index and
// starts raft with Applied set to it.
func (c *cluster) start(m *member, bootstrap bool) {
	t := c.t
	m.s = openT(t, m.dir, Options{Trailing: 2, SegmentSize: 4 << 10})
	m.state = nil
	applied, _, err := m.s.Replay(func(_ uint64, r log.Record) error {
		m.state = append(m.state, string(r.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m.applied = applied
	rn, err := raft.NewRawNode(&raft.Config{
		ID: m.id, ElectionTick: 10, HeartbeatTick: 1, Storage: m.s, Applied: applied,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, CheckQuorum: true, PreVote: true,
		Logger: &raft.DefaultLogger{Logger: stdlog.New(io.Discard, "", 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.rn = rn
	if bootstrap {
		if err := rn.Bootstrap([]raft.Peer{{ID: 1}, {ID: 2}, {ID: 3}}); err != nil {
			t.Fatal(err)
		}
		return
	}
	_, m.cs, _ = m.s.InitialState()
	ccs, err := m.s.ConfChanges(applied)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ccs {
		c.applyConfChange(m, e)
	}
}

func (c *cluster) applyConfChange(m *member, e *raftpb.Entry) {
	var cc raftpb.ConfChange
	if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
		c.t.Fatal(err)
	}
	m.cs = m.rn.ApplyConfChange(&cc)
}

func (c *cluster) settle() {
	for range 10000 {
		progress := false
		for _, m := range c.members {
			if !m.down && m.rn.HasReady() {
				progress = true
				c.handle(m)
			}
		}
		if !progress {
			return
		}
	}
	c.t.Fatal("the cluster does not settle")
}

func (c *cluster) handle(m *member) {
	t := c.t
	rd := m.rn.Ready()
	if err := m.s.Save(rd); err != nil {
		t.Fatalf("member %d: Save: %v", m.id, err)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		m.state = nil
		applied, _, err := m.s.Replay(func(_ uint64, r log.Record) error {
			m.state = append(m.state, string(r.Data))
			return nil
		})
		if err != nil || applied != rd.Snapshot.GetMetadata().GetIndex() {
			t.Fatalf("member %d: replay after install: %d %v", m.id, applied, err)
		}
		m.applied, m.cs = applied, rd.Snapshot.GetMetadata().GetConfState()
	}
	for _, msg := range rd.Messages {
		c.send(m, msg)
	}
	for _, e := range rd.CommittedEntries {
		switch e.GetType() {
		case raftpb.EntryType_EntryConfChange:
			c.applyConfChange(m, e)
		case raftpb.EntryType_EntryNormal:
			if err := log.DecodeBatch(e.GetData(), func(r log.Record) error {
				m.state = append(m.state, string(r.Data))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		m.applied = e.GetIndex()
	}
	m.rn.Advance(rd)
}

func (c *cluster) send(from *member, msg *raftpb.Message) {
	to := c.members[msg.GetTo()-1]
	if to.down {
		return
	}
	if msg.GetType() == raftpb.MessageType_MsgSnap {
		// What the transport does: stream the checkpoint into the
		// receiver's sink, commit it, then hand raft the MsgSnap.
		body, err := from.s.SnapshotReader(msg.GetSnapshot().GetMetadata().GetIndex())
		if err != nil {
			c.t.Fatal(err)
		}
		sink, err := to.s.NewSink(msg.GetSnapshot())
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := io.Copy(sink, body); err != nil {
			c.t.Fatal(err)
		}
		body.Close()
		if err := sink.Commit(); err != nil {
			c.t.Fatal(err)
		}
		c.snaps++
		from.rn.ReportSnapshot(to.id, raft.SnapshotFinish)
	}
	if err := to.rn.Step(msg); err != nil && err != raft.ErrProposalDropped {
		c.t.Fatalf("member %d: Step: %v", to.id, err)
	}
}

func (c *cluster) leader() *member {
	for _, m := range c.members {
		if !m.down && m.rn.Status().RaftState == raft.StateLeader {
			return m
		}
	}
	c.t.Fatal("no leader")
	return nil
}

func (c *cluster) propose(from, n int) {
	l := c.leader()
	for i := from; i < from+n; i++ {
		if err := l.rn.Propose(batch(fmt.Sprint("r", i, "a"), fmt.Sprint("r", i, "b"))); err != nil {
			c.t.Fatal(err)
		}
		c.settle()
	}
}

// compact snapshots m at its applied index, with its state as the records.
func (c *cluster) compact(m *member) {
	w, err := m.s.CreateSnapshot(m.applied, m.cs)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, r := range m.state {
		if err := w.Add(1, []byte(r)); err != nil {
			c.t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		c.t.Fatal(err)
	}
	if err := m.s.Compact(m.applied); err != nil {
		c.t.Fatal(err)
	}
}

func expectState(n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprint("r", i, "a"), fmt.Sprint("r", i, "b"))
	}
	return s
}

func (c *cluster) check(n int) {
	c.t.Helper()
	want := expectState(n)
	for _, m := range c.members {
		if !slices.Equal(m.state, want) {
			c.t.Fatalf("member %d applied %d records, want %d: %v", m.id, len(m.state), len(want), m.state)
		}
	}
}

// Three raft nodes on Storage: they elect, commit, compact; a follower
// that was down past the leader's compaction catches up by a streamed
// snapshot; all three restart from their directories and carry on with
// nothing lost.
func TestClusterOnStorage(t *testing.T) {
	c := newCluster(t)
	m1, m3 := c.members[0], c.members[2]
	c.settle()
	if err := m1.rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	c.settle()
	c.propose(0, 20)
	c.check(20)

	m3.down = true
	c.propose(20, 20)
	c.compact(m1)
	c.propose(40, 10)
	c.compact(m1)
	m3.down = false
	for range 5 {
		m1.rn.Tick() // heartbeats: m3 answers and is found behind the compaction
		c.settle()
	}
	c.check(50)
	if c.snaps == 0 {
		t.Fatal("the lagging follower caught up without a snapshot")
	}
	if first, _ := m3.s.FirstIndex(); first == 1 {
		t.Fatal("the follower's log was not replaced by the snapshot")
	}

	for _, m := range c.members {
		m.s.Close()
	}
	for _, m := range c.members {
		c.start(m, false)
	}
	c.settle()
	if err := c.members[1].rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	c.settle()
	c.propose(50, 10)
	c.check(60)
	for _, m := range c.members {
		m.s.Close()
	}
}
