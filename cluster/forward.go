package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/maelstrom-offsets/offsets/replica"
	"github.com/maelstrom-offsets/offsets/transport"
	"github.com/maelstrom-offsets/offsets/transport/maelstrom"
)

// Forwarding: a follower hands a client's request whole to the leader and
// relays the leader's reply (see the package doc). The application
// messages (replica.Node.SendApp) are:
//
//	1, forward id (8 bytes, big endian), the message for the leader to serve
//	2, forward id, the body of the leader's reply
//
// The message for the leader is the client's body addressed from the
// pseudo-client fwdPrefix+follower+"."+id, so that the leader's node
// answers it as any request, and its reply, recognised by that dest, is
// sent back instead of being written.
const (
	appForward = 1
	appReply   = 2
	fwdPrefix  = "_fwd."
)

// overloaded is the reply body of a leader whose queue of forwarded
// requests is full.
var overloaded = []byte("the leader is overloaded: the request was not applied")

// forward is a request this member forwarded and has not answered yet.
type forward struct {
	client   []byte // the client's name, quoted
	msgID    []byte // the request's msg_id literal
	leader   uint64 // the member it was sent to
	deadline time.Time
}

// forwarder is the Member's half of forwarding.
type forwarder struct {
	m      *Member
	self   string // this member's name
	out    io.Writer
	inject chan<- []byte
	ps     fastjson.Parser // Route's, on the reader goroutine

	mu      sync.Mutex
	next    uint64
	pending map[uint64]forward
}

// Route implements node.Config.Route: on a member that is not the leader,
// every client request but init and cluster_status is forwarded to the
// leader, or answered with error 11 when no leader is known. It runs on
// the node's reader goroutine.
func (m *Member) Route(msg []byte) bool {
	if _, maelstromMode := m.tr.(messageHandler); !maelstromMode && m.node.Status().Role == replica.Leader {
		return false // the leader's own input, with no raft traffic in it: not even parsed
	}
	f := m.fwd
	v, err := f.ps.ParseBytes(msg)
	if err != nil {
		return false
	}
	body := v.Get("body")
	typ := string(body.GetStringBytes("type"))
	src := v.GetStringBytes("src")
	if id, err := transport.NodeID(string(src)); err == nil && slices.Contains(m.cfg.Peers, id) {
		// A member's message is never a client's request: raft traffic
		// (Maelstrom mode) goes to the transport, anything else (an error
		// a peer answered before its init) is dropped, so that two nodes
		// never answer each other's answers.
		if h, ok := m.tr.(messageHandler); ok && maelstrom.IsTransportType(typ) {
			if err := h.HandleMessage(string(src), body.MarshalTo(nil)); err != nil {
				m.log.Debug("raft message refused", "src", string(src), "err", err)
			}
		}
		return true
	}
	if typ == "init" || typ == "cluster_status" || body.Get("msg_id") == nil {
		return false
	}
	st := m.node.Status()
	if st.Role == replica.Leader {
		return false
	}
	client, _ := json.Marshal(string(src))
	msgID := body.Get("msg_id").MarshalTo(nil)
	if st.Leader == 0 {
		m.forwarded(ForwardNoLeader) // before the reply: a client that saw it sees it counted
		f.answer(client, msgID, 11, "no leader is known: the request was not applied")
		return true
	}
	f.mu.Lock()
	f.next++
	id := f.next
	f.pending[id] = forward{client: client, msgID: msgID, leader: st.Leader, deadline: time.Now().Add(m.cfg.RequestTimeout)}
	f.mu.Unlock()
	// The leader serves this message as if a client had sent it.
	fwd := fmt.Appendf(make([]byte, 9, 64+len(msg)), `{"src":"%s%s.%d","dest":"%s","body":`,
		fwdPrefix, f.self, id, transport.NodeName(st.Leader))
	fwd = body.MarshalTo(fwd)
	fwd = append(fwd, '}')
	fwd[0] = appForward
	binary.BigEndian.PutUint64(fwd[1:9], id)
	m.node.SendApp(st.Leader, fwd)
	return true
}

// messageHandler is the Maelstrom transport's side door for the messages
// the node reads.
type messageHandler interface {
	HandleMessage(src string, rawBody []byte) error
}

// onApp receives forwarded requests (on the leader) and replies (on the
// follower that forwarded), on a transport goroutine.
func (f *forwarder) onApp(from uint64, data []byte) {
	if len(data) < 9 {
		return
	}
	id := binary.BigEndian.Uint64(data[1:9])
	switch data[0] {
	case appForward:
		select {
		case f.inject <- bytes.Clone(data[9:]):
		default:
			// Never block the transport, which carries the raft messages
			// this leader needs to commit what is queued already.
			msg := make([]byte, 9, 9+len(overloaded))
			msg[0] = appReply
			binary.BigEndian.PutUint64(msg[1:], id)
			f.m.node.SendApp(from, append(msg, overloaded...))
		}
	case appReply:
		f.mu.Lock()
		p, ok := f.pending[id]
		delete(f.pending, id)
		f.mu.Unlock()
		if !ok {
			return // answered 0 at its timeout already
		}
		body := data[9:]
		if bytes.Equal(body, overloaded) {
			f.m.forwarded(ForwardOverloaded)
			f.answer(p.client, p.msgID, 11, string(overloaded))
			return
		}
		line := fmt.Appendf(nil, `{"src": %q, "dest": %s, "body": `, f.self, p.client)
		line = append(append(line, body...), "}\n"...)
		f.m.forwarded(ForwardAnswered)
		f.out.Write(line)
	}
}

// answer writes an error reply to a client.
func (f *forwarder) answer(client, msgID []byte, code int, text string) {
	line := fmt.Appendf(nil, `{"src": %q, "dest": %s, "body": {"type": "error", "in_reply_to": %s, "code": %d, "text": %s}}`+"\n",
		f.self, client, msgID, code, strconv.Quote(text))
	f.out.Write(line)
}

// expire answers error 0 to the forwarded requests whose leader has not
// answered within the request timeout, or that went to a member that is
// no longer the leader this member knows (another is, or none): that one
// may have died with the request or be cut off from this member, so its
// outcome is unknown (it may have committed it), and waiting longer would
// tell the client nothing more.
func (f *forwarder) expire(now time.Time, leader uint64) {
	var late, deposed []forward
	f.mu.Lock()
	for id, p := range f.pending {
		switch {
		case now.After(p.deadline):
			late = append(late, p)
		case p.leader != leader:
			deposed = append(deposed, p)
		default:
			continue
		}
		delete(f.pending, id)
	}
	f.mu.Unlock()
	for _, p := range late {
		f.m.forwarded(ForwardTimeout)
		f.answer(p.client, p.msgID, 0, "timed out waiting for the leader: the outcome is unknown")
	}
	for _, p := range deposed {
		f.m.forwarded(ForwardLeaderChanged)
		f.answer(p.client, p.msgID, 0, "the leader changed before it answered: the outcome is unknown")
	}
}

// ReplyWriter wraps the node's output: replies to requests forwarded by a
// follower go back to it, the rest to w. It relies on the node writing
// whole lines, `{"src": ..., "dest": "...", "body": ...}`.
func (m *Member) ReplyWriter(w io.Writer) io.Writer { return &replyWriter{m: m, w: w} }

type replyWriter struct {
	m *Member
	w io.Writer
}

var fwdDest = []byte(`"dest": "` + fwdPrefix)

func (r *replyWriter) Write(p []byte) (int, error) {
	if !bytes.Contains(p, fwdDest) {
		return r.w.Write(p)
	}
	var rest []byte
	for line := range bytes.Lines(p) {
		if !r.sendBack(line) {
			rest = append(rest, line...)
		}
	}
	if len(rest) > 0 {
		if _, err := r.w.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// sendBack sends a reply to a forwarded request back to its follower.
func (r *replyWriter) sendBack(line []byte) bool {
	i := bytes.Index(line, fwdDest)
	if i < 0 {
		return false
	}
	dest := line[i+len(fwdDest):]
	end := bytes.IndexByte(dest, '"')
	b := bytes.Index(line, []byte(`, "body": `))
	if end < 0 || b < 0 {
		return false
	}
	name, idText, ok := bytes.Cut(dest[:end], []byte("."))
	id, err := strconv.ParseUint(string(idText), 10, 64)
	peer, perr := transport.NodeID(string(name))
	if !ok || err != nil || perr != nil {
		return false
	}
	body := bytes.TrimRight(line[b+len(`, "body": `):], "\n")
	body = body[:len(body)-1] // the line's closing brace
	msg := make([]byte, 9, 9+len(body))
	msg[0] = appReply
	binary.BigEndian.PutUint64(msg[1:], id)
	r.m.node.SendApp(peer, append(msg, body...))
	return true
}
