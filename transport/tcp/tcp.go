// Package tcp is the transport of a TCP offsets cluster: each member
// listens on its own address, opens one outgoing connection per peer for
// raft messages, and one more connection for each snapshot it streams, so
// that a snapshot never holds up heartbeats. It implements
// transport.Transport with the guarantees listed there.
//
// # Frames
//
// Both kinds of connection carry the same frames. All integers are big
// endian.
//
//	offset  size  field
//	0       4     length: N, the payload's size in bytes (at most MaxFrameSize)
//	4       1     type (below)
//	5       4     CRC-32C (Castagnoli) of the type byte and the payload
//	9       N     payload
//
// A reader refuses a length above its MaxFrameSize before reading or
// allocating the payload, and closes the connection; it also grows its
// buffer only as fast as bytes arrive. A frame whose CRC does not match
// closes the connection too: the stream can no longer be trusted, and raft
// retries what was lost. Members must agree on MaxFrameSize: a sender does
// not send a message above its own limit, a receiver refuses frames above
// its own.
//
//	type  name            payload
//	1     hello           "OFRT", version (1 byte, 1), kind (1 byte: 1 messages,
//	                      2 snapshot), sender's raft ID (8), receiver's raft ID (8)
//	2     message         a raftpb.Message in protobuf encoding
//	3     snapshot begin  the MsgSnap raftpb.Message in protobuf encoding
//	4     snapshot chunk  the next bytes of the snapshot's body
//	5     snapshot end    the body's length (8) and its CRC-32C (4)
//	6     snapshot done   the receiver's verdict: status (1 byte, 0 committed,
//	                      1 refused), then the reason in UTF-8
//
// A connection starts with a hello; the receiver closes it unless the hello
// names a known peer as sender and itself as receiver, and it checks that
// every message's From and To match the hello. A messages connection then
// carries message frames one way, from dialer to listener, for as long as
// it lives; a newer messages connection from the same peer replaces an
// older one. A snapshot connection carries one begin frame, the chunks, and
// an end frame; the receiver answers with one done frame and both close.
// The receiver commits its sink only when the end frame's length and
// CRC-32C match what it received, and delivers the MsgSnap to raft only
// after that: a stream that is cut short is aborted and never installed. A
// receiver that refuses a snapshot (its sink failed) answers at once and
// reads on until the sender, which watches for the verdict while it
// streams, stops and closes.
//
// # Failures
//
// Each peer has a queue bounded in messages and bytes, and a goroutine
// that drains it in batches onto the connection, with a write deadline, so
// a peer that stops reading makes its own queue overflow (those messages
// are dropped and counted) and nothing else. A failed dial or write drops
// the batch in hand and the queue behind it, reports the peer unreachable,
// and waits with exponential back-off and jitter before dialing again.
package tcp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/transport"
	"github.com/maelstrom-offsets/offsets/transport/internal/link"
)

// Defaults for the zero values of Config's fields.
const (
	DefaultQueueSize       = 1024
	DefaultQueueBytes      = 64 << 20
	DefaultMaxFrameSize    = 64 << 20
	DefaultChunkSize       = 1 << 20
	DefaultDialTimeout     = time.Second
	DefaultWriteTimeout    = 5 * time.Second
	DefaultSnapshotTimeout = time.Minute
	DefaultMinBackoff      = 50 * time.Millisecond
	DefaultMaxBackoff      = 2 * time.Second
)

// maxBatchBytes bounds how much one write to a peer gathers.
const maxBatchBytes = 4 << 20

// Config configures a Transport. ID, Peers and Handler are required.
type Config struct {
	// ID is this member's raft ID.
	ID uint64
	// Addr is the address to listen on; a port of 0 picks a free one
	// (Transport.Addr says which).
	Addr string
	// Listener, if set, is used instead of listening on Addr, so that a
	// caller can learn its port before it knows the peers' addresses. The
	// transport closes it.
	Listener net.Listener
	// Peers maps the other members' raft IDs to their addresses. An entry
	// for ID itself is ignored, so the whole cluster can be passed.
	Peers map[uint64]string
	// Handler gets received messages and the reports.
	Handler transport.Handler
	// QueueSize is the number of messages queued per peer before Send
	// drops (DefaultQueueSize); QueueBytes bounds their payloads' bytes
	// (DefaultQueueBytes), so that a stuck peer's queue of large appends
	// stays bounded in memory too.
	QueueSize, QueueBytes int
	// MaxFrameSize bounds a frame's payload, and so a marshalled message
	// (DefaultMaxFrameSize). Larger messages are not sent; larger incoming
	// frames close the connection.
	MaxFrameSize int
	// ChunkSize is the size of a snapshot chunk (DefaultChunkSize).
	ChunkSize int
	// DialTimeout bounds a connection attempt (DefaultDialTimeout).
	DialTimeout time.Duration
	// WriteTimeout bounds each write to a peer (DefaultWriteTimeout); it
	// also bounds the wait for each frame on an incoming snapshot
	// connection and for a hello.
	WriteTimeout time.Duration
	// SnapshotTimeout bounds the wait for the receiver's verdict after a
	// snapshot's last chunk (DefaultSnapshotTimeout): the receiver fsyncs
	// the body before answering.
	SnapshotTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before dialing a peer again
	// after a failure (DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Logger gets connection failures (slog.Default if nil).
	Logger *slog.Logger
}

// Transport is a TCP transport. Create it with Listen.
type Transport struct {
	cfg      Config
	ln       net.Listener
	peers    map[uint64]*peer
	c        link.Counters
	reporter *link.Reporter
	log      *slog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	mu       sync.Mutex
	conns    map[net.Conn]struct{} // every open connection, to close on Close
	incoming map[uint64]net.Conn   // the messages connection from each peer
}

type peer struct {
	id           uint64
	addr         string
	q            chan queued
	budget       link.Budget
	snapshotting atomic.Bool
}

type queued struct {
	m    *raftpb.Message
	size int // taken from the peer's budget
}

var _ transport.Transport = (*Transport)(nil)

// Listen starts a transport listening on cfg.Addr (or cfg.Listener).
func Listen(cfg Config) (*Transport, error) {
	if cfg.ID == 0 || cfg.Handler == nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		if cfg.ID == 0 {
			return nil, errors.New("tcp transport: ID 0 is raft's none")
		}
		return nil, errors.New("tcp transport: no handler")
	}
	setDefaults(&cfg)
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("tcp transport: %w", err)
		}
	}
	t := &Transport{cfg: cfg, ln: ln, peers: make(map[uint64]*peer), log: cfg.Logger,
		conns: make(map[net.Conn]struct{}), incoming: make(map[uint64]net.Conn)}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	var ids []uint64
	for id, addr := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		if id == 0 {
			ln.Close()
			return nil, errors.New("tcp transport: peer ID 0 is raft's none")
		}
		t.peers[id] = &peer{id: id, addr: addr, q: make(chan queued, cfg.QueueSize),
			budget: link.Budget{Max: int64(cfg.QueueBytes)}}
		ids = append(ids, id)
	}
	t.reporter = link.NewReporter(cfg.Handler, &t.c, ids)
	for _, p := range t.peers {
		t.wg.Add(1)
		go t.runPeer(p)
	}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

func setDefaults(c *Config) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.QueueSize, DefaultQueueSize)
	def(&c.QueueBytes, DefaultQueueBytes)
	def(&c.MaxFrameSize, DefaultMaxFrameSize)
	def(&c.ChunkSize, DefaultChunkSize)
	c.ChunkSize = min(c.ChunkSize, c.MaxFrameSize)
	defd(&c.DialTimeout, DefaultDialTimeout)
	defd(&c.WriteTimeout, DefaultWriteTimeout)
	defd(&c.SnapshotTimeout, DefaultSnapshotTimeout)
	defd(&c.MinBackoff, DefaultMinBackoff)
	defd(&c.MaxBackoff, DefaultMaxBackoff)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// ParseCluster parses a cluster list as the --cluster flag spells it,
// "n1=127.0.0.1:7001,n2=127.0.0.1:7002", into addresses by raft ID
// (transport.NodeID of each name).
func ParseCluster(s string) (map[uint64]string, error) {
	out := make(map[uint64]string)
	for _, part := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || addr == "" {
			return nil, fmt.Errorf("cluster member %q: want NAME=HOST:PORT", part)
		}
		id, err := transport.NodeID(name)
		if err != nil {
			return nil, fmt.Errorf("cluster member %q: %w", part, err)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("cluster member %q named twice", name)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("cluster member %q: %w", part, err)
		}
		out[id] = addr
	}
	return out, nil
}

// Addr returns the address the transport listens on.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Stats returns the transport's counters.
func (t *Transport) Stats() transport.Stats { return t.c.Stats() }

// Send queues msgs for their peers; see transport.Transport.
func (t *Transport) Send(msgs []*raftpb.Message) {
	if t.closed.Load() {
		t.c.Dropped.Add(uint64(len(msgs)))
		return
	}
	for _, m := range msgs {
		p := t.peers[m.GetTo()]
		if p == nil {
			t.c.Dropped.Add(1)
			continue
		}
		size := link.ApproxSize(m)
		if p.budget.Take(size) {
			select {
			case p.q <- queued{m, size}:
				continue
			default:
				p.budget.Release(size)
			}
		}
		t.c.Dropped.Add(1)
		t.reporter.Unreachable(p.id)
	}
}

// Close stops the transport and waits for its goroutines, including any
// handler call in progress, to return.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		return transport.ErrClosed
	}
	t.closed.Store(true) // under mu: no goroutine starts after this
	t.cancel()
	err := t.ln.Close()
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	t.reporter.Close()
	return err
}

// track registers a connection to be closed by Close; it returns false
// (and closes c) if the transport is already closing.
func (t *Transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

func (t *Transport) dial(p *peer, kind byte) (net.Conn, error) {
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	c, err := d.DialContext(t.ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	if !t.track(c) {
		return nil, transport.ErrClosed
	}
	c.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	if _, err := c.Write(appendHello(nil, hello{kind: kind, from: t.cfg.ID, to: p.id})); err != nil {
		t.untrack(c)
		return nil, err
	}
	return c, nil
}

// runPeer drains p's queue onto its connection until Close.
func (t *Transport) runPeer(p *peer) {
	defer t.wg.Done()
	var (
		conn    net.Conn
		buf     []byte
		backoff = link.Backoff{Min: t.cfg.MinBackoff, Max: t.cfg.MaxBackoff}
	)
	defer func() {
		if conn != nil {
			t.untrack(conn)
		}
	}()
	fail := func(n int, err error) {
		// What queued up behind the failed batch is as stale: raft will
		// send again what still matters once the peer answers.
	drain:
		for {
			select {
			case q := <-p.q:
				p.budget.Release(q.size)
				n++
			default:
				break drain
			}
		}
		t.c.Dropped.Add(uint64(n))
		t.reporter.Unreachable(p.id)
		if t.ctx.Err() == nil {
			t.log.Warn("raft peer unreachable", "peer", transport.NodeName(p.id), "addr", p.addr, "err", err)
		}
		if conn != nil {
			t.untrack(conn)
			conn = nil
		}
		timer := time.NewTimer(backoff.Next())
		select {
		case <-timer.C:
		case <-t.ctx.Done():
			timer.Stop()
		}
	}
	for t.ctx.Err() == nil {
		var first queued
		select {
		case first = <-p.q:
		case <-t.ctx.Done():
			return
		}
		var n int
		buf, n = t.appendBatch(buf[:0], first, p)
		if n == 0 {
			continue
		}
		if conn == nil {
			c, err := t.dial(p, kindMessages)
			if err != nil {
				fail(n, err)
				continue
			}
			conn = c
		}
		conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
		if _, err := conn.Write(buf); err != nil {
			fail(n, err)
			continue
		}
		t.c.Sent.Add(uint64(n))
		t.reporter.Reachable(p.id)
		backoff.Reset()
		if cap(buf) > maxBatchBytes {
			buf = nil // let a one-off huge batch go
		}
	}
}

// appendBatch appends m and whatever else is queued, up to maxBatchBytes,
// as message frames. It returns the buffer and the number of messages in
// it; a message too large for a frame is dropped.
func (t *Transport) appendBatch(buf []byte, next queued, p *peer) ([]byte, int) {
	n := 0
	for {
		m := next.m
		p.budget.Release(next.size)
		start := len(buf)
		buf = appendHeader(buf)
		var err error
		buf, err = proto.MarshalOptions{}.MarshalAppend(buf, m)
		switch {
		case err != nil:
			t.log.Error("raft message not marshalled", "type", m.GetType().String(), "err", err)
			t.c.Dropped.Add(1)
			buf = buf[:start]
		case len(buf)-start-headerSize > t.cfg.MaxFrameSize:
			t.log.Error("raft message larger than the frame limit", "type", m.GetType().String(),
				"bytes", len(buf)-start-headerSize, "limit", t.cfg.MaxFrameSize)
			t.c.Dropped.Add(1)
			buf = buf[:start]
		default:
			sealFrame(buf, start, frameMessage)
			n++
		}
		if len(buf) >= maxBatchBytes {
			return buf, n
		}
		select {
		case next = <-p.q:
		default:
			return buf, n
		}
	}
}

// accept serves incoming connections until Close.
func (t *Transport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait and try again.
			t.log.Error("raft listener failed", "err", err)
			timer := time.NewTimer(100 * time.Millisecond)
			select {
			case <-timer.C:
			case <-t.ctx.Done():
				timer.Stop()
				return
			}
			continue
		}
		if !t.track(c) {
			return
		}
		t.wg.Add(1)
		go t.serveConn(c)
	}
}

func (t *Transport) serveConn(c net.Conn) {
	defer t.wg.Done()
	defer t.untrack(c)
	fr := &frameReader{r: bufio.NewReaderSize(c, 64<<10), max: t.cfg.MaxFrameSize}
	c.SetReadDeadline(time.Now().Add(t.cfg.WriteTimeout))
	typ, p, err := fr.next()
	if err == nil {
		var h hello
		if h, err = parseHello(typ, p); err == nil {
			switch {
			case h.to != t.cfg.ID || t.peers[h.from] == nil:
				err = fmt.Errorf("hello from %d to %d, this is %d: %w", h.from, h.to, t.cfg.ID, transport.ErrUnknownPeer)
			case h.kind == kindMessages:
				err = t.readMessages(c, fr, h.from)
			case h.kind == kindSnapshot:
				err = t.receiveSnapshot(c, fr, h.from)
			default:
				err = fmt.Errorf("hello of unknown kind %d: %w", h.kind, transport.ErrCorrupt)
			}
		}
	}
	if err != nil && t.ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		if errors.Is(err, transport.ErrCorrupt) || errors.Is(err, transport.ErrFrameTooLarge) || errors.Is(err, transport.ErrUnknownPeer) {
			t.c.Refused.Add(1)
		}
		t.log.Warn("raft connection closed", "remote", c.RemoteAddr().String(), "err", err)
	}
}

// readMessages delivers the messages on a messages connection from peer
// from until it fails or Close.
func (t *Transport) readMessages(c net.Conn, fr *frameReader, from uint64) error {
	t.mu.Lock()
	if old := t.incoming[from]; old != nil {
		old.Close() // a half-open older connection would hold its reader forever
	}
	t.incoming[from] = c
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		if t.incoming[from] == c {
			delete(t.incoming, from)
		}
		t.mu.Unlock()
	}()
	c.SetReadDeadline(time.Time{})
	for {
		typ, p, err := fr.next()
		if err != nil {
			return err
		}
		if typ != frameMessage {
			return fmt.Errorf("frame type %d on a messages connection: %w", typ, transport.ErrCorrupt)
		}
		m, err := t.decode(p, from)
		if err != nil {
			return err
		}
		t.c.Received.Add(1)
		t.cfg.Handler.Receive(m)
	}
}

func (t *Transport) decode(p []byte, from uint64) (*raftpb.Message, error) {
	m := new(raftpb.Message)
	if err := proto.Unmarshal(p, m); err != nil {
		return nil, fmt.Errorf("raft message: %v: %w", err, transport.ErrCorrupt)
	}
	if m.GetFrom() != from || m.GetTo() != t.cfg.ID {
		return nil, fmt.Errorf("raft message from %d to %d on a connection from %d to %d: %w",
			m.GetFrom(), m.GetTo(), from, t.cfg.ID, transport.ErrCorrupt)
	}
	return m, nil
}

// SendSnapshot streams a snapshot on a connection of its own; see
// transport.Transport. After Close it only closes body and reports
// nothing.
func (t *Transport) SendSnapshot(m *raftpb.Message, body io.ReadCloser) {
	p := t.peers[m.GetTo()]
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		t.c.SnapshotsFailed.Add(1)
		body.Close()
		return
	}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		defer body.Close()
		var err error
		switch {
		case p == nil:
			err = fmt.Errorf("snapshot to %d: %w", m.GetTo(), transport.ErrUnknownPeer)
		case !p.snapshotting.CompareAndSwap(false, true):
			err = fmt.Errorf("snapshot to %s: %w", transport.NodeName(p.id), transport.ErrSnapshotInProgress)
		default:
			err = t.streamSnapshot(p, m, body)
			p.snapshotting.Store(false)
		}
		if err != nil {
			t.c.SnapshotsFailed.Add(1)
			if t.ctx.Err() == nil {
				t.log.Warn("raft snapshot not sent", "peer", transport.NodeName(m.GetTo()), "err", err)
			}
		} else {
			t.c.SnapshotsSent.Add(1)
		}
		t.cfg.Handler.SnapshotStatus(m.GetTo(), err)
	}()
}

func (t *Transport) streamSnapshot(p *peer, m *raftpb.Message, body io.Reader) error {
	head, err := transport.SnapshotHead(m, t.cfg.MaxFrameSize)
	if err != nil {
		return err
	}
	c, err := t.dial(p, kindSnapshot)
	if err != nil {
		return fmt.Errorf("dial %s: %w", p.addr, err)
	}
	// The receiver's verdict can come early (it refused the snapshot or
	// its sink failed), so it is read while the stream is written.
	verdict := make(chan error, 1)
	go func() { verdict <- readVerdict(c, t.cfg.MaxFrameSize) }()
	defer func() {
		t.untrack(c)
		<-verdict // the reader's value, or the one put back below
	}()
	// early returns the verdict if one came, else err.
	early := func(err error) error {
		timer := time.NewTimer(t.cfg.WriteTimeout)
		defer timer.Stop()
		select {
		case v := <-verdict:
			verdict <- v
			if v != nil && !errors.Is(v, transport.ErrSnapshotRejected) {
				return err
			}
			return v
		case <-timer.C:
			return err
		}
	}
	write := func(b ...[]byte) error {
		c.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
		bufs := net.Buffers(b)
		if _, err := bufs.WriteTo(c); err != nil {
			return early(err)
		}
		return nil
	}
	if err := write(appendFrame(nil, frameSnapshotBegin, head)); err != nil {
		return err
	}
	chunk := make([]byte, t.cfg.ChunkSize)
	var size uint64
	var crc uint32
	for {
		n, rerr := io.ReadFull(body, chunk)
		if n > 0 {
			h := frameHeader(frameSnapshotChunk, chunk[:n])
			if err := write(h[:], chunk[:n]); err != nil {
				return err
			}
			size += uint64(n)
			crc = crc32.Update(crc, link.Castagnoli, chunk[:n])
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			// Closing without an end frame makes the receiver abort.
			return fmt.Errorf("read snapshot body: %w", rerr)
		}
		select {
		case v := <-verdict:
			verdict <- v
			if v == nil {
				v = fmt.Errorf("the receiver accepted a snapshot before its end: %w", transport.ErrCorrupt)
			}
			return v
		default:
		}
	}
	var end [snapEndSize]byte
	binary.BigEndian.PutUint64(end[:8], size)
	binary.BigEndian.PutUint32(end[8:], crc)
	if err := write(appendFrame(nil, frameSnapshotEnd, end[:])); err != nil {
		return err
	}
	timer := time.NewTimer(t.cfg.SnapshotTimeout)
	defer timer.Stop()
	select {
	case v := <-verdict:
		verdict <- v
		return v
	case <-timer.C:
		return fmt.Errorf("no verdict from the receiver in %v: %w", t.cfg.SnapshotTimeout, transport.ErrTimeout)
	}
}

// readVerdict reads the receiver's done frame: nil if it committed the
// snapshot.
func readVerdict(c net.Conn, max int) error {
	fr := &frameReader{r: bufio.NewReader(c), max: max}
	typ, v, err := fr.next()
	if err != nil {
		return fmt.Errorf("await the receiver's verdict: %w", err)
	}
	if typ != frameSnapshotDone || len(v) < 1 {
		return fmt.Errorf("frame type %d instead of the verdict: %w", typ, transport.ErrCorrupt)
	}
	if v[0] != 0 {
		return fmt.Errorf("%w: %s", transport.ErrSnapshotRejected, v[1:])
	}
	return nil
}

// receiveSnapshot reads one snapshot stream from peer from into a sink
// from the handler and answers with the verdict.
func (t *Transport) receiveSnapshot(c net.Conn, fr *frameReader, from uint64) error {
	err := t.readSnapshot(c, fr, from)
	verdict := []byte{0}
	if err != nil {
		verdict = append([]byte{1}, err.Error()...)
	}
	c.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	c.Write(appendFrame(nil, frameSnapshotDone, verdict)) // the sender may be gone; its own error says why
	if err != nil {
		// Read what the sender is still sending until it has seen the
		// verdict and closes: closing with unread bytes would reset the
		// connection and could discard the verdict before it is read.
		c.SetReadDeadline(time.Now().Add(t.cfg.WriteTimeout))
		io.Copy(io.Discard, c)
	}
	return err
}

func (t *Transport) readSnapshot(c net.Conn, fr *frameReader, from uint64) error {
	next := func() (byte, []byte, error) {
		c.SetReadDeadline(time.Now().Add(t.cfg.WriteTimeout))
		typ, p, err := fr.next()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("%w: %v", transport.ErrSnapshotTruncated, err)
		}
		return typ, p, err
	}
	typ, p, err := next()
	if err != nil {
		return err
	}
	if typ != frameSnapshotBegin {
		return fmt.Errorf("frame type %d instead of a snapshot begin: %w", typ, transport.ErrCorrupt)
	}
	m, err := t.decode(p, from)
	if err != nil {
		return err
	}
	if m.GetType() != raftpb.MsgSnap {
		return fmt.Errorf("snapshot stream for a %s message: %w", m.GetType(), transport.ErrCorrupt)
	}
	sink, err := t.cfg.Handler.ReceiveSnapshot(m)
	if err != nil {
		return err
	}
	var size uint64
	var crc uint32
	for {
		typ, p, err := next()
		if err != nil {
			sink.Abort()
			return err
		}
		switch typ {
		case frameSnapshotChunk:
			size += uint64(len(p))
			crc = crc32.Update(crc, link.Castagnoli, p)
			if _, err := sink.Write(p); err != nil {
				sink.Abort()
				return err
			}
		case frameSnapshotEnd:
			if len(p) != snapEndSize {
				sink.Abort()
				return fmt.Errorf("snapshot end frame of %d bytes: %w", len(p), transport.ErrCorrupt)
			}
			wantSize, wantCRC := binary.BigEndian.Uint64(p[:8]), binary.BigEndian.Uint32(p[8:])
			if wantSize != size || wantCRC != crc {
				sink.Abort()
				return fmt.Errorf("received %d bytes with CRC-32C %08x, sender sent %d with %08x: %w",
					size, crc, wantSize, wantCRC, transport.ErrSnapshotChecksum)
			}
			if err := sink.Commit(); err != nil {
				return err
			}
			t.c.SnapshotsReceived.Add(1)
			t.c.Received.Add(1)
			t.cfg.Handler.Receive(m)
			return nil
		default:
			sink.Abort()
			return fmt.Errorf("frame type %d in a snapshot stream: %w", typ, transport.ErrCorrupt)
		}
	}
}
