package node

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// How the node stops (see Run):
//
// The reader reads the input through an inGate. Before every read of the
// input, which may wait, the gate makes the reader hand over the requests it
// has parsed, so that a request never waits in the reader for input that may
// not come. When the node is stopping, the gate reads no more: the reader
// parses what it has already read, hands it over and ends, as at the end of
// the input. A read in flight
// at that moment is interrupted with a read deadline in the past when the
// input supports one (a pipe opened for polling, a net.Conn); its bytes, if
// it returned any, are parsed like any others. When the input has no
// deadlines, the read in flight is abandoned: everything read before it has
// been handed over already.
//
// Replies go out through a replyOut, which writes each batch's replies from
// a goroutine of its own, one batch at a time, so that a stopping node can
// give up on an output that nobody reads instead of waiting forever.

// DefaultStopTimeout is how long in total a stopping node waits for its
// output to take replies when Config.StopTimeout is zero.
const DefaultStopTimeout = 5 * time.Second

// ErrOutputBlocked reports that the node stopped without writing every
// reply: its output took none for Config.StopTimeout after the stop. The
// changes of the unanswered requests that were flushed are durable; they
// were just not acknowledged.
var ErrOutputBlocked = errors.New("output blocked")

// inGate is the input as the reader sees it.
type inGate struct {
	r io.Reader
	// handOver passes the reader's parsed requests on; it is called by the
	// reader's goroutine before every read of r.
	handOver func()

	mu       sync.Mutex
	stopping bool
	reading  bool          // a read of r is in flight
	parked   chan struct{} // closed when stop abandons a read in flight
}

func newInGate(r io.Reader) *inGate {
	return &inGate{r: r, parked: make(chan struct{})}
}

// Read reads from the input unless the node is stopping: then it returns
// io.EOF, so that the framer treats what it holds as the end of the input
// (a message cut short by the stop is skipped with a WARN line).
func (g *inGate) Read(p []byte) (int, error) {
	if g.handOver != nil {
		g.handOver()
	}
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		return 0, io.EOF
	}
	g.reading = true
	g.mu.Unlock()

	n, err := g.r.Read(p)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.reading = false
	select {
	case <-g.parked:
		// The node went on without this read; nobody takes what it read.
		return 0, io.EOF
	default:
	}
	if g.stopping && errors.Is(err, os.ErrDeadlineExceeded) {
		err = io.EOF
	}
	return n, err
}

// stop makes the gate read no more. It returns a channel that is closed if
// a read in flight could not be interrupted: then every request read
// before it has been handed over, and the reader will hand over no more.
func (g *inGate) stop() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopping = true
	if !g.reading {
		return g.parked // the reader stops at its next read
	}
	type deadliner interface{ SetReadDeadline(time.Time) error }
	if d, ok := g.r.(deadliner); ok && d.SetReadDeadline(time.Now()) == nil {
		return g.parked // the read in flight returns now
	}
	close(g.parked)
	return g.parked
}

// replyOut writes replies to the output from a goroutine of its own, one
// batch at a time: Write copies the batch and returns once the previous
// batch is written. Once stopping is closed, it waits for the output for
// at most budget in total and then fails with ErrOutputBlocked.
type replyOut struct {
	w        io.Writer
	stopping <-chan struct{}
	budget   time.Duration

	todo    chan []byte
	done    chan writeResult
	busy    bool   // a batch is being written
	spare   []byte // the buffer of the last written batch, for reuse
	last    []byte // the batch being written, to count what was lost
	err     error  // the first write error, sticky
	started bool
}

type writeResult struct {
	buf []byte
	err error
}

func newReplyOut(w io.Writer, stopping <-chan struct{}, budget time.Duration) *replyOut {
	return &replyOut{w: w, stopping: stopping, budget: budget,
		todo: make(chan []byte), done: make(chan writeResult, 1)}
}

func (o *replyOut) loop() {
	for buf := range o.todo {
		_, err := o.w.Write(buf)
		o.done <- writeResult{buf, err}
	}
}

// Write hands p to the writing goroutine once the previous batch is out.
func (o *replyOut) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, o.err
	}
	if err := o.wait(); err != nil {
		return 0, err
	}
	if !o.started {
		o.started = true
		go o.loop()
	}
	buf := append(o.spare[:0], p...)
	o.spare = nil
	o.busy, o.last = true, buf
	o.todo <- buf
	return len(p), nil
}

// wait waits until no batch is being written.
func (o *replyOut) wait() error {
	if !o.busy || o.err != nil {
		return o.err
	}
	select {
	case r := <-o.done:
		return o.finish(r)
	default:
	}
	select {
	case r := <-o.done:
		return o.finish(r)
	case <-o.stopping:
	}
	start := time.Now()
	t := time.NewTimer(max(o.budget, 0))
	defer t.Stop()
	select {
	case r := <-o.done:
		o.budget -= time.Since(start)
		return o.finish(r)
	case <-t.C:
		o.budget = 0
		o.err = ErrOutputBlocked
		return o.err
	}
}

func (o *replyOut) finish(r writeResult) error {
	o.busy, o.spare, o.last = false, r.buf, nil
	if r.err != nil && o.err == nil {
		o.err = r.err
	}
	return o.err
}

// close waits for the last batch to be written and returns the first
// error; the writing goroutine ends unless it is stuck in a write.
func (o *replyOut) close() error {
	err := o.wait()
	if !o.busy && o.started {
		close(o.todo)
	}
	return err
}

// unwritten counts the replies of the batch still being written, which
// may or may not have reached the output.
func (o *replyOut) unwritten() int {
	if !o.busy {
		return 0
	}
	return bytes.Count(o.last, []byte{'\n'})
}
