// Package node is the Maelstrom protocol side of the offsets node: it reads
// JSON messages from an input stream, answers them on an output stream, and
// keeps offsets through the Offsets interface, knowing nothing of storage.
//
// Requests are handled in batches (group commit): the node takes every
// request already parsed, up to MaxBatch, applies them in order, calls
// Offsets.Flush once to make the changes durable, and only then writes the
// batch's replies, in request order. A reply therefore never shows state
// that is not durable. If Flush fails, the batch's requests that change
// state are answered with error 13 and its reads are answered again from
// the state the store rolled back to, the durable one; reads go on being
// served while writes fail. A run of failed writes is logged once when it
// starts and once when writes succeed again, with the requests refused.
package node

import (
	"bytes"
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
	// CheckCommit reports, with an error wrapping consumeroffsets.ErrLimit,
	// whether committing the keys to group would pass a limit; it stages
	// nothing.
	CheckCommit(group []byte, keys []consumeroffsets.Key) error
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
	// Pending is the number of staged changes a Flush would write.
	Pending() int
	// Flush makes every staged change durable, or rolls them all back; with
	// nothing staged it returns nil. An error wrapping
	// consumeroffsets.ErrNoSpace means later writes are retried; any other
	// means they will fail until a restart.
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
	// Observer receives request counts (the metrics package's); may be nil.
	Observer Observer
	// StopTimeout bounds how long in total a stopping node waits for out
	// to take its replies. Zero means DefaultStopTimeout.
	StopTimeout time.Duration

	// Work, if set, carries functions the serving goroutine runs between
	// batches, when nothing is staged in the store: a replicated store
	// applies the entries other members committed through it, on the
	// goroutine that owns the store.
	Work <-chan func()
	// Status, if set, answers cluster_status; without it the node reports
	// itself as the leader of a cluster of one.
	Status func() ClusterStatus
	// Route, if set, sees every message read from the input, on the
	// reader's goroutine, before it is parsed; when it returns true the
	// node leaves the message to it (a cluster member forwards it to the
	// leader, or hands a transport message to the transport). A message
	// with a lone UTF-16 surrogate escape is never routed: the node
	// refuses it itself.
	Route func(msg []byte) bool
	// Inject, if set, carries whole messages that the node serves as if
	// read from its input (a leader serves requests forwarded by
	// followers); they are not routed.
	Inject <-chan []byte
}

// ClusterStatus is a member's view of its cluster, as cluster_status
// reports it.
type ClusterStatus struct {
	// Role is "leader", "follower", "candidate" or "pre-candidate".
	Role string
	// Term is the raft term; Leader the leader's node id, "" if none is
	// known.
	Term   uint64
	Leader string
	// Commit and Applied are the highest log index known committed and
	// the highest applied.
	Commit, Applied uint64
}

// ReplyError is an error an Offsets' Flush returns to choose the reply of
// every request of the failed batch, reads included: a replicated store
// whose batch was not committed answers 11 (definitely not applied) or 0
// (outcome unknown), and its reads, computed before the batch was known
// to be current, are not served either.
type ReplyError struct {
	Code int
	Err  error
}

func (e *ReplyError) Error() string { return e.Err.Error() }
func (e *ReplyError) Unwrap() error { return e.Err }

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
	counts    Counts                // this batch's requests, for cfg.Observer
	keys      []consumeroffsets.Key // scratch for checkLimits
	// expired holds the groups the batch's staged expiry removes, logged
	// once the batch is durable.
	expired []consumeroffsets.ExpiredGroup

	// The batch's requests refused because the store could not write, and
	// why; the run of failed writes they belong to, nil while writes work.
	refused  int
	writeErr error
	failure  *writeFailure
}

// writeFailure is a run of failed log writes: logged when it starts, and
// when writes work again, not once per batch.
type writeFailure struct {
	final   bool // not retried: a restart is needed
	since   time.Time
	refused int
}

// Run serves the messages on in until in ends or ctx is cancelled, writing
// replies to out, and returns nil once it has closed the store.
//
// When ctx is cancelled Run reads no more input, and answers every request
// it has read before it returns: those parsed and those still in its input
// buffer (a message cut short by the stop is skipped with a WARN line, as
// at the end of the input). A read of in in
// flight at that moment is interrupted if in has a SetReadDeadline method
// that works (an *os.File of a pipe in non-blocking mode, a net.Conn), and
// abandoned otherwise. Once ctx is cancelled Run waits for out for at most
// Config.StopTimeout in total; if out takes no replies for that long, Run
// closes the store and returns an error wrapping ErrOutputBlocked. Either
// way a reply is only written after its changes are durable.
//
// Run returns an error when the store cannot be opened or out cannot be
// written.
func Run(ctx context.Context, in io.Reader, out io.Writer, cfg Config) error {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 4096
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
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
	gate := newInGate(in)
	readErr := make(chan error, 1)
	readDone := make(chan struct{})
	injected := make(chan struct{})
	if cfg.Inject != nil {
		go func() {
			defer close(injected)
			n.readInjected(cfg.Inject, full, free, readDone)
		}()
	}
	go func() {
		readErr <- n.read(gate, full, free)
		if cfg.Inject != nil {
			close(readDone)
			<-injected
		}
		close(full) // after the error is sent, so that serve's end sees it
	}()

	w := newReplyOut(out, ctx.Done(), cfg.StopTimeout)
	err := n.serve(ctx, w, full, free, gate)
	lost := 0
	if errors.Is(err, ErrOutputBlocked) {
		lost = bytes.Count(n.out.buf, []byte{'\n'}) // the batch Write refused
	}
	if werr := w.close(); werr != nil && err == nil {
		err = fmt.Errorf("write replies: %w", werr)
	}
	if errors.Is(err, ErrOutputBlocked) {
		n.log.Warn("stopping without writing every reply: the output took none for the stop timeout",
			"stop_timeout", cfg.StopTimeout, "replies_unwritten", lost+w.unwritten())
	}
	if n.store != nil {
		if cerr := n.store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}
	if err == nil {
		select {
		case rerr := <-readErr: // sent before full was closed
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				err = fmt.Errorf("read input: %w", rerr)
			}
		default: // the read in flight at the stop was abandoned
		}
	}
	return err
}

// read parses input into chunks until in ends or the node stops. It hands
// a chunk over when it is full and before every read of in (see inGate).
func (n *Node) read(in *inGate, full chan<- *chunk, free <-chan *chunk) error {
	c := <-free
	c.reqs, c.arena = c.reqs[:0], c.arena[:0]
	handOver := func() {
		if len(c.reqs) == 0 {
			return
		}
		full <- c
		c = <-free
		c.reqs, c.arena = c.reqs[:0], c.arena[:0]
	}
	in.handOver = handOver
	f := newFramer(in, func(reason string, line int, text []byte) {
		n.log.Warn("skipping input", "line", line, "reason", reason, "input", preview(text))
	})
	var ps parser
	for {
		msg, err := f.next()
		if err != nil {
			handOver()
			return err
		}
		if n.cfg.Route != nil && !f.lone && n.cfg.Route(msg) {
			continue
		}
		c.reqs = append(c.reqs, request{})
		r := &c.reqs[len(c.reqs)-1]
		if perr := ps.parse(msg, f.lone, r, &c.arena); perr != nil {
			c.reqs = c.reqs[:len(c.reqs)-1]
			n.log.Warn("skipping input", "line", f.msgLine, "reason", perr.Error(), "input", preview(msg))
			continue
		}
		if len(c.reqs) == chunkSize {
			handOver()
		}
	}
}

// readInjected parses the messages of Config.Inject into chunks, until
// the input reader is done.
func (n *Node) readInjected(inject <-chan []byte, full chan<- *chunk, free chan *chunk, done <-chan struct{}) {
	var ps parser
	for {
		var msg []byte
		select {
		case msg = <-inject:
		case <-done:
			return
		}
		var c *chunk
		select {
		case c = <-free:
		case <-done:
			return
		}
		c.reqs, c.arena = c.reqs[:0], c.arena[:0]
		for more := true; more; {
			c.reqs = append(c.reqs, request{})
			if err := ps.parse(msg, false, &c.reqs[len(c.reqs)-1], &c.arena); err != nil {
				c.reqs = c.reqs[:len(c.reqs)-1]
				n.log.Warn("skipping injected input", "reason", err.Error(), "input", preview(msg))
			}
			more = false
			if len(c.reqs) < chunkSize {
				select {
				case msg = <-inject:
					more = true
				default:
				}
			}
		}
		if len(c.reqs) == 0 {
			free <- c
			continue
		}
		select {
		case full <- c:
		case <-done:
			return
		}
	}
}

// serve runs batches until the reader is done, or ctx is cancelled and
// every request read is answered. A batch holds at most MaxBatch requests:
// it may end inside a chunk, whose rest starts the next batch.
func (n *Node) serve(ctx context.Context, out io.Writer, full <-chan *chunk, free chan<- *chunk, in *inGate) error {
	var tick <-chan time.Time
	if n.cfg.ExpireEvery > 0 {
		t := time.NewTicker(n.cfg.ExpireEvery)
		defer t.Stop()
		tick = t.C
	}
	stop := ctx.Done()
	var parked <-chan struct{}
	var (
		views  []chunk  // the batch's runs of requests
		batch  []*chunk // pointers to views, as runBatch takes them
		served []*chunk // chunks the batch finishes, to hand back after it
		carry  *chunk   // a chunk whose requests from carryAt on are not served yet
	)
	carryAt := 0
	for {
		if n.cfg.Work != nil {
			n.runWork()
		}
		if carry == nil {
			select {
			case f := <-n.cfg.Work:
				f()
				continue
			case <-stop:
				stop, tick = nil, nil
				parked = in.stop()
				continue
			case <-parked:
				// The reader is stuck in a read and has handed over
				// everything it read before: serve what is left, then stop.
				select {
				case c, ok := <-full:
					if !ok {
						return nil
					}
					carry, carryAt = c, 0
				default:
					return nil
				}
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
				carry, carryAt = c, 0
			}
		}
		views, batch, served = views[:0], batch[:0], served[:0]
		count := 0
		for carry != nil && count < n.cfg.MaxBatch {
			k := min(len(carry.reqs)-carryAt, n.cfg.MaxBatch-count)
			views = append(views, chunk{reqs: carry.reqs[carryAt : carryAt+k]})
			count += k
			if carryAt += k; carryAt < len(carry.reqs) {
				break
			}
			served = append(served, carry)
			carry = nil
			if count < n.cfg.MaxBatch {
				select {
				case c, ok := <-full:
					if ok {
						carry, carryAt = c, 0
					}
				default:
				}
			}
		}
		for i := range views {
			batch = append(batch, &views[i])
		}
		if err := n.runBatch(batch, out); err != nil {
			return err
		}
		for _, c := range served {
			free <- c
		}
	}
}

// runWork runs the work already queued on Config.Work.
func (n *Node) runWork() {
	for {
		select {
		case f := <-n.cfg.Work:
			f()
		default:
			return
		}
	}
}

// runBatch handles a batch, flushes the store, and writes the replies.
func (n *Node) runBatch(batch []*chunk, out io.Writer) error {
	startID := n.out.msgID
	n.out.buf = n.out.buf[:0]
	var openErr error
	preInit := 0 // requests answered before the batch's init opened the store
	for _, c := range batch {
		for i := range c.reqs {
			closed := n.store == nil
			if err := n.handle(&c.reqs[i], nil); err != nil {
				openErr = err
				break
			}
			if closed && n.store == nil {
				preInit++
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
		pending := n.store.Pending()
		if err := n.store.Flush(); err != nil {
			// Nothing of this batch's changes is durable and the store has
			// rolled them back: answer again, with error 13 for the requests
			// that change state and from the rolled-back state for reads,
			// since a read may have seen a staged change.
			n.out.buf, n.out.msgID = n.out.buf[:0], startID
			n.counts.reset()
			n.refused, n.writeErr, n.expired = 0, err, n.expired[:0]
			for _, c := range batch {
				for i := range c.reqs {
					if preInit > 0 {
						// Sent before the init that opened the store: answered
						// as the first time, as to a node not initialized.
						preInit--
						store, id := n.store, n.nodeID
						n.store, n.nodeID = nil, nil
						n.handle(&c.reqs[i], err)
						n.store, n.nodeID = store, id
						continue
					}
					if n.handle(&c.reqs[i], err) != nil {
						break
					}
				}
			}
		}
		var coded *ReplyError
		if !errors.As(n.writeErr, &coded) {
			n.noteWrites(pending > 0 && n.writeErr == nil)
		}
		n.refused, n.writeErr = 0, nil
		n.logExpired()
	}
	n.observe() // before the replies, so that a client that saw one sees it counted
	if _, err := out.Write(n.out.buf); err != nil {
		return fmt.Errorf("write replies: %w", err)
	}
	return openErr
}

// handle answers one request into n.out. With failed non-nil, requests that
// change state are answered with error 13 citing it, and reads are served.
// It returns an error only when init cannot open the store, which ends the
// node.
func (n *Node) handle(r *request, failed error) error {
	n.out.lastCode = 0
	defer n.count(r)
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
	case failed != nil && r.kind != kindClusterStatus && errors.As(failed, new(*ReplyError)):
		var coded *ReplyError
		errors.As(failed, &coded)
		n.out.errorReply(src, r.src, r.msgID, coded.Code, coded.Error())
	case failed != nil && changesState(r.kind):
		code, text := n.refuse(failed)
		n.out.errorReply(src, r.src, r.msgID, code, text)
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
		if code, text := n.checkLimits(r); code != 0 {
			return code, text
		}
		if code, text := n.fence(r); code != 0 {
			return code, text
		}
		if err := n.store.Commit(r.group, r.topic, r.partition, r.offset, r.metadata); err != nil {
			return n.refuse(err)
		}
		n.out.begin(src, r.src, "commit_offset_ok", r.msgID)
	case kindCommitBatch:
		if code, text := n.checkLimits(r); code != 0 {
			return code, text
		}
		if code, text := n.fence(r); code != 0 {
			return code, text
		}
		for _, e := range r.entries {
			if err := n.store.Commit(r.group, e.topic, e.partition, e.offset, e.metadata); err != nil {
				return n.refuse(err)
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
			return n.refuse(err)
		}
		n.out.begin(src, r.src, "delete_offsets_ok", r.msgID)
		n.out.intField("deleted", int64(k))
	case kindDeleteGroup:
		k, err := n.store.DeleteGroup(r.group)
		if err != nil {
			return n.refuse(err)
		}
		n.out.begin(src, r.src, "delete_group_ok", r.msgID)
		n.out.intField("deleted", int64(k))
	case kindClusterStatus:
		n.clusterStatus(src, r)
	}
	n.out.end()
	return 0, ""
}

// clusterStatus writes the reply to cluster_status; a node without a
// cluster is the leader of its own.
func (n *Node) clusterStatus(src []byte, r *request) {
	st := ClusterStatus{Role: "leader", Leader: string(n.nodeID)}
	if n.cfg.Status != nil {
		st = n.cfg.Status()
	}
	n.out.begin(src, r.src, "cluster_status_ok", r.msgID)
	n.out.stringField("role", []byte(st.Role))
	n.out.intField("term", int64(st.Term))
	if st.Leader == "" {
		n.out.rawField("leader", "null")
	} else {
		n.out.stringField("leader", []byte(st.Leader))
	}
	n.out.intField("commit", int64(st.Commit))
	n.out.intField("applied", int64(st.Applied))
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
		return n.refuse(err)
	}
	return 0, ""
}

// changesState reports whether a request of kind k writes to the log.
func changesState(k kind) bool {
	switch k {
	case kindCommit, kindCommitBatch, kindDeleteOffsets, kindDeleteGroup:
		return true
	}
	return false
}

// refuse counts a request refused because the store cannot write and
// returns the code and text of its reply.
func (n *Node) refuse(err error) (int, string) {
	n.refused++
	n.writeErr = err
	return CodeCrash, "not durable: " + err.Error()
}

// noteWrites logs the start of a run of failed writes (or a change from
// retried to final), and its end when wrote says this batch's Flush wrote
// and synced an entry, with the requests refused meanwhile.
func (n *Node) noteWrites(wrote bool) {
	err := n.writeErr
	switch {
	case err != nil:
		final := !errors.Is(err, consumeroffsets.ErrNoSpace)
		if f := n.failure; f == nil || f.final != final {
			attrs := []any{"err", err, "refused", n.refused}
			if f != nil {
				attrs = append(attrs, "refused_before", f.refused)
			}
			if final {
				n.log.Error("log write failed: requests that change state get error 13 until the node is restarted; reads are served", attrs...)
			} else {
				n.log.Error("disk full: requests that change state get error 13 while writes are retried; reads are served",
					append(attrs, "first_retry_after", consumeroffsets.RetryBackoff)...)
			}
			n.failure = &writeFailure{final: final, since: time.Now()}
		}
		n.failure.refused += n.refused
	case wrote && n.failure != nil:
		n.log.Info("log writes resumed", "refused", n.failure.refused,
			"after", time.Since(n.failure.since).Round(time.Millisecond))
		n.failure = nil
	}
	n.refused, n.writeErr = 0, nil
}

// expire stages the expiry of abandoned groups' offsets; the batch's Flush
// makes it durable, and logExpired logs a line per group once it is.
func (n *Node) expire() {
	groups, err := n.store.ExpireOffsets()
	if err != nil {
		n.log.Error("offset expiry failed", "err", err)
		return
	}
	n.expired = append(n.expired, groups...)
}

// logExpired logs the groups whose expiry the batch made durable.
func (n *Node) logExpired() {
	for _, g := range n.expired {
		n.log.Info("expired group offsets", "group", g.Group, "offsets", g.Offsets,
			"newest_commit", g.NewestCommit.UTC().Format(time.RFC3339Nano))
	}
	n.expired = n.expired[:0]
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
