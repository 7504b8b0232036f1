package cluster

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/replica"
	"github.com/maelstrom-offsets/offsets/transport"
)

// sentApps is a transport that keeps what is sent.
type sentApps struct {
	mu   sync.Mutex
	msgs []*raftpb.Message
}

func (s *sentApps) Send(msgs []*raftpb.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, msgs...)
}
func (s *sentApps) SendSnapshot(m *raftpb.Message, body io.ReadCloser) { body.Close() }
func (s *sentApps) Stats() transport.Stats                             { return transport.Stats{} }
func (s *sentApps) Close() error                                       { return nil }

type noSM struct{}

func (noSM) Apply(*raftpb.Entry, *replica.Op) error { return nil }
func (noSM) Restore(*raftpb.Snapshot) error         { return nil }

// A leader's node writes the replies to forwarded requests with the rest
// of its batch: ReplyWriter sends those back to their follower, body
// unchanged, and writes the others byte for byte.
func TestReplyWriterSendsForwardedRepliesBack(t *testing.T) {
	n, err := replica.New(replica.Config{ID: 2, Peers: []uint64{1, 2, 3}, Storage: replica.NewMemoryStorage(), StateMachine: noSM{}})
	if err != nil {
		t.Fatal(err)
	}
	tr := &sentApps{}
	n.Start(tr)
	defer n.Stop()
	m := &Member{node: n}
	var out bytes.Buffer
	w := m.ReplyWriter(&out)
	own := `{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 3, "msg_id": 7}}` + "\n"
	fwd := `{"src": "n1", "dest": "_fwd.n2.42", "body": {"type": "fetch_offset_ok", "in_reply_to": 9, "offset": 5, "msg_id": 8}}` + "\n"
	if _, err := w.Write([]byte(own + fwd + own)); err != nil {
		t.Fatal(err)
	}
	if out.String() != own+own {
		t.Fatalf("written:\n%s", out.String())
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.msgs) != 1 {
		t.Fatalf("%d messages sent back", len(tr.msgs))
	}
	msg := tr.msgs[0]
	data := msg.GetContext()
	if msg.GetTo() != 3 || data[0] != appReply || binary.BigEndian.Uint64(data[1:9]) != 42 ||
		string(data[9:]) != `{"type": "fetch_offset_ok", "in_reply_to": 9, "offset": 5, "msg_id": 8}` {
		t.Fatalf("sent back to %d: %q", msg.GetTo(), data)
	}
}

// A follower writes the leader's reply to its client as its own, once;
// a leader's overload answer becomes error 11; a late reply (after the
// timeout answered 0) is dropped.
func TestFollowerRelaysReplies(t *testing.T) {
	var out bytes.Buffer
	f := &forwarder{self: "n1", out: &out, pending: map[uint64]forward{
		5: {client: []byte(`"c1"`), msgID: []byte("17")},
		6: {client: []byte(`"c2"`), msgID: []byte("18")},
	}}
	reply := func(id uint64, body string) []byte {
		b := make([]byte, 9)
		b[0] = appReply
		binary.BigEndian.PutUint64(b[1:], id)
		return append(b, body...)
	}
	f.onApp(2, reply(5, `{"type": "commit_offset_ok", "in_reply_to": 17, "msg_id": 3}`))
	f.onApp(2, reply(5, `{"type": "commit_offset_ok", "in_reply_to": 17, "msg_id": 3}`))
	f.onApp(2, reply(6, string(overloaded)))
	want := `{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": 17, "msg_id": 3}}` + "\n" +
		`{"src": "n1", "dest": "c2", "body": {"type": "error", "in_reply_to": 18, "code": 11, "text": "the leader is overloaded: the request was not applied"}}` + "\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}
