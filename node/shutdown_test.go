package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingStore is a memStore that records how many commits each Flush
// covered, and whether it was closed.
type countingStore struct {
	*memStore
	mu      sync.Mutex
	pending int
	sizes   []int
	closed  bool
}

func newCountingStore() *countingStore { return &countingStore{memStore: newMemStore()} }

func (s *countingStore) Commit(g, t []byte, p int32, off int64, md []byte) error {
	s.pending++
	return s.memStore.Commit(g, t, p, off, md)
}

func (s *countingStore) Flush() error {
	s.mu.Lock()
	s.sizes = append(s.sizes, s.pending)
	s.mu.Unlock()
	s.pending = 0
	return s.memStore.Flush()
}

func (s *countingStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *countingStore) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

const testInit = `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}`

func testCommit(i int) string {
	return fmt.Sprintf(`{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":%d,"group":"g","topic":"t","partition":%d,"offset":%d}}`, i+2, i%100, i)
}

// commits returns init and n commit lines.
func commits(n int) string {
	var b strings.Builder
	b.WriteString(testInit + "\n")
	for i := 0; i < n; i++ {
		b.WriteString(testCommit(i) + "\n")
	}
	return b.String()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestServeMaxBatchExact hands serve ten full chunks at once: every batch
// must cover exactly MaxBatch requests but the last, also when MaxBatch is
// smaller than a chunk or not a multiple of it.
func TestServeMaxBatchExact(t *testing.T) {
	const chunks = 10
	total := chunks * chunkSize // requests, init included
	for _, max := range []int{1, 16, 300, 4096} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			st := newCountingStore()
			full := make(chan *chunk, chunks)
			var ps parser
			for i := 0; i < chunks; i++ {
				c := &chunk{}
				for j := 0; j < chunkSize; j++ {
					line := testInit
					if k := i*chunkSize + j; k > 0 {
						line = testCommit(k)
					}
					c.reqs = append(c.reqs, request{})
					if err := ps.parse([]byte(line), false, &c.reqs[j], &c.arena); err != nil {
						t.Fatal(err)
					}
				}
				full <- c
			}
			close(full)
			free := make(chan *chunk, chunks)
			n := &Node{cfg: Config{MaxBatch: max, Open: func(string) (Offsets, error) { return st, nil }}, log: quiet()}
			var out bytes.Buffer
			if err := n.serve(context.Background(), &out, full, free, newInGate(nil)); err != nil {
				t.Fatal(err)
			}
			if got := bytes.Count(out.Bytes(), []byte{'\n'}); got != total {
				t.Fatalf("%d replies, want %d", got, total)
			}
			if len(free) != chunks {
				t.Fatalf("%d chunks handed back, want %d", len(free), chunks)
			}
			var want []int
			for left := total; left > 0; left -= max {
				want = append(want, min(left, max))
			}
			want[0]-- // the first batch holds init, which commits nothing
			if fmt.Sprint(st.sizes) != fmt.Sprint(want) {
				t.Fatalf("%d flushes covering %v... commits, want %d covering %v...",
					len(st.sizes), st.sizes[:min(5, len(st.sizes))], len(want), want[:min(5, len(want))])
			}
		})
	}
}

// TestRunMaxBatchBound pipes commits through Run: no flush may cover more
// than MaxBatch of them.
func TestRunMaxBatchBound(t *testing.T) {
	const n = 3000
	for _, max := range []int{1, 16, 300} {
		st := newCountingStore()
		var out bytes.Buffer
		err := Run(context.Background(), strings.NewReader(commits(n)), &out, Config{
			MaxBatch: max, Logger: quiet(), Open: func(string) (Offsets, error) { return st, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Count(out.Bytes(), []byte{'\n'}); got != n+1 {
			t.Fatalf("max %d: %d replies, want %d", max, got, n+1)
		}
		sum := 0
		for _, s := range st.sizes {
			if s > max {
				t.Fatalf("max %d: a flush covered %d commits", max, s)
			}
			sum += s
		}
		if sum != n {
			t.Fatalf("max %d: flushes covered %d commits, want %d", max, sum, n)
		}
		if max == 1 && len(st.sizes) != n+1 {
			t.Fatalf("max 1: %d flushes for init and %d commits", len(st.sizes), n)
		}
	}
}

// stdinFake serves data, then blocks in Read until it is closed or, if it
// has deadlines, until SetReadDeadline is called; then it returns onDeadline
// (data that arrived as the deadline fired) before the deadline error.
type stdinFake struct {
	mu         sync.Mutex
	data       []byte
	drained    chan struct{} // closed when the last byte of data is read
	blocked    chan struct{} // closed when a Read waits for more input
	wake       chan struct{}
	onDeadline []byte
	woke       bool
}

func newStdinFake(data string) *stdinFake {
	return &stdinFake{data: []byte(data), drained: make(chan struct{}), blocked: make(chan struct{}), wake: make(chan struct{})}
}

func (f *stdinFake) Read(p []byte) (int, error) {
	f.mu.Lock()
	if len(f.data) > 0 {
		k := copy(p, f.data)
		f.data = f.data[k:]
		if len(f.data) == 0 {
			close(f.drained)
		}
		f.mu.Unlock()
		return k, nil
	}
	if f.woke {
		f.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	select {
	case <-f.blocked:
	default:
		close(f.blocked)
	}
	f.mu.Unlock()
	<-f.wake
	f.mu.Lock()
	defer f.mu.Unlock()
	f.woke = true
	if len(f.onDeadline) > 0 {
		k := copy(p, f.onDeadline)
		f.onDeadline = f.onDeadline[k:]
		return k, nil
	}
	return 0, os.ErrDeadlineExceeded
}

// deadlineFake is a stdinFake with read deadlines.
type deadlineFake struct{ *stdinFake }

func (f deadlineFake) SetReadDeadline(time.Time) error {
	close(f.wake)
	return nil
}

// gatedWriter takes nothing until open is closed.
type gatedWriter struct {
	open    chan struct{}
	waiting chan struct{} // closed when a Write waits for open
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{open: make(chan struct{}), waiting: make(chan struct{})}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.waiting) })
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) lines() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Count(w.buf.Bytes(), []byte{'\n'})
}

// TestStopAnswersEveryRequestRead stops the node while its output is
// blocked and it has read 3000 commits it has not answered, most of them
// parsed in chunks or still in its input buffer: once the output takes
// replies again, every one of them is answered.
func TestStopAnswersEveryRequestRead(t *testing.T) {
	const n = 3000
	in := newStdinFake(commits(n))
	defer close(in.wake)
	out := newGatedWriter()
	st := newCountingStore()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, in, out, Config{Logger: quiet(), StopTimeout: time.Hour,
			Open: func(string) (Offsets, error) { return st, nil }})
	}()
	<-in.drained
	<-out.waiting
	cancel()
	close(out.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := out.lines(); got != n+1 {
		t.Fatalf("%d replies to %d requests read", got, n+1)
	}
	if !st.isClosed() {
		t.Fatal("store not closed")
	}
}

// TestStopInterruptsRead stops the node while it waits in a read of an
// input with deadlines, whose read returns one more commit as it is
// interrupted: that commit is answered too. Without deadlines the read is
// abandoned and Run returns all the same.
func TestStopInterruptsRead(t *testing.T) {
	for _, deadlines := range []bool{true, false} {
		const n = 500
		fake := newStdinFake(commits(n))
		var in io.Reader = fake
		want := n + 1
		if deadlines {
			// One more commit, and one cut short by the stop.
			fake.onDeadline = []byte(testCommit(n) + "\n" + testCommit(n + 1)[:40])
			in = deadlineFake{fake}
			want++
		} else {
			defer close(fake.wake)
		}
		outR, outW := io.Pipe()
		st := newCountingStore()
		var logs lockedLog
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, in, outW, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				Open: func(string) (Offsets, error) { return st, nil }})
			outW.Close()
		}()
		sc := bufio.NewScanner(outR)
		got := 0
		for got < n+1 && sc.Scan() {
			got++
		}
		<-fake.blocked
		cancel()
		for sc.Scan() {
			got++
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("deadlines %v: %d replies, want %d", deadlines, got, want)
		}
		if warned := strings.Contains(logs.String(), "level=WARN"); warned != deadlines {
			t.Fatalf("deadlines %v: WARN for the cut message: %v\n%s", deadlines, warned, logs.String())
		}
	}
}

// TestStopOutputBlocked stops a node whose output never takes a reply: Run
// returns ErrOutputBlocked after the stop timeout, with the store closed.
func TestStopOutputBlocked(t *testing.T) {
	in := newStdinFake(commits(100))
	defer close(in.wake)
	out := newGatedWriter()
	defer close(out.open)
	st := newCountingStore()
	var logs lockedLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, in, out, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), StopTimeout: 10 * time.Millisecond,
			Open: func(string) (Offsets, error) { return st, nil }})
	}()
	<-in.drained
	<-out.waiting
	cancel()
	err := <-done
	if !errors.Is(err, ErrOutputBlocked) {
		t.Fatalf("Run returned %v, want ErrOutputBlocked", err)
	}
	if !st.isClosed() {
		t.Fatal("store not closed")
	}
	if s := logs.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "replies_unwritten=") {
		t.Fatalf("no WARN line counting the unwritten replies:\n%s", s)
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAnsweredBeforeWaitingForInput sends a commit followed by a line that
// is not a message and then nothing more: the commit is answered without
// waiting for more input.
func TestAnsweredBeforeWaitingForInput(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	st := newCountingStore()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, inR, outW, Config{Logger: quiet(), Open: func(string) (Offsets, error) { return st, nil }})
		outW.Close()
	}()
	go io.WriteString(inW, testInit+"\n"+testCommit(0)+"\nnot json\n")
	sc := bufio.NewScanner(outR)
	for i := 0; i < 2; i++ {
		if !sc.Scan() {
			t.Fatalf("reply %d missing", i)
		}
	}
	if !strings.Contains(sc.Text(), "commit_offset_ok") {
		t.Fatalf("second reply %s", sc.Text())
	}
	cancel()
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	k := copy(p, r.data)
	r.data = r.data[k:]
	return k, nil
}

// TestReadErrorReported checks that Run answers what it read and then
// reports an input error that is not EOF.
func TestReadErrorReported(t *testing.T) {
	eio := errors.New("input/output error")
	for i := 0; i < 20; i++ {
		var out bytes.Buffer
		err := Run(context.Background(), &failingReader{data: []byte(commits(10)), err: eio}, &out, Config{
			Logger: quiet(), Open: func(string) (Offsets, error) { return newCountingStore(), nil }})
		if !errors.Is(err, eio) {
			t.Fatalf("Run returned %v, want the read error", err)
		}
		if got := bytes.Count(out.Bytes(), []byte{'\n'}); got != 11 {
			t.Fatalf("%d replies, want 11", got)
		}
	}
}
