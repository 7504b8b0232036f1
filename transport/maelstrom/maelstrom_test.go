package maelstrom

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/transport"
	"github.com/maelstrom-offsets/offsets/transport/internal/link"
	"github.com/maelstrom-offsets/offsets/transport/internal/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 30 * time.Second

type envelope struct {
	Src  string          `json:"src"`
	Dest string          `json:"dest"`
	Body json.RawMessage `json:"body"`
}

// network routes the lines each transport writes to the destination's
// HandleMessage, on one goroutine per destination as a node's input reader
// would. drop, if set, decides per line whether the network loses it.
type network struct {
	mu    sync.Mutex
	nodes map[string]*Transport
	inbox map[string]chan envelope
	drop  func(e envelope) bool
	wg    sync.WaitGroup
	stop  chan struct{}
	bad   atomic.Value // first line that was not JSON
}

func newNetwork() *network {
	return &network{nodes: map[string]*Transport{}, inbox: map[string]chan envelope{}, stop: make(chan struct{})}
}

// out returns the stdout of the node called name.
func (n *network) out(name string) io.Writer {
	ch := make(chan envelope, 1<<14)
	n.inbox[name] = ch
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case e := <-ch:
				n.mu.Lock()
				t := n.nodes[e.Dest]
				n.mu.Unlock()
				if t != nil {
					t.HandleMessage(e.Src, e.Body)
				}
			case <-n.stop:
				return
			}
		}
	}()
	return writerFunc(func(p []byte) (int, error) {
		for _, line := range bytes.SplitAfter(p, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var e envelope
			if err := json.Unmarshal(line, &e); err != nil || line[len(line)-1] != '\n' {
				n.bad.CompareAndSwap(nil, string(line))
				continue
			}
			n.mu.Lock()
			drop := n.drop
			dst := n.inbox[e.Dest]
			n.mu.Unlock()
			if dst == nil || (drop != nil && drop(e)) {
				continue
			}
			select {
			case dst <- e:
			default:
			}
		}
		return len(p), nil
	})
}

func (n *network) close(t *testing.T) {
	for _, tr := range n.nodes {
		tr.Close()
	}
	close(n.stop)
	n.wg.Wait()
	if b := n.bad.Load(); b != nil {
		t.Errorf("a line that is not one JSON object: %q", b)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type endpoint struct {
	t *Transport
	h *transporttest.Handler
}

func cluster(t *testing.T, ids []uint64, tweak func(*Config)) (*network, map[uint64]*endpoint) {
	t.Helper()
	n := newNetwork()
	eps := map[uint64]*endpoint{}
	for _, id := range ids {
		h := transporttest.NewHandler(t.TempDir())
		cfg := Config{ID: id, Peers: ids, Out: n.out(transport.NodeName(id)), Handler: h}
		if tweak != nil {
			tweak(&cfg)
		}
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.nodes[transport.NodeName(id)] = tr
		eps[id] = &endpoint{tr, h}
	}
	t.Cleanup(func() {
		for _, ep := range eps {
			ep.h.Stop()
		}
		n.close(t)
	})
	return n, eps
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

func appendMsg(from, to uint64) *raftpb.Message {
	m := &raftpb.Message{Type: raftpb.MsgApp.Enum(), From: new(from), To: new(to), Term: new(uint64(3)),
		LogTerm: new(uint64(3)), Index: new(uint64(9)), Commit: new(uint64(9))}
	for i := range 4 {
		m.Entries = append(m.Entries, &raftpb.Entry{Term: new(uint64(3)), Index: new(uint64(10 + i)),
			Type: raftpb.EntryNormal.Enum(), Data: bytes.Repeat([]byte{byte(i)}, 1000)})
	}
	return m
}

func TestMessagesRoundTrip(t *testing.T) {
	_, eps := cluster(t, []uint64{1, 2, 3}, nil)
	sent := []*raftpb.Message{heartbeat(1, 2, 4), appendMsg(1, 3), appendMsg(1, 2)}
	eps[1].t.Send(sent)
	if m := recv(t, eps[2].h); !proto.Equal(m, sent[0]) {
		t.Fatalf("got %v", m)
	}
	if m := recv(t, eps[2].h); !proto.Equal(m, sent[2]) {
		t.Fatalf("got %v", m)
	}
	if m := recv(t, eps[3].h); !proto.Equal(m, sent[1]) {
		t.Fatalf("got %v", m)
	}
	eps[3].t.Send([]*raftpb.Message{heartbeat(3, 1, 5)})
	if m := recv(t, eps[1].h); m.GetFrom() != 3 || m.GetTerm() != 5 {
		t.Fatalf("got %v", m)
	}
}

func TestLineFormat(t *testing.T) {
	var buf bytes.Buffer
	out := NewSyncWriter(&buf)
	h := transporttest.NewHandler(t.TempDir())
	tr, err := New(Config{ID: 2, Peers: []uint64{2, 3}, Out: out, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	m := heartbeat(2, 3, 1)
	tr.Send([]*raftpb.Message{m})
	transporttest.WaitFor(t, wait, "the line written", func() bool { return tr.Stats().Sent == 1 })
	tr.Close()
	b, _ := proto.Marshal(m)
	want := `{"src":"n1","dest":"n2","body":{"type":"raft","msg_id":1,"m":"` + base64.StdEncoding.EncodeToString(b) + "\"}}\n"
	if got := buf.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var e envelope
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedMessagesAreErrors(t *testing.T) {
	_, eps := cluster(t, []uint64{1, 2}, nil)
	good, _ := proto.Marshal(heartbeat(1, 2, 1))
	wrongFrom, _ := proto.Marshal(heartbeat(3, 2, 1))
	wrongTo, _ := proto.Marshal(heartbeat(1, 3, 1))
	enc := base64.StdEncoding.EncodeToString
	cases := []struct {
		src, body string
		want      error
	}{
		{"n0", `{"type":"raft","m":"` + enc(good) + `"}`, nil},
		{"n0", `{"type":"raft","m":"not base64!"}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft","m":"` + enc([]byte{0xff, 0xff, 0xff}) + `"}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft","m":"` + enc(good[:len(good)-1]) + `"}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft","m":"` + enc(wrongFrom) + `"}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft","m":"` + enc(wrongTo) + `"}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft","m":12}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft"`, transport.ErrCorrupt},
		{"n0", `[]`, transport.ErrCorrupt},
		{"n0", `{"type":"echo"}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft_snapshot_chunk","snap":1,"seq":0,"m":"%%%"}`, transport.ErrCorrupt},
		{"n0", `{"type":"raft_snapshot_chunk","snap":1,"seq":0,"m":"` + enc(good) + `"}`, transport.ErrCorrupt}, // not a MsgSnap
		{"n0", `{"type":"raft_snapshot_chunk","snap":1,"seq":5,"data":""}`, transport.ErrSnapshotTruncated},
		{"n7", `{"type":"raft","m":"` + enc(good) + `"}`, transport.ErrUnknownPeer},
		{"c1", `{"type":"raft","m":"` + enc(good) + `"}`, transport.ErrUnknownPeer},
		{"n1", `{"type":"raft","m":"` + enc(good) + `"}`, transport.ErrUnknownPeer}, // itself
	}
	for _, tc := range cases {
		err := eps[2].t.HandleMessage(tc.src, []byte(tc.body))
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("HandleMessage(%s, %s) = %v, want %v", tc.src, tc.body, err, tc.want)
		}
	}
	if m := recv(t, eps[2].h); !proto.Equal(m, heartbeat(1, 2, 1)) {
		t.Fatalf("got %v", m)
	}
	select {
	case m := <-eps[2].h.Msgs:
		t.Fatalf("a malformed message was delivered: %v", m)
	default:
	}
	if s := eps[2].t.Stats(); s.Received != 1 || s.Refused != uint64(len(cases)-2) {
		t.Fatalf("stats %+v", s)
	}
	eps[2].t.Close()
	if err := eps[2].t.HandleMessage("n0", []byte(cases[0].body)); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func FuzzHandleMessage(f *testing.F) {
	good, _ := proto.Marshal(appendMsg(1, 2))
	snap, _ := proto.Marshal(snapshotMsg(1, 2, 5))
	enc := base64.StdEncoding.EncodeToString
	f.Add("n0", []byte(`{"type":"raft","m":"`+enc(good)+`"}`))
	f.Add("n0", []byte(`{"type":"raft_snapshot_chunk","snap":1,"seq":0,"m":"`+enc(snap)+`","data":"AAEC","last":true,"size":3,"crc":1}`))
	f.Add("n0", []byte(`{"type":"raft_snapshot_ack","snap":1,"seq":0,"ok":false,"error":"x"}`))
	f.Add("n0", []byte(`{"type":"raft","m":"AAAA"}`))
	// One transport for the whole run, so that inputs also meet the state
	// earlier ones left (a snapshot stream in progress).
	h := transporttest.NewHandler(f.TempDir())
	tr, err := New(Config{ID: 2, Peers: []uint64{1, 2}, Out: io.Discard, Handler: h})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Stop(); tr.Close() })
	f.Fuzz(func(t *testing.T, src string, body []byte) {
		tr.HandleMessage(src, body)
		for len(h.Msgs) > 0 {
			// Whatever was accepted is a message for this node.
			if m := <-h.Msgs; m.GetTo() != 2 || m.GetFrom() != 1 {
				t.Fatalf("accepted %v", m)
			}
		}
	})
}

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

func TestSnapshotOverALossyNetwork(t *testing.T) {
	n, eps := cluster(t, []uint64{1, 2}, func(c *Config) {
		c.ChunkSize = 32 << 10
		c.ChunkTimeout = 20 * time.Millisecond
		c.ChunkRetries = 1000
	})
	// Lose every third chunk and every fourth ack, and each chunk's first
	// copy is duplicated by the network: the stream still arrives whole.
	var chunks, acks atomic.Int64
	n.drop = func(e envelope) bool {
		switch {
		case bytes.Contains(e.Body, []byte(TypeSnapshotChunk)):
			return chunks.Add(1)%3 == 0
		case bytes.Contains(e.Body, []byte(TypeSnapshotAck)):
			return acks.Add(1)%4 == 0
		}
		return false
	}
	body := randomBody(1<<20 + 17)
	m := snapshotMsg(1, 2, 40)
	eps[1].t.SendSnapshot(m, io.NopCloser(bytes.NewReader(body)))
	if r := snapshotResult(t, eps[1].h); r.Err != nil || r.ID != 2 {
		t.Fatalf("snapshot status %+v", r)
	}
	if got := recv(t, eps[2].h); !proto.Equal(got, m) {
		t.Fatalf("got %v", got)
	}
	b, err := os.ReadFile(filepath.Join(eps[2].h.Dir, transporttest.SnapshotName(m)))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(b) != sha256.Sum256(body) {
		t.Fatalf("snapshot body of %d bytes differs from the %d sent", len(b), len(body))
	}
	if files := eps[2].h.Files(); len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
}

// chunkBody builds a raft_snapshot_chunk body by hand.
func chunkBody(snap, seq uint64, m *raftpb.Message, data []byte, last bool, size uint64, crc uint32) []byte {
	b := map[string]any{"type": TypeSnapshotChunk, "msg_id": 1, "snap": snap, "seq": seq, "data": data}
	if m != nil {
		b["m"], _ = proto.Marshal(m)
	}
	if last {
		b["last"], b["size"], b["crc"] = true, size, crc
	}
	out, _ := json.Marshal(b)
	return out
}

func TestShortenedSnapshotStreamsAreNeverInstalled(t *testing.T) {
	body := randomBody(100 << 10)
	crc := crc32.Checksum(body, link.Castagnoli)
	m := snapshotMsg(1, 2, 9)
	cases := []struct {
		name   string
		chunks [][]byte
		want   error
	}{
		{"a chunk missing", [][]byte{
			chunkBody(7, 0, m, body[:1000], false, 0, 0),
			chunkBody(7, 2, nil, body[2000:], true, uint64(len(body)), crc)}, transport.ErrSnapshotTruncated},
		{"shorter than the last chunk says", [][]byte{
			chunkBody(7, 0, m, body[:1000], false, 0, 0),
			chunkBody(7, 1, nil, body[2000:], true, uint64(len(body)), crc)}, transport.ErrSnapshotChecksum},
		{"wrong checksum", [][]byte{
			chunkBody(7, 0, m, body[:1000], false, 0, 0),
			chunkBody(7, 1, nil, body[1000:], true, uint64(len(body)), crc^1)}, transport.ErrSnapshotChecksum},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, eps := cluster(t, []uint64{1, 2}, nil)
			var err error
			for _, c := range tc.chunks {
				if err = eps[2].t.HandleMessage("n0", c); err != nil {
					break
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if eps[2].h.Aborted() != 1 {
				t.Fatalf("%d sinks aborted", eps[2].h.Aborted())
			}
			assertNothingInstalled(t, eps[2])
		})
	}
}

func TestAbandonedSnapshotStreamIsAborted(t *testing.T) {
	_, eps := cluster(t, []uint64{1, 2}, func(c *Config) { c.IdleTimeout = 20 * time.Millisecond })
	if err := eps[2].t.HandleMessage("n0", chunkBody(7, 0, snapshotMsg(1, 2, 9), []byte("abc"), false, 0, 0)); err != nil {
		t.Fatal(err)
	}
	transporttest.WaitFor(t, wait, "the stream aborted", func() bool { return eps[2].h.Aborted() == 1 })
	assertNothingInstalled(t, eps[2])
}

type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("disk on fire")
	}
	return n, err
}

func TestSnapshotSenderFailureIsReported(t *testing.T) {
	_, eps := cluster(t, []uint64{1, 2}, func(c *Config) { c.IdleTimeout = 20 * time.Millisecond })
	eps[1].t.SendSnapshot(snapshotMsg(1, 2, 9), io.NopCloser(&failingReader{bytes.NewReader(randomBody(200 << 10))}))
	if r := snapshotResult(t, eps[1].h); r.Err == nil {
		t.Fatal("a snapshot whose body could not be read was reported sent")
	}
	transporttest.WaitFor(t, wait, "the receiver to abort", func() bool { return eps[2].h.Aborted() == 1 })
	assertNothingInstalled(t, eps[2])
}

func TestSnapshotRefusedOrUnanswered(t *testing.T) {
	n, eps := cluster(t, []uint64{1, 2, 3}, func(c *Config) {
		c.ChunkTimeout = 10 * time.Millisecond
		c.ChunkRetries = 3
	})
	eps[2].h.RefuseSnapshots = true
	eps[1].t.SendSnapshot(snapshotMsg(1, 2, 9), io.NopCloser(bytes.NewReader(randomBody(1000))))
	if r := snapshotResult(t, eps[1].h); !errors.Is(r.Err, transport.ErrSnapshotRejected) {
		t.Fatalf("got %v, want ErrSnapshotRejected", r.Err)
	}
	n.mu.Lock()
	n.drop = func(e envelope) bool { return e.Dest == "n2" }
	n.mu.Unlock()
	eps[1].t.SendSnapshot(snapshotMsg(1, 3, 9), io.NopCloser(bytes.NewReader(randomBody(1000))))
	if r := snapshotResult(t, eps[1].h); !errors.Is(r.Err, transport.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", r.Err)
	}
	// One stream per peer at a time.
	eps[1].t.SendSnapshot(snapshotMsg(1, 3, 9), io.NopCloser(bytes.NewReader(randomBody(1000))))
	eps[1].t.SendSnapshot(snapshotMsg(1, 3, 9), io.NopCloser(bytes.NewReader(randomBody(1000))))
	r1, r2 := snapshotResult(t, eps[1].h), snapshotResult(t, eps[1].h)
	if !errors.Is(r1.Err, transport.ErrSnapshotInProgress) && !errors.Is(r2.Err, transport.ErrSnapshotInProgress) {
		t.Fatalf("two streams to one peer at once: %v, %v", r1.Err, r2.Err)
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestBlockedStdoutDoesNotBlockSend(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	h := transporttest.NewHandler(t.TempDir())
	tr, err := New(Config{ID: 1, Peers: []uint64{1, 2, 3}, Out: w, Handler: h, QueueSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	for i := range 1000 {
		tr.Send([]*raftpb.Message{heartbeat(1, 2+uint64(i%2), uint64(i))})
	}
	// The writer holds what it took before Write blocked; the queue holds
	// 16 more; the rest is dropped.
	if s := tr.Stats(); s.Dropped == 0 {
		t.Fatalf("stats %+v", s)
	}
	got := map[uint64]bool{}
	for range 2 {
		select {
		case id := <-h.Unreach:
			got[id] = true
		case <-time.After(wait):
			t.Fatal("a full queue was not reported")
		}
	}
	if !got[2] || !got[3] {
		t.Fatalf("unreachable %v", got)
	}
	close(w.release)
	transporttest.WaitFor(t, wait, "the queue written", func() bool {
		s := tr.Stats()
		return s.Sent+s.Dropped == 1000
	})
	tr.Close()
	lines := strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
	if uint64(len(lines)) != tr.Stats().Sent {
		t.Fatalf("%d lines for %d messages", len(lines), tr.Stats().Sent)
	}
}

func TestSharedStdoutNeverInterleaves(t *testing.T) {
	var buf bytes.Buffer
	out := NewSyncWriter(&buf)
	h := transporttest.NewHandler(t.TempDir())
	tr, err := New(Config{ID: 1, Peers: []uint64{1, 2}, Out: out, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	// The node writes its replies in batches of whole lines meanwhile.
	done := make(chan struct{})
	go func() {
		defer close(done)
		var batch []byte
		for i := range 200 {
			batch = batch[:0]
			for j := range 50 {
				batch = fmt.Appendf(batch, `{"src": "n0", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": %d, "msg_id": %d}}`+"\n", i*50+j, i*50+j)
			}
			out.Write(batch)
		}
	}()
	big := appendMsg(1, 2)
	for range 200 {
		tr.Send([]*raftpb.Message{big, heartbeat(1, 2, 1)})
	}
	<-done
	transporttest.WaitFor(t, wait, "the queue written", func() bool {
		s := tr.Stats()
		return s.Sent+s.Dropped == 400
	})
	tr.Close()
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	replies, raft := 0, 0
	for sc.Scan() {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not one message: %v: %.200s", replies+raft, err, sc.Text())
		}
		if e.Dest == "c1" {
			replies++
		} else {
			raft++
		}
	}
	if replies != 200*50 || uint64(raft) != tr.Stats().Sent {
		t.Fatalf("%d replies, %d raft lines, stats %+v", replies, raft, tr.Stats())
	}
}

func TestRaftOverMaelstrom(t *testing.T) {
	ids := []uint64{1, 2, 3}
	n := newNetwork()
	var members []*transporttest.Member
	for _, id := range ids {
		m := transporttest.NewMember(t, id, ids, t.TempDir())
		tr, err := New(Config{ID: id, Peers: ids, Out: n.out(transport.NodeName(id)), Handler: m.H,
			ChunkTimeout: 200 * time.Millisecond, ChunkSize: 256 << 10})
		if err != nil {
			t.Fatal(err)
		}
		n.nodes[transport.NodeName(id)] = tr
		m.T = tr
		members = append(members, m)
	}
	defer n.close(t)
	transporttest.RunCluster(t, members)
}

// TestDocExamples feeds the package doc's example lines to a transport, so
// that the doc cannot drift from the code.
func TestDocExamples(t *testing.T) {
	n, eps := cluster(t, []uint64{2, 3}, nil)
	var examples [][]byte
	for _, l := range strings.Split(docText(t), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(l, "//")); strings.HasPrefix(l, `{"src":`) {
			examples = append(examples, []byte(l))
		}
	}
	if len(examples) != 5 {
		t.Fatalf("%d examples in the package doc", len(examples))
	}
	deliver := func(line []byte) error {
		var e envelope
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("example %s: %v", line, err)
		}
		return n.nodes[e.Dest].HandleMessage(e.Src, e.Body)
	}
	if err := deliver(examples[0]); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, eps[3].h); !proto.Equal(m, &raftpb.Message{Type: raftpb.MsgHeartbeat.Enum(), From: new(uint64(2)),
		To: new(uint64(3)), Term: new(uint64(4)), Commit: new(uint64(17))}) {
		t.Fatalf("example 1 is %v", m)
	}
	for _, ex := range examples[1:3] {
		if err := deliver(ex); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
	}
	m := recv(t, eps[3].h)
	if m.GetType() != raftpb.MsgSnap || m.GetSnapshot().GetMetadata().GetIndex() != 1000 {
		t.Fatalf("examples 2 and 3 give %v", m)
	}
	b, err := os.ReadFile(filepath.Join(eps[3].h.Dir, transporttest.SnapshotName(m)))
	if err != nil || !bytes.Equal(b, []byte{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("snapshot body %v, %v", b, err)
	}
	for _, ex := range examples[3:] {
		if err := deliver(ex); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
	}
}

func docText(t *testing.T) string {
	b, err := os.ReadFile("maelstrom.go")
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:bytes.Index(b, []byte("\npackage maelstrom"))])
}
