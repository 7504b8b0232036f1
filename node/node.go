// Package node is the Maelstrom protocol side of the offsets node: it reads
// JSON messages from an input stream, answers them on an output stream, and
// keeps offsets through the Offsets interface, knowing nothing of storage.
//
// Requests are handled in batches (group commit): the node takes every
// request already parsed, up to MaxBatch, applies them in order, calls
// Offsets.Flush once to make the changes durable, and only then writes the
// batch's replies, in request order. A reply therefore never shows state
// that is not durable; if Flush fails, the batch's commits and fetches are
// answered with error 13 instead.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
)

// Offsets is the store the node keeps offsets in. consumeroffsets.Store
// implements it.
type Offsets interface {
	// Commit stages a commit of an offset with its metadata.
	Commit(group, topic []byte, partition int32, offset int64, metadata []byte) error
	// Fetch returns the key's offset, staged changes included.
	Fetch(group, topic []byte, partition int32) (consumeroffsets.Committed, bool)
	// Generation returns the highest generation the group accepted.
	Generation(group []byte) (int32, bool)
	// SetGeneration stages raising the group's generation.
	SetGeneration(group []byte, generation int32) error
	// FetchGroup visits the group's offsets sorted by topic, then partition;
	// only the given topics when topics is non-nil.
	FetchGroup(group []byte, topics [][]byte, fn func(topic string, partition int32, c consumeroffsets.Committed))
	// Groups returns the groups with a live offset, sorted.
	Groups() []string
	// DeleteOffsets stages deleting partitions of a topic (all when nil).
	DeleteOffsets(group, topic []byte, partitions []int32) (int, error)
	// DeleteGroup stages deleting the group's offsets and generation.
	DeleteGroup(group []byte) (int, error)
	// ExpireOffsets stages expiring the offsets of abandoned groups.
	ExpireOffsets() ([]consumeroffsets.ExpiredGroup, error)
	// Flush makes every staged change durable, or rolls them all back.
	Flush() error
	// Close releases the store.
	Close() error
}

// Config wires a node.
type Config struct {
	// Open opens the store for the node_id that init names.
	Open func(nodeID string) (Offsets, error)
	// Logger receives structured log lines. Nil means slog.Default().
	Logger *slog.Logger
	// MaxBatch bounds the requests covered by one Flush. Zero means 4096.
	MaxBatch int
	// ExpireEvery is how often offset retention is checked while running,
	// besides right after init. Zero means only after init.
	ExpireEvery time.Duration
}

// chunkSize is how many requests the reader hands over at once at most.
const chunkSize = 256

// chunk is a run of parsed requests and the arena their bytes live in.
type chunk struct {
	reqs  []request
	arena []byte
}

// Node is one Maelstrom node. Use Run.
type Node struct {
	cfg    Config
	log    *slog.Logger
	store  Offsets
	nodeID []byte
	out    replyWriter
	// expireDue asks the next batch to expire abandoned groups' offsets.
	expireDue bool
}

// Run serves the messages on in until in ends or ctx is cancelled, writing
// replies to out. Either way it finishes the batch in hand, flushes, closes
// the store and returns nil. It returns an error when the store cannot be
// opened or out cannot be written.
func Run(ctx context.Context, in io.Reader, out io.Writer, cfg Config) error {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 4096
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	if n.log == nil {
		n.log = slog.Default()
	}
	full := make(chan *chunk, 4)
	free := make(chan *chunk, 8)
	for i := 0; i < cap(free); i++ {
		free <- &chunk{reqs: make([]request, 0, chunkSize)}
	}
	readErr := make(chan error, 1)
	go func() { readErr <- n.read(in, full, free) }()

	err := n.serve(ctx, out, full, free)
	if n.store != nil {
		if cerr := n.store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}
	if err == nil {
		select {
		case rerr := <-readErr:
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				err = fmt.Errorf("read input: %w", rerr)
			}
		default: // cancelled while the reader waits on input
		}
	}
	return err
}

// read parses input into chunks until in ends.
func (n *Node) read(in io.Reader, full chan<- *chunk, free <-chan *chunk) error {
	defer close(full)
	f := newFramer(in, func(reason string, line int, text []byte) {
		n.log.Warn("skipping input", "line", line, "reason", reason, "input", preview(text))
	})
	var ps parser
	c := <-free
	// Before waiting for input, hand over what was read so that it is
	// served now.
	f.wait = func() {
		if len(c.reqs) > 0 {
			full <- c
			c = <-free
			c.reqs, c.arena = c.reqs[:0], c.arena[:0]
		}
	}
	for {
		msg, err := f.next()
		if err != nil {
			if len(c.reqs) > 0 {
				full <- c
			}
			return err
		}
		c.reqs = append(c.reqs, request{})
		r := &c.reqs[len(c.reqs)-1]
		if perr := ps.parse(msg, f.lone, r, &c.arena); perr != nil {
			c.reqs = c.reqs[:len(c.reqs)-1]
			n.log.Warn("skipping input", "line", f.msgLine, "reason", perr.Error(), "input", preview(msg))
			continue
		}
		if len(c.reqs) == chunkSize {
			full <- c
			c = <-free
			c.reqs, c.arena = c.reqs[:0], c.arena[:0]
		}
	}
}

// serve runs batches until the reader is done or ctx is cancelled.
func (n *Node) serve(ctx context.Context, out io.Writer, full <-chan *chunk, free chan<- *chunk) error {
	var batch []*chunk
	var tick <-chan time.Time
	if n.cfg.ExpireEvery > 0 {
		t := time.NewTicker(n.cfg.ExpireEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if n.store != nil {
				n.expireDue = true
				if err := n.runBatch(nil, out); err != nil {
					return err
				}
			}
			continue
		case c, ok := <-full:
			if !ok {
				return nil
			}
			batch = append(batch, c)
		}
		count := len(batch[0].reqs)
	more:
		for count < n.cfg.MaxBatch {
			select {
			case c, ok := <-full:
				if !ok {
					break more
				}
				batch = append(batch, c)
				count += len(c.reqs)
			default:
				break more
			}
		}
		if err := n.runBatch(batch, out); err != nil {
			return err
		}
		for _, c := range batch {
			free <- c
		}
	}
}

// runBatch handles a batch, flushes the store, and writes the replies.
func (n *Node) runBatch(batch []*chunk, out io.Writer) error {
	startID := n.out.msgID
	n.out.buf = n.out.buf[:0]
	var openErr error
	for _, c := range batch {
		for i := range c.reqs {
			if err := n.handle(&c.reqs[i], nil); err != nil {
				openErr = err
				break
			}
		}
		if openErr != nil {
			break
		}
	}
	if n.store != nil && n.expireDue {
		n.expireDue = false
		n.expire()
	}
	if n.store != nil {
		if err := n.store.Flush(); err != nil {
			// Nothing of this batch's changes is durable and the store has
			// rolled them back: answer again, with error 13 for the requests
			// that touched the store.
			n.log.Error("log write failed; the batch is answered with error 13", "err", err)
			n.out.buf, n.out.msgID = n.out.buf[:0], startID
			for _, c := range batch {
				for i := range c.reqs {
					if n.handle(&c.reqs[i], err) != nil {
						break
					}
				}
			}
		}
	}
	if _, err := out.Write(n.out.buf); err != nil {
		return fmt.Errorf("write replies: %w", err)
	}
	return openErr
}

// handle answers one request into n.out. With failed non-nil, requests that
// use the store are answered with error 13 citing it. It returns an error
// only when init cannot open the store, which ends the node.
func (n *Node) handle(r *request, failed error) error {
	src := n.nodeID
	if src == nil {
		src = r.dest // before init the node has no name of its own
	}
	switch {
	case n.store == nil && string(r.typ) != "init":
		n.out.errorReplyTo(src, r, CodeTemporarilyUnavailable, "node not initialized: send init first")
	case r.kind == kindInvalid:
		n.out.errorReplyTo(src, r, r.errCode, r.errText)
	case r.kind == kindInit:
		return n.init(r)
	case failed != nil:
		n.out.errorReply(src, r.src, r.msgID, CodeCrash, "not durable: "+failed.Error())
	default:
		if code, text := n.apply(src, r); code != 0 {
			n.out.errorReply(src, r.src, r.msgID, code, text)
		}
	}
	return nil
}

// apply runs a request against the store and writes its reply, or returns
// the error code and text to reply with instead.
func (n *Node) apply(src []byte, r *request) (int, string) {
	switch r.kind {
	case kindCommit:
		if code, text := n.fence(r); code != 0 {
			return code, text
		}
		if err := n.store.Commit(r.group, r.topic, r.partition, r.offset, r.metadata); err != nil {
			return CodeCrash, err.Error()
		}
		n.out.begin(src, r.src, "commit_offset_ok", r.msgID)
	case kindCommitBatch:
		if code, text := n.fence(r); code != 0 {
			return code, text
		}
		for _, e := range r.entries {
			if err := n.store.Commit(r.group, e.topic, e.partition, e.offset, e.metadata); err != nil {
				return CodeCrash, err.Error()
			}
		}
		n.out.begin(src, r.src, "commit_offsets_ok", r.msgID)
	case kindFetch:
		v, _ := n.store.Fetch(r.group, r.topic, r.partition)
		n.out.begin(src, r.src, "fetch_offset_ok", r.msgID)
		n.out.intField("offset", v.Offset)
	case kindFetchGroup:
		n.out.begin(src, r.src, "fetch_offsets_ok", r.msgID)
		n.out.openArray("offsets")
		first := true
		n.store.FetchGroup(r.group, r.topics, func(topic string, p int32, c consumeroffsets.Committed) {
			n.out.offsetObject(first, topic, p, c.Offset, c.Metadata)
			first = false
		})
		n.out.closeArray()
	case kindListGroups:
		n.out.begin(src, r.src, "list_groups_ok", r.msgID)
		n.out.openArray("groups")
		for i, g := range n.store.Groups() {
			n.out.arrayString(i == 0, g)
		}
		n.out.closeArray()
	case kindDeleteOffsets:
		k, err := n.store.DeleteOffsets(r.group, r.topic, r.partitions)
		if err != nil {
			return CodeCrash, err.Error()
		}
		n.out.begin(src, r.src, "delete_offsets_ok", r.msgID)
		n.out.intField("deleted", int64(k))
	case kindDeleteGroup:
		k, err := n.store.DeleteGroup(r.group)
		if err != nil {
			return CodeCrash, err.Error()
		}
		n.out.begin(src, r.src, "delete_group_ok", r.msgID)
		n.out.intField("deleted", int64(k))
	}
	n.out.end()
	return 0, ""
}

// fence refuses a commit from an older generation of the group than one it
// accepted, as Kafka's generation checks stop a zombie consumer; a newer
// generation is accepted and raises the group's.
func (n *Node) fence(r *request) (int, string) {
	if !r.hasGen {
		return 0, ""
	}
	cur, ok := n.store.Generation(r.group)
	if ok && r.generation < cur {
		return CodePreconditionFailed, fmt.Sprintf("generation %d is fenced: the group has moved on to generation %d", r.generation, cur)
	}
	if err := n.store.SetGeneration(r.group, r.generation); err != nil {
		return CodeCrash, err.Error()
	}
	return 0, ""
}

// expire stages the expiry of abandoned groups' offsets and logs a line per
// group; the batch's Flush makes it durable.
func (n *Node) expire() {
	groups, err := n.store.ExpireOffsets()
	if err != nil {
		n.log.Error("offset expiry failed", "err", err)
		return
	}
	for _, g := range groups {
		n.log.Info("expired group offsets", "group", g.Group, "offsets", g.Offsets,
			"newest_commit", g.NewestCommit.UTC().Format(time.RFC3339Nano))
	}
}

// init names the node and opens its store.
func (n *Node) init(r *request) error {
	if n.nodeID != nil {
		if string(r.nodeID) != string(n.nodeID) {
			n.out.errorReply(n.nodeID, r.src, r.msgID, CodePreconditionFailed,
				fmt.Sprintf("already initialized as node %q", n.nodeID))
			return nil
		}
		n.out.begin(n.nodeID, r.src, "init_ok", r.msgID)
		n.out.end()
		return nil
	}
	id := string(r.nodeID)
	if id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		n.out.errorReply(r.dest, r.src, r.msgID, CodeMalformedRequest,
			`field "node_id" must be usable as a directory name (no "/", not "." or "..")`)
		return nil
	}
	store, err := n.cfg.Open(id)
	if err != nil {
		n.out.errorReply(r.dest, r.src, r.msgID, CodeCrash, "cannot open the offsets log: "+err.Error())
		return fmt.Errorf("open store for node %s: %w", id, err)
	}
	n.store = store
	n.nodeID = append([]byte(nil), r.nodeID...)
	n.expire() // retention is checked at start, before any request sees the offsets
	n.out.begin(n.nodeID, r.src, "init_ok", r.msgID)
	n.out.end()
	return nil
}

// preview shortens input for a log line.
func preview(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
