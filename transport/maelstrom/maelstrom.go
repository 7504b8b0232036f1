// Package maelstrom is the transport of an offsets cluster run by
// Maelstrom: raft messages travel as Maelstrom messages that the node
// writes on its stdout with the peer's node id as dest, and that arrive on
// the peer's stdin with src the sender's id, exactly as Maelstrom routes
// them. It implements transport.Transport with the guarantees listed
// there; Maelstrom may drop, delay, duplicate or reorder messages, which
// raft tolerates and the snapshot protocol below handles.
//
// # Sharing stdout
//
// The node's replies and the transport share one stdout. Both write
// through one SyncWriter, which writes each call's bytes whole under a
// lock; each caller writes only whole lines per call, so lines never
// interleave. The transport writes from a goroutine of its own fed by a
// bounded queue, so a stdout that blocks makes the queue overflow (those
// messages are dropped and counted) and never blocks the raft loop.
//
// # Receiving
//
// The node's input reader owns stdin. When it reads a message whose body
// type is one of this package's (IsTransportType), it passes the sender and
// the raw body to HandleMessage, which decodes it and calls the handler on
// the reader's goroutine (so the reader must not be the raft loop's).
// Malformed bodies return an error wrapping transport.ErrCorrupt; nothing
// a peer sends can make it panic.
//
// # Message types
//
// Binary fields are standard base64 with padding. Every body has a msg_id
// from the transport's own counter, as Maelstrom messages do; none expects
// a reply with in_reply_to.
//
// "raft" carries one raftpb.Message in protobuf encoding, m. Its From must
// be the sender's raft ID and its To the receiver's (transport.NodeID;
// here a heartbeat from n1, ID 2, to n2, ID 3, term 4, commit 17):
//
//	{"src":"n1","dest":"n2","body":{"type":"raft","msg_id":7,"m":"CAgQAxgCIARAEQ=="}}
//
// "raft_snapshot_chunk" carries the next chunk of a snapshot's body: snap
// names the stream (unique per sender), seq numbers the chunks from 0,
// data is the chunk. Chunk 0 also carries m, the MsgSnap (here at index
// 1000 of term 4, voters 2, 3 and 4). The last chunk (possibly with empty
// data) has "last":true, the whole body's size in bytes and its CRC-32C
// (Castagnoli) as an unsigned integer; this body is the bytes 0 to 6:
//
//	{"src":"n1","dest":"n2","body":{"type":"raft_snapshot_chunk","msg_id":8,"snap":4411,"seq":0,"m":"CAcQAxgCIARKDxINCgYIAggDCAQQ6AcYBA==","data":"AAECAw=="}}
//	{"src":"n1","dest":"n2","body":{"type":"raft_snapshot_chunk","msg_id":10,"snap":4411,"seq":1,"data":"BAUG","last":true,"size":7,"crc":2740579660}}
//
// "raft_snapshot_ack" answers each chunk: ok true means the chunk was
// stored (for the last chunk: the whole body was verified and committed,
// and the MsgSnap handed to raft); ok false ends the stream, with the
// reason in error:
//
//	{"src":"n2","dest":"n1","body":{"type":"raft_snapshot_ack","msg_id":3,"snap":4411,"seq":1,"ok":true}}
//	{"src":"n2","dest":"n1","body":{"type":"raft_snapshot_ack","msg_id":4,"snap":4411,"seq":1,"ok":false,"error":"transport: snapshot checksum mismatch"}}
//
// The sender sends one chunk at a time and the next only after the ack of
// the previous (stop and wait), so it holds one chunk in memory and the
// receiver sees the chunks in order whatever the network does. A chunk
// without an ack within ChunkTimeout is sent again, up to ChunkRetries
// times, then the stream fails; the receiver acks a repeated chunk again
// without storing it twice. A receiver that gets no chunk of a stream for
// IdleTimeout aborts it. The receiver commits its sink only when the last
// chunk's size and CRC-32C match what it stored: a stream cut short is
// never installed.
package maelstrom

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/transport"
	"github.com/maelstrom-offsets/offsets/transport/internal/link"
)

// The body types this package defines.
const (
	TypeRaft          = "raft"
	TypeSnapshotChunk = "raft_snapshot_chunk"
	TypeSnapshotAck   = "raft_snapshot_ack"
)

// IsTransportType reports whether a body type is one of this package's,
// to be passed to HandleMessage.
func IsTransportType(typ string) bool {
	return typ == TypeRaft || typ == TypeSnapshotChunk || typ == TypeSnapshotAck
}

// Defaults for the zero values of Config's fields.
const (
	DefaultQueueSize      = 4096
	DefaultQueueBytes     = 64 << 20
	DefaultChunkSize      = 64 << 10
	DefaultChunkTimeout   = time.Second
	DefaultChunkRetries   = 10
	DefaultIdleTimeout    = 30 * time.Second
	DefaultMaxMessageSize = 32 << 20
)

// maxBatchBytes bounds how much one write to stdout gathers.
const maxBatchBytes = 1 << 20

// SyncWriter serialises writes to one io.Writer: each Write is passed on
// whole, under a lock. The node writes its replies and the transport its
// messages through the same SyncWriter, each call holding whole lines.
type SyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewSyncWriter returns a SyncWriter on w.
func NewSyncWriter(w io.Writer) *SyncWriter { return &SyncWriter{w: w} }

// Write writes p to the underlying writer while no other Write runs.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Config configures a Transport. ID, Out and Handler are required.
type Config struct {
	// ID is this member's raft ID; its node name is transport.NodeName(ID).
	ID uint64
	// Peers are the other members' raft IDs. ID itself is ignored, so the
	// whole cluster can be passed.
	Peers []uint64
	// Out is the node's stdout, shared with its replies (a SyncWriter).
	// The transport writes only whole lines in each call.
	Out io.Writer
	// Handler gets received messages and the reports.
	Handler transport.Handler
	// QueueSize is the number of lines queued for Out before Send drops
	// (DefaultQueueSize); QueueBytes bounds their payloads' bytes
	// (DefaultQueueBytes).
	QueueSize, QueueBytes int
	// ChunkSize is a snapshot chunk's size before base64 (DefaultChunkSize).
	ChunkSize int
	// ChunkTimeout is how long a snapshot chunk waits for its ack before it
	// is sent again (DefaultChunkTimeout); ChunkRetries is how many times
	// (DefaultChunkRetries). The receiver fsyncs the body before acking the
	// last chunk, so ChunkTimeout*ChunkRetries must cover that.
	ChunkTimeout time.Duration
	ChunkRetries int
	// IdleTimeout aborts an incoming snapshot stream that got no chunk for
	// this long (DefaultIdleTimeout).
	IdleTimeout time.Duration
	// MaxMessageSize bounds a marshalled raft message, sent or received
	// (DefaultMaxMessageSize); the node's input reader skips longer lines
	// anyway.
	MaxMessageSize int
	// Logger gets failures (slog.Default if nil).
	Logger *slog.Logger
}

// Transport is a Maelstrom transport. Create it with New.
type Transport struct {
	cfg      Config
	name     string
	peers    map[uint64]*peer
	q        chan item
	budget   link.Budget
	c        link.Counters
	reporter *link.Reporter
	log      *slog.Logger
	msgID    atomic.Int64
	nextSnap atomic.Uint64

	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
	mu     sync.Mutex // guards closed and acks
	closed bool
	acks   map[uint64]chan ack // outgoing snapshot streams by snap

	inMu     sync.Mutex         // guards in and inClosed; never held across a handler's Receive
	in       map[uint64]*stream // incoming snapshot stream by sender
	inClosed bool
}

type peer struct {
	id           uint64
	name         string
	snapshotting atomic.Bool
}

// item is a queued message or a line built already (snapshot traffic).
type item struct {
	m    *raftpb.Message
	line []byte
	to   uint64
	size int // taken from the budget
}

type ack struct {
	seq uint64
	ok  bool
	err string
}

// stream is an incoming snapshot.
type stream struct {
	snap    uint64
	next    uint64 // seq expected next
	m       *raftpb.Message
	sink    transport.SnapshotSink
	size    uint64
	crc     uint32
	lastAt  time.Time
	done    bool  // the last chunk was handled
	lastErr error // its outcome, acked again on a repeat
}

var _ transport.Transport = (*Transport)(nil)

// New starts a transport writing to cfg.Out.
func New(cfg Config) (*Transport, error) {
	if cfg.ID == 0 || cfg.Out == nil || cfg.Handler == nil {
		return nil, errors.New("maelstrom transport: ID, Out and Handler are required")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.QueueSize, DefaultQueueSize)
	def(&cfg.QueueBytes, DefaultQueueBytes)
	def(&cfg.ChunkSize, DefaultChunkSize)
	def(&cfg.ChunkRetries, DefaultChunkRetries)
	def(&cfg.MaxMessageSize, DefaultMaxMessageSize)
	if cfg.ChunkTimeout <= 0 {
		cfg.ChunkTimeout = DefaultChunkTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Transport{cfg: cfg, name: transport.NodeName(cfg.ID), peers: make(map[uint64]*peer),
		q: make(chan item, cfg.QueueSize), budget: link.Budget{Max: int64(cfg.QueueBytes)}, log: cfg.Logger, done: make(chan struct{}),
		acks: make(map[uint64]chan ack), in: make(map[uint64]*stream)}
	var ids []uint64
	for _, id := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		if id == 0 {
			return nil, errors.New("maelstrom transport: peer ID 0 is raft's none")
		}
		t.peers[id] = &peer{id: id, name: transport.NodeName(id)}
		ids = append(ids, id)
	}
	// Snapshot stream numbers start at random so that a restarted sender
	// does not reuse its predecessor's; 2^52 keeps them exact in any JSON
	// parser.
	t.nextSnap.Store(rand.Uint64N(1 << 52))
	t.reporter = link.NewReporter(cfg.Handler, &t.c, ids)
	t.wg.Add(2)
	go t.write()
	go t.janitor()
	return t, nil
}

// Stats returns the transport's counters.
func (t *Transport) Stats() transport.Stats { return t.c.Stats() }

// Send queues msgs for stdout; see transport.Transport.
func (t *Transport) Send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		if t.peers[m.GetTo()] == nil {
			t.c.Dropped.Add(1)
			continue
		}
		if !t.enqueue(item{m: m, to: m.GetTo(), size: link.ApproxSize(m)}) {
			t.reporter.Unreachable(m.GetTo())
		}
	}
}

// enqueue queues it unless the queue is full or the transport closed.
func (t *Transport) enqueue(it item) bool {
	if it.m == nil {
		it.size = len(it.line)
	}
	select {
	case <-t.done:
		t.c.Dropped.Add(1)
		return false
	default:
	}
	if t.budget.Take(it.size) {
		select {
		case t.q <- it:
			return true
		default:
			t.budget.Release(it.size)
		}
	}
	t.c.Dropped.Add(1)
	return false
}

// Close stops the transport and waits for its goroutines (including a
// Write to Out in progress) to return; incoming snapshot streams are
// aborted and outgoing ones fail.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return transport.ErrClosed
	}
	t.closed = true
	close(t.done)
	t.mu.Unlock()
	t.wg.Wait()
	t.inMu.Lock()
	for src, s := range t.in {
		if !s.done {
			s.sink.Abort()
		}
		delete(t.in, src)
	}
	t.inClosed = true
	t.inMu.Unlock()
	t.reporter.Close()
	return nil
}

// write drains the queue onto Out in batches until Close.
func (t *Transport) write() {
	defer t.wg.Done()
	var buf []byte
	var tos []uint64
	for {
		var it item
		select {
		case it = <-t.q:
		case <-t.done:
			return
		}
		buf, tos = buf[:0], tos[:0]
		n := 0
		for {
			t.budget.Release(it.size)
			if it.m != nil {
				var ok bool
				if buf, ok = t.appendMessage(buf, it.m); ok {
					n++
					tos = append(tos, it.to)
				}
			} else {
				buf = append(buf, it.line...)
			}
			if len(buf) >= maxBatchBytes {
				break
			}
			select {
			case it = <-t.q:
				continue
			default:
			}
			break
		}
		if len(buf) == 0 {
			continue
		}
		if _, err := t.cfg.Out.Write(buf); err != nil {
			t.c.Dropped.Add(uint64(n))
			t.log.Error("raft messages not written to stdout", "err", err)
			continue
		}
		t.c.Sent.Add(uint64(n))
		for _, to := range tos {
			t.reporter.Reachable(to)
		}
		if cap(buf) > 4*maxBatchBytes {
			buf = nil
		}
	}
}

// appendMessage appends m as a "raft" line.
func (t *Transport) appendMessage(buf []byte, m *raftpb.Message) ([]byte, bool) {
	b, err := proto.Marshal(m)
	if err == nil && len(b) > t.cfg.MaxMessageSize {
		err = fmt.Errorf("%d bytes: %w", len(b), transport.ErrFrameTooLarge)
	}
	if err != nil {
		t.c.Dropped.Add(1)
		t.log.Error("raft message not sent", "type", m.GetType().String(), "err", err)
		return buf, false
	}
	buf = t.appendHead(buf, m.GetTo(), TypeRaft)
	buf = append(buf, `,"m":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, b)
	return append(buf, "\"}}\n"...), true
}

// appendHead appends a line's envelope up to the body's msg_id.
func (t *Transport) appendHead(buf []byte, to uint64, typ string) []byte {
	buf = append(buf, `{"src":"`...)
	buf = append(buf, t.name...)
	buf = append(buf, `","dest":"`...)
	buf = append(buf, transport.NodeName(to)...)
	buf = append(buf, `","body":{"type":"`...)
	buf = append(buf, typ...)
	buf = append(buf, `","msg_id":`...)
	return strconv.AppendInt(buf, t.msgID.Add(1), 10)
}

// body is any of this package's message bodies, decoded.
type body struct {
	Type  string
	M     []byte
	Snap  uint64
	Seq   uint64
	Data  []byte
	Last  bool
	Size  uint64
	CRC   uint32
	OK    bool
	Error *string
}

var parsers fastjson.ParserPool

// decodeBody decodes a body strictly: a field of the wrong type or
// base64 that does not decode is an error, never a zero value.
func decodeBody(raw []byte) (body, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return body{}, err
	}
	o, err := v.Object()
	if err != nil {
		return body{}, err
	}
	var b body
	o.Visit(func(k []byte, f *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "type":
			var t []byte
			t, err = f.StringBytes()
			b.Type = string(t)
		case "m":
			b.M, err = decodeBase64(f)
		case "data":
			b.Data, err = decodeBase64(f)
		case "snap":
			b.Snap, err = f.Uint64()
		case "seq":
			b.Seq, err = f.Uint64()
		case "size":
			b.Size, err = f.Uint64()
		case "crc":
			var c uint
			if c, err = f.Uint(); err == nil && uint64(c) > 1<<32-1 {
				err = fmt.Errorf("crc %d out of range", c)
			}
			b.CRC = uint32(c)
		case "last":
			b.Last, err = f.Bool()
		case "ok":
			b.OK, err = f.Bool()
		case "error":
			var e []byte
			if e, err = f.StringBytes(); err == nil {
				s := string(e)
				b.Error = &s
			}
		}
		if err != nil {
			err = fmt.Errorf("field %q: %w", k, err)
		}
	})
	return b, err
}

func decodeBase64(v *fastjson.Value) ([]byte, error) {
	s, err := v.StringBytes()
	if err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	return out[:n], err
}

// HandleMessage decodes the body of a message from node src and delivers
// it. It calls the handler on the caller's goroutine.
func (t *Transport) HandleMessage(src string, rawBody []byte) error {
	err := t.handle(src, rawBody)
	if err != nil && (errors.Is(err, transport.ErrCorrupt) || errors.Is(err, transport.ErrUnknownPeer) || errors.Is(err, transport.ErrFrameTooLarge)) {
		t.c.Refused.Add(1)
	}
	return err
}

func (t *Transport) handle(src string, rawBody []byte) error {
	select {
	case <-t.done:
		return transport.ErrClosed
	default:
	}
	from, err := transport.NodeID(src)
	if err != nil || t.peers[from] == nil {
		return fmt.Errorf("message from %q: %w", src, transport.ErrUnknownPeer)
	}
	b, err := decodeBody(rawBody)
	if err != nil {
		return fmt.Errorf("message from %s: %v: %w", src, err, transport.ErrCorrupt)
	}
	switch b.Type {
	case TypeRaft:
		m, err := t.decode(b.M, from)
		if err != nil {
			return err
		}
		t.c.Received.Add(1)
		t.cfg.Handler.Receive(m)
		return nil
	case TypeSnapshotChunk:
		return t.handleChunk(from, &b)
	case TypeSnapshotAck:
		t.mu.Lock()
		ch := t.acks[b.Snap]
		t.mu.Unlock()
		if ch == nil {
			return nil // a late or repeated ack of a stream that ended
		}
		a := ack{seq: b.Seq, ok: b.OK}
		if b.Error != nil {
			a.err = *b.Error
		}
		select {
		case ch <- a:
		default: // the sender has one already
		}
		return nil
	default:
		return fmt.Errorf("message from %s of type %q: %w", src, b.Type, transport.ErrCorrupt)
	}
}

func (t *Transport) decode(b []byte, from uint64) (*raftpb.Message, error) {
	if len(b) > t.cfg.MaxMessageSize {
		return nil, fmt.Errorf("raft message of %d bytes: %w", len(b), transport.ErrFrameTooLarge)
	}
	m := new(raftpb.Message)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("raft message: %v: %w", err, transport.ErrCorrupt)
	}
	if m.GetFrom() != from || m.GetTo() != t.cfg.ID {
		return nil, fmt.Errorf("raft message from %d to %d sent by %d to %d: %w",
			m.GetFrom(), m.GetTo(), from, t.cfg.ID, transport.ErrCorrupt)
	}
	return m, nil
}

// SendSnapshot streams body in acknowledged chunks; see
// transport.Transport. After Close it only closes body and reports
// nothing.
func (t *Transport) SendSnapshot(m *raftpb.Message, body io.ReadCloser) {
	p := t.peers[m.GetTo()]
	t.mu.Lock()
	if t.closed {
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
			err = fmt.Errorf("snapshot to %s: %w", p.name, transport.ErrSnapshotInProgress)
		default:
			err = t.streamSnapshot(p, m, body)
			p.snapshotting.Store(false)
		}
		if err != nil {
			t.c.SnapshotsFailed.Add(1)
			t.log.Warn("raft snapshot not sent", "peer", transport.NodeName(m.GetTo()), "err", err)
		} else {
			t.c.SnapshotsSent.Add(1)
		}
		t.cfg.Handler.SnapshotStatus(m.GetTo(), err)
	}()
}

func (t *Transport) streamSnapshot(p *peer, m *raftpb.Message, body io.Reader) error {
	head, err := transport.SnapshotHead(m, t.cfg.MaxMessageSize)
	if err != nil {
		return err
	}
	snap := t.nextSnap.Add(1)
	acks := make(chan ack, 1)
	t.mu.Lock()
	t.acks[snap] = acks
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.acks, snap)
		t.mu.Unlock()
	}()

	chunk := make([]byte, t.cfg.ChunkSize)
	var line []byte
	var size uint64
	var crc uint32
	for seq := uint64(0); ; seq++ {
		n, rerr := io.ReadFull(body, chunk)
		last := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !last {
			return fmt.Errorf("read snapshot body: %w", rerr)
		}
		size += uint64(n)
		crc = crc32.Update(crc, link.Castagnoli, chunk[:n])

		line = t.appendHead(line[:0], p.id, TypeSnapshotChunk)
		line = append(line, `,"snap":`...)
		line = strconv.AppendUint(line, snap, 10)
		line = append(line, `,"seq":`...)
		line = strconv.AppendUint(line, seq, 10)
		if seq == 0 {
			line = append(line, `,"m":"`...)
			line = base64.StdEncoding.AppendEncode(line, head)
			line = append(line, '"')
		}
		line = append(line, `,"data":"`...)
		line = base64.StdEncoding.AppendEncode(line, chunk[:n])
		line = append(line, '"')
		if last {
			line = append(line, `,"last":true,"size":`...)
			line = strconv.AppendUint(line, size, 10)
			line = append(line, `,"crc":`...)
			line = strconv.AppendUint(line, uint64(crc), 10)
		}
		line = append(line, "}}\n"...)
		if err := t.sendChunk(line, p, seq, acks); err != nil {
			return fmt.Errorf("chunk %d: %w", seq, err)
		}
		if last {
			return nil
		}
	}
}

// sendChunk sends line until its ack comes, or fails.
func (t *Transport) sendChunk(line []byte, p *peer, seq uint64, acks chan ack) error {
	timer := time.NewTimer(t.cfg.ChunkTimeout)
	defer timer.Stop()
	for try := 0; try <= t.cfg.ChunkRetries; try++ {
		// The queue keeps its own copy: line is reused for the next chunk.
		t.enqueue(item{line: append([]byte(nil), line...), to: p.id})
		timer.Reset(t.cfg.ChunkTimeout)
		if a, ok := t.awaitAck(seq, acks, timer.C); ok {
			if !a.ok {
				return fmt.Errorf("%w: %s", transport.ErrSnapshotRejected, a.err)
			}
			return nil
		}
		select {
		case <-t.done:
			return transport.ErrClosed
		default:
		}
	}
	return fmt.Errorf("no ack after %d tries of %v: %w", t.cfg.ChunkRetries+1, t.cfg.ChunkTimeout, transport.ErrTimeout)
}

// awaitAck waits for the ack of chunk seq, skipping repeated acks of
// earlier chunks, until timeout fires or the transport closes.
func (t *Transport) awaitAck(seq uint64, acks chan ack, timeout <-chan time.Time) (ack, bool) {
	for {
		select {
		case a := <-acks:
			if a.seq == seq {
				return a, true
			}
		case <-timeout:
			return ack{}, false
		case <-t.done:
			return ack{}, false
		}
	}
}

// handleChunk stores a chunk of a snapshot from peer from and acks it.
func (t *Transport) handleChunk(from uint64, b *body) error {
	m, err := t.storeChunk(from, b)
	if m != nil {
		// Raft gets the MsgSnap once its body is committed, and before
		// the sender hears so.
		t.c.SnapshotsReceived.Add(1)
		t.c.Received.Add(1)
		t.cfg.Handler.Receive(m)
	}
	t.sendAck(from, b.Snap, b.Seq, err)
	return err
}

// storeChunk stores the chunk; it returns the stream's MsgSnap when this
// chunk completed and committed it.
func (t *Transport) storeChunk(from uint64, b *body) (*raftpb.Message, error) {
	t.inMu.Lock()
	defer t.inMu.Unlock()
	if t.inClosed {
		return nil, transport.ErrClosed
	}
	s := t.in[from]
	if s == nil || s.snap != b.Snap {
		if b.Seq != 0 {
			return nil, fmt.Errorf("chunk %d of snapshot %d, which this node is not receiving: %w", b.Seq, b.Snap, transport.ErrSnapshotTruncated)
		}
		if s != nil && !s.done {
			s.sink.Abort() // the sender gave up on it and started anew
		}
		delete(t.in, from)
		m, err := t.decode(b.M, from)
		if err != nil {
			return nil, err
		}
		if m.GetType() != raftpb.MsgSnap {
			return nil, fmt.Errorf("snapshot stream for a %s message: %w", m.GetType(), transport.ErrCorrupt)
		}
		sink, err := t.cfg.Handler.ReceiveSnapshot(m)
		if err != nil {
			return nil, err
		}
		s = &stream{snap: b.Snap, m: m, sink: sink}
		t.in[from] = s
	}
	s.lastAt = time.Now()
	switch {
	case s.done:
		return nil, s.lastErr // a repeat of the last chunk: the same answer
	case b.Seq < s.next:
		return nil, nil // a repeat: stored already
	}
	fail := func(err error) (*raftpb.Message, error) {
		s.sink.Abort()
		s.done, s.lastErr = true, err
		return nil, err
	}
	if b.Seq > s.next {
		// The sender waits for each ack, so a gap means it moved on
		// without one: the stream cannot be completed.
		return fail(fmt.Errorf("chunk %d of snapshot %d, expected %d: %w", b.Seq, b.Snap, s.next, transport.ErrSnapshotTruncated))
	}
	s.next++
	s.size += uint64(len(b.Data))
	s.crc = crc32.Update(s.crc, link.Castagnoli, b.Data)
	if _, err := s.sink.Write(b.Data); err != nil {
		return fail(err)
	}
	if !b.Last {
		return nil, nil
	}
	if b.Size != s.size || b.CRC != s.crc {
		return fail(fmt.Errorf("received %d bytes with CRC-32C %08x, sender sent %d with %08x: %w",
			s.size, s.crc, b.Size, b.CRC, transport.ErrSnapshotChecksum))
	}
	s.done = true
	if err := s.sink.Commit(); err != nil {
		s.lastErr = err
		return nil, err
	}
	return s.m, nil
}

func (t *Transport) sendAck(to, snap, seq uint64, err error) {
	line := t.appendHead(nil, to, TypeSnapshotAck)
	line = append(line, `,"snap":`...)
	line = strconv.AppendUint(line, snap, 10)
	line = append(line, `,"seq":`...)
	line = strconv.AppendUint(line, seq, 10)
	if err == nil {
		line = append(line, `,"ok":true}}`+"\n"...)
	} else {
		msg, _ := json.Marshal(err.Error())
		line = append(line, `,"ok":false,"error":`...)
		line = append(line, msg...)
		line = append(line, "}}\n"...)
	}
	t.enqueue(item{line: line, to: to})
}

// janitor aborts incoming streams that went idle, until Close.
func (t *Transport) janitor() {
	defer t.wg.Done()
	tick := time.NewTicker(max(t.cfg.IdleTimeout/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case now := <-tick.C:
			t.inMu.Lock()
			for from, s := range t.in {
				if now.Sub(s.lastAt) < t.cfg.IdleTimeout {
					continue
				}
				if !s.done {
					s.sink.Abort()
					t.log.Warn("raft snapshot stream abandoned", "peer", transport.NodeName(from), "bytes", s.size)
				}
				delete(t.in, from)
			}
			t.inMu.Unlock()
		}
	}
}
