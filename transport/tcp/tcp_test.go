package tcp

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/transport"
	"github.com/maelstrom-offsets/offsets/transport/internal/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 30 * time.Second // generous: the machine is shared

type endpoint struct {
	t *Transport
	h *transporttest.Handler
}

// cluster starts transports for ids on loopback, each knowing the others.
func cluster(t testing.TB, ids []uint64, tweak func(*Config)) map[uint64]*endpoint {
	t.Helper()
	lns := make(map[uint64]net.Listener)
	peers := make(map[uint64]string)
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id], peers[id] = ln, ln.Addr().String()
	}
	eps := make(map[uint64]*endpoint)
	for _, id := range ids {
		h := transporttest.NewHandler(t.TempDir())
		cfg := Config{ID: id, Listener: lns[id], Peers: peers, Handler: h, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
		if tweak != nil {
			tweak(&cfg)
		}
		tr, err := Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		eps[id] = &endpoint{tr, h}
	}
	t.Cleanup(func() {
		for _, ep := range eps {
			ep.h.Stop()
			ep.t.Close()
		}
	})
	return eps
}

func recv(t *testing.T, h *transporttest.Handler) *raftpb.Message {
	t.Helper()
	select {
	case m := <-h.Msgs:
		return m
	case <-time.After(wait):
		t.Fatal("no message received")
		return nil
	}
}

func heartbeat(from, to, term uint64) *raftpb.Message {
	return &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), From: new(from), To: new(to), Term: new(term), Commit: new(uint64(7))}
}

func appendMsg(from, to, index uint64, n, size int) *raftpb.Message {
	m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), From: new(from), To: new(to), Term: new(uint64(3)),
		LogTerm: new(uint64(3)), Index: new(index), Commit: new(index)}
	for i := range n {
		d := make([]byte, size)
		for j := range d {
			d[j] = byte(i + j)
		}
		m.Entries = append(m.Entries, &raftpb.Entry{Term: new(uint64(3)), Index: new(index + 1 + uint64(i)),
			Type: raftpb.EntryNormal.Enum(), Data: d})
	}
	return m
}

func TestMessagesBetweenThreePeers(t *testing.T) {
	eps := cluster(t, []uint64{1, 2, 3}, nil)
	var sent []*raftpb.Message
	for i := uint64(0); i < 20; i++ {
		sent = append(sent, heartbeat(1, 2, i), appendMsg(1, 3, 10*i, 5, 1000))
	}
	eps[1].t.Send(sent)
	var at2, at3 []*raftpb.Message
	for len(at2)+len(at3) < len(sent) {
		select {
		case m := <-eps[2].h.Msgs:
			at2 = append(at2, m)
		case m := <-eps[3].h.Msgs:
			at3 = append(at3, m)
		case <-time.After(wait):
			t.Fatalf("got %d and %d messages of %d", len(at2), len(at3), len(sent))
		}
	}
	// Each peer gets its messages whole and in order.
	for i := range 20 {
		if !proto.Equal(at2[i], sent[2*i]) || !proto.Equal(at3[i], sent[2*i+1]) {
			t.Fatalf("message %d differs:\n%v\n%v", i, at2[i], sent[2*i])
		}
	}
	// And they answer.
	eps[3].t.Send([]*raftpb.Message{{Type: raftpb.MsgAppResp.Enum(), From: new(uint64(3)), To: new(uint64(1)), Index: new(uint64(5))}})
	if m := recv(t, eps[1].h); m.GetType() != raftpb.MsgAppResp || m.GetFrom() != 3 {
		t.Fatalf("got %v", m)
	}
	transporttest.WaitFor(t, wait, "the sends counted", func() bool { return eps[1].t.Stats().Sent == 40 })
	if s := eps[1].t.Stats(); s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSendToUnknownPeerIsDropped(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, nil)
	eps[1].t.Send([]*raftpb.Message{heartbeat(1, 9, 1)})
	if s := eps[1].t.Stats(); s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// snapshotMsg is a MsgSnap whose body is streamed beside it.
func snapshotMsg(from, to, index uint64) *raftpb.Message {
	return &raftpb.Message{Type: raftpb.MsgSnap.Enum(), From: new(from), To: new(to), Term: new(uint64(2)),
		Snapshot: &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: new(index), Term: new(uint64(2)),
			ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}}
}

func randomBody(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func snapshotResult(t *testing.T, h *transporttest.Handler) transporttest.SnapshotResult {
	t.Helper()
	select {
	case r := <-h.Snapshots:
		return r
	case <-time.After(wait):
		t.Fatal("no snapshot status")
		return transporttest.SnapshotResult{}
	}
}

func TestSnapshotStreamedInChunks(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, func(c *Config) { c.ChunkSize = 64 << 10 })
	body := randomBody(5<<20 + 123)
	m := snapshotMsg(1, 2, 100)
	// Meanwhile heartbeats still flow on the messages connection.
	eps[1].t.SendSnapshot(m, io.NopCloser(bytes.NewReader(body)))
	eps[1].t.Send([]*raftpb.Message{heartbeat(1, 2, 2)})
	r := snapshotResult(t, eps[1].h)
	if r.ID != 2 || r.Err != nil {
		t.Fatalf("snapshot status %+v", r)
	}
	// The MsgSnap reaches raft only once the body is committed.
	got := map[raftpb.MessageType]*raftpb.Message{}
	for len(got) < 2 {
		g := recv(t, eps[2].h)
		if g.GetType() == raftpb.MsgSnap {
			if _, err := os.Stat(filepath.Join(eps[2].h.Dir, transporttest.SnapshotName(g))); err != nil {
				t.Fatalf("MsgSnap delivered before its body was committed: %v", err)
			}
		}
		got[g.GetType()] = g
	}
	if !proto.Equal(got[raftpb.MsgSnap], m) {
		t.Fatalf("got %v, want %v", got[raftpb.MsgSnap], m)
	}
	b, err := os.ReadFile(filepath.Join(eps[2].h.Dir, transporttest.SnapshotName(m)))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(b) != sha256.Sum256(body) {
		t.Fatalf("snapshot body of %d bytes differs from the %d sent", len(b), len(body))
	}
	if files := eps[2].h.Files(); len(files) != 1 {
		t.Fatalf("files after the snapshot: %v", files)
	}
	if s1, s2 := eps[1].t.Stats(), eps[2].t.Stats(); s1.SnapshotsSent != 1 || s2.SnapshotsReceived != 1 {
		t.Fatalf("stats %+v %+v", s1, s2)
	}
}

// failingReader returns its bytes and then an error, as a checkpoint file
// that cannot be read to its end.
type failingReader struct {
	r io.Reader
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestSnapshotSenderFailureIsReportedAndNothingInstalled(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, func(c *Config) { c.ChunkSize = 64 << 10 })
	eps[1].t.SendSnapshot(snapshotMsg(1, 2, 100), io.NopCloser(&failingReader{bytes.NewReader(randomBody(3 << 20))}))
	if r := snapshotResult(t, eps[1].h); r.Err == nil {
		t.Fatal("a snapshot whose body could not be read was reported sent")
	}
	transporttest.WaitFor(t, wait, "the receiver to abort", func() bool { return eps[2].h.Aborted() == 1 })
	assertNothingInstalled(t, eps[2])
}

func TestSnapshotRefusedByReceiver(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, nil)
	eps[2].h.RefuseSnapshots = true
	eps[1].t.SendSnapshot(snapshotMsg(1, 2, 100), io.NopCloser(bytes.NewReader(randomBody(1<<20))))
	if r := snapshotResult(t, eps[1].h); !errors.Is(r.Err, transport.ErrSnapshotRejected) {
		t.Fatalf("got %v, want ErrSnapshotRejected", r.Err)
	}
	assertNothingInstalled(t, eps[2])
}

func assertNothingInstalled(t *testing.T, ep *endpoint) {
	t.Helper()
	if files := ep.h.Files(); len(files) != 0 {
		t.Fatalf("files left by a failed snapshot: %v", files)
	}
	select {
	case m := <-ep.h.Msgs:
		t.Fatalf("a failed snapshot delivered %v", m)
	default:
	}
	if s := ep.t.Stats(); s.SnapshotsReceived != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// rawConn dials ep as peer from would, for frames written by hand.
func rawConn(t *testing.T, ep *endpoint, from uint64, kind byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ep.t.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(appendHello(nil, hello{kind: kind, from: from, to: ep.t.cfg.ID})); err != nil {
		t.Fatal(err)
	}
	return c
}

// assertClosedByPeer reads c until the other side closes it.
func assertClosedByPeer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the connection was not closed")
	}
}

func TestTruncatedSnapshotStreams(t *testing.T) {
	body := randomBody(1 << 20)
	m, _ := proto.Marshal(snapshotMsg(1, 2, 100))
	var end [snapEndSize]byte
	binary.BigEndian.PutUint64(end[:8], uint64(len(body)))
	binary.BigEndian.PutUint32(end[8:], 12345)
	cases := []struct {
		name   string
		frames []byte
	}{
		{"cut after the begin frame", appendFrame(nil, frameSnapshotBegin, m)},
		{"cut after half the chunks", appendFrame(appendFrame(nil, frameSnapshotBegin, m), frameSnapshotChunk, body[:len(body)/2])},
		{"cut inside a chunk", appendFrame(appendFrame(nil, frameSnapshotBegin, m), frameSnapshotChunk, body)[:len(m)+headerSize+1000]},
		{"end frame with the wrong checksum", appendFrame(appendFrame(appendFrame(nil, frameSnapshotBegin, m), frameSnapshotChunk, body), frameSnapshotEnd, end[:])},
		{"shorter than the end frame says", appendFrame(appendFrame(appendFrame(nil, frameSnapshotBegin, m), frameSnapshotChunk, body[:1000]), frameSnapshotEnd, end[:])},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eps := cluster(t, []uint64{1, 2}, nil)
			c := rawConn(t, eps[2], 1, kindSnapshot)
			if _, err := c.Write(tc.frames); err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			assertClosedByPeer(t, c)
			transporttest.WaitFor(t, wait, "the receiver to abort", func() bool { return eps[2].h.Aborted() == 1 })
			assertNothingInstalled(t, eps[2])
		})
	}
}

func TestCloseAbortsSnapshotInProgress(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, nil)
	m, _ := proto.Marshal(snapshotMsg(1, 2, 100))
	c := rawConn(t, eps[2], 1, kindSnapshot)
	c.Write(appendFrame(appendFrame(nil, frameSnapshotBegin, m), frameSnapshotChunk, randomBody(1000)))
	transporttest.WaitFor(t, wait, "the stream to start", func() bool { return len(eps[2].h.Files()) == 1 })
	if err := eps[2].t.Close(); err != nil {
		t.Fatal(err)
	}
	if eps[2].h.Aborted() != 1 {
		t.Fatalf("%d sinks aborted", eps[2].h.Aborted())
	}
	assertNothingInstalled(t, eps[2])
}

func TestPeerDownThenUp(t *testing.T) {
	// Reserve an address for peer 2 and leave it closed: peer 2 is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr2 := ln.Addr().String()
	ln.Close()
	h1 := transporttest.NewHandler(t.TempDir())
	t1, err := Listen(Config{ID: 1, Addr: "127.0.0.1:0", Peers: map[uint64]string{2: addr2}, Handler: h1,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Close()
	defer h1.Stop()
	t1.Send([]*raftpb.Message{heartbeat(1, 2, 1)})
	select {
	case id := <-h1.Unreach:
		if id != 2 {
			t.Fatalf("unreachable %d", id)
		}
	case <-time.After(wait):
		t.Fatal("a down peer was not reported unreachable")
	}

	h2 := transporttest.NewHandler(t.TempDir())
	t2, err := Listen(Config{ID: 2, Addr: addr2, Peers: map[uint64]string{1: t1.Addr().String()}, Handler: h2})
	if err != nil {
		t.Skipf("the reserved port was taken meanwhile: %v", err)
	}
	defer t2.Close()
	defer h2.Stop()
	// Raft sends a heartbeat every tick; so does the test until one
	// arrives over the new connection.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for term := uint64(2); ; term++ {
		select {
		case m := <-h2.Msgs:
			if m.GetType() != raftpb.MsgHeartbeat {
				t.Fatalf("got %v", m)
			}
			transporttest.WaitFor(t, wait, "the send counted", func() bool { return t1.Stats().Sent > 0 })
			if s := t1.Stats(); s.Unreachable == 0 {
				t.Fatalf("stats %+v", s)
			}
			return
		case <-tick.C:
			t1.Send([]*raftpb.Message{heartbeat(1, 2, term)})
		case <-deadline:
			t.Fatalf("no message after the peer came up; stats %+v", t1.Stats())
		}
	}
}

func TestPeerThatNeverReadsDoesNotBlock(t *testing.T) {
	// 64 appends of 1 MiB each overflow the queue by count or by bytes.
	t.Run("queue of 8 messages", func(t *testing.T) { neverReads(t, 8, 0) })
	t.Run("queue of 4 MiB", func(t *testing.T) { neverReads(t, 0, 4<<20) })
}

func neverReads(t *testing.T, queueSize, queueBytes int) {
	// Peer 2 accepts and never reads; peer 3 is healthy.
	stuck, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := stuck.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	defer func() {
		stuck.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	eps := cluster(t, []uint64{3}, func(c *Config) { c.Peers[1] = "127.0.0.1:1" })
	h1 := transporttest.NewHandler(t.TempDir())
	t1, err := Listen(Config{ID: 1, Addr: "127.0.0.1:0", Handler: h1, QueueSize: queueSize, QueueBytes: queueBytes, WriteTimeout: time.Hour,
		Peers: map[uint64]string{2: stuck.Addr().String(), 3: eps[3].t.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Close()
	defer h1.Stop()
	// 64 MiB to the stuck peer: far more than the socket buffers hold.
	// Send returns every time, and the excess is dropped.
	big := appendMsg(1, 2, 1, 16, 64<<10)
	for range 64 {
		t1.Send([]*raftpb.Message{big})
	}
	if s := t1.Stats(); s.Dropped == 0 {
		t.Fatalf("nothing dropped: %+v", s)
	}
	// The healthy peer is not held up.
	for i := range 3 {
		t1.Send([]*raftpb.Message{heartbeat(1, 3, uint64(i))})
		if m := recv(t, eps[3].h); m.GetTerm() != uint64(i) {
			t.Fatalf("got %v", m)
		}
	}
	select {
	case id := <-h1.Unreach:
		if id != 2 {
			t.Fatalf("unreachable %d", id)
		}
	case <-time.After(wait):
		t.Fatal("a full queue was not reported")
	}
	// Close returns although a write is blocked.
	if err := t1.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOversizedFrameClosesWithoutAllocating(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, nil)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for _, n := range []uint32{DefaultMaxFrameSize + 1, 1<<32 - 1} {
		c := rawConn(t, eps[2], 1, kindMessages)
		var h [headerSize]byte
		binary.BigEndian.PutUint32(h[:4], n)
		h[4] = frameMessage
		c.Write(h[:])
		assertClosedByPeer(t, c)
	}
	// A length within the limit, followed by little: the buffer grows
	// with the bytes that arrive, not with the length announced.
	c := rawConn(t, eps[2], 1, kindMessages)
	var h [headerSize]byte
	binary.BigEndian.PutUint32(h[:4], DefaultMaxFrameSize)
	h[4] = frameMessage
	c.Write(h[:])
	c.Write(make([]byte, 1000))
	c.Close()
	transporttest.WaitFor(t, wait, "the refusals counted", func() bool { return eps[2].t.Stats().Refused >= 2 })
	runtime.ReadMemStats(&ms1)
	if grown := ms1.TotalAlloc - ms0.TotalAlloc; grown > 32<<20 {
		t.Fatalf("%d bytes allocated for frames that were never sent", grown)
	}
}

func TestCorruptFrameClosesConnection(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, nil)
	b, _ := proto.Marshal(heartbeat(1, 2, 1))
	good := appendFrame(nil, frameMessage, b)
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0x40
	c := rawConn(t, eps[2], 1, kindMessages)
	c.Write(append(good, bad...))
	assertClosedByPeer(t, c)
	if m := recv(t, eps[2].h); m.GetTerm() != 1 {
		t.Fatalf("got %v", m)
	}
	select {
	case m := <-eps[2].h.Msgs:
		t.Fatalf("a corrupt frame was delivered: %v", m)
	default:
	}
	if s := eps[2].t.Stats(); s.Refused != 1 || s.Received != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHelloMustNameKnownPeers(t *testing.T) {
	eps := cluster(t, []uint64{1, 2}, nil)
	for _, from := range []uint64{0, 7} {
		c := rawConn(t, eps[2], from, kindMessages)
		b, _ := proto.Marshal(heartbeat(from, 2, 1))
		c.Write(appendFrame(nil, frameMessage, b))
		assertClosedByPeer(t, c)
	}
	// A message whose From contradicts the hello is refused too.
	c := rawConn(t, eps[2], 1, kindMessages)
	b, _ := proto.Marshal(heartbeat(3, 2, 1))
	c.Write(appendFrame(nil, frameMessage, b))
	assertClosedByPeer(t, c)
	// And a connection that is not ours at all.
	c2, err := net.Dial("tcp", eps[2].t.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	bufio.NewWriter(c2).WriteString("GET / HTTP/1.0\r\n\r\n")
	c2.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	assertClosedByPeer(t, c2)
	transporttest.WaitFor(t, wait, "the refusals counted", func() bool { return eps[2].t.Stats().Refused == 4 })
	if s := eps[2].t.Stats(); s.Received != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	eps := cluster(t, []uint64{1, 2, 3}, nil)
	eps[1].t.Send([]*raftpb.Message{heartbeat(1, 2, 1), heartbeat(1, 3, 1)})
	recv(t, eps[2].h)
	recv(t, eps[3].h)
	eps[2].t.SendSnapshot(snapshotMsg(2, 1, 5), io.NopCloser(bytes.NewReader(randomBody(1<<20))))
	snapshotResult(t, eps[2].h)
	for _, ep := range eps {
		if err := ep.t.Close(); err != nil {
			t.Fatal(err)
		}
		if err := ep.t.Close(); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
	}
	// Send and SendSnapshot after Close neither block nor start anything.
	eps[1].t.Send([]*raftpb.Message{heartbeat(1, 2, 2)})
	eps[1].t.SendSnapshot(snapshotMsg(1, 2, 5), io.NopCloser(bytes.NewReader(nil)))
	if err := goleak.Find(opt); err != nil {
		t.Fatal(err)
	}
}

func TestParseCluster(t *testing.T) {
	got, err := ParseCluster("n1=127.0.0.1:7001, n2=127.0.0.1:7002,n3=[::1]:7003")
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{2: "127.0.0.1:7001", 3: "127.0.0.1:7002", 4: "[::1]:7003"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for id, a := range want {
		if got[id] != a {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"", "n1", "n1=", "x1=127.0.0.1:1", "n1=127.0.0.1", "n1=a:1,n1=b:2"} {
		if _, err := ParseCluster(bad); err == nil {
			t.Errorf("ParseCluster(%q) accepted", bad)
		}
	}
}

func TestRaftOverTCP(t *testing.T) {
	ids := []uint64{1, 2, 3}
	var members []*transporttest.Member
	eps := map[uint64]*Transport{}
	lns := map[uint64]net.Listener{}
	peers := map[uint64]string{}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[id], peers[id] = ln, ln.Addr().String()
	}
	for _, id := range ids {
		m := transporttest.NewMember(t, id, ids, t.TempDir())
		tr, err := Listen(Config{ID: id, Listener: lns[id], Peers: peers, Handler: m.H, ChunkSize: 256 << 10,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		m.T, eps[id] = tr, tr
		members = append(members, m)
	}
	defer func() {
		for _, tr := range eps {
			tr.Close()
		}
	}()
	transporttest.RunCluster(t, members)
}
