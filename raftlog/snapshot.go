package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/log"
)

// ErrStream reports a snapshot stream that does not follow the format in
// the package doc, or that is not the snapshot its MsgSnap names.
var ErrStream = errors.New("raftlog: malformed snapshot stream")

const (
	streamMagic   = "OFFSNAP\x01"
	streamHeader  = len(streamMagic) + 16
	maxNameLen    = 255
	maxFileCount  = 1 << 16
	recvSyncBytes = 1 << 20
)

// CreateSnapshot starts the snapshot at index n (an applied index): a
// checkpoint of the log covering n, with the snapshot's raft metadata (n,
// the term of entry n, cs) already in its directory. The caller adds the
// live records as of n, commits it (the checkpoint protocol in the log
// package: seal, fsync, rename, directory fsync), then calls Compact(n). It
// fails with raft.ErrSnapOutOfDate when n is not after the newest snapshot.
func (s *Storage) CreateSnapshot(n uint64, cs *raftpb.ConfState) (*log.CheckpointWriter, error) {
	s.mu.Lock()
	if n <= s.snap.index {
		s.mu.Unlock()
		return nil, raft.ErrSnapOutOfDate
	}
	term, ok := s.term(n)
	dummy, last := s.dummy, s.last
	s.mu.Unlock()
	if !ok || n == 0 {
		return nil, fmt.Errorf("raftlog: snapshot at %d outside the log [%d, %d]", n, dummy, last)
	}
	meta, err := encodeMeta(snapMeta{index: n, term: term, conf: cs})
	if err != nil {
		return nil, err
	}
	w, err := log.CreateCheckpoint(s.LogDir(), n, s.opts.SegmentSize)
	if err != nil {
		return nil, err
	}
	if err := w.WriteFile(metaName, meta); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// Compact makes the committed checkpoint at n the snapshot and compacts the
// wal behind it, keeping Options.Trailing entries at or before n: entry C =
// n-Trailing stays in the wal as the entry before FirstIndex (its term is
// raft's), and log.ReleaseThrough(C-1) reads the checkpoint back against
// its seal, empties and truncates the segments before C and removes older
// checkpoints. C = 1 is not compacted to (FirstIndex stays 1): the entry
// before FirstIndex is the wal's first entry, except for a wal that starts
// at 1, which has never been compacted. It changes what Snapshot, FirstIndex and Entries report
// before the wal is truncated, so raft never asks for an entry being
// removed. It waits for an install (Save with a snapshot) to finish, and
// fails when the newest snapshot is then past n (installed meanwhile).
func (s *Storage) Compact(n uint64) error {
	s.installMu.Lock()
	defer s.installMu.Unlock()
	ckDir, ck, ok, err := log.CheckpointDir(s.LogDir())
	if err != nil {
		return err
	}
	if !ok || ck != n {
		return fmt.Errorf("raftlog: compact to %d: the newest checkpoint is %d (%v)", n, ck, ok)
	}
	meta, err := readMeta(ckDir, n)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if n < s.snap.index {
		s.mu.Unlock()
		return fmt.Errorf("%w: compact to %d behind the newest snapshot %d", raft.ErrSnapOutOfDate, n, s.snap.index)
	}
	if t, ok := s.term(n); ok && t != meta.term {
		s.mu.Unlock()
		return fmt.Errorf("%w: snapshot %d says term %d, the log %d", ErrCorrupt, n, meta.term, t)
	}
	if n > s.snap.index {
		s.snap = meta
	}
	c := uint64(0)
	if n > s.opts.Trailing {
		c = n - s.opts.Trailing
	}
	// Entry 1 is never made the entry before FirstIndex: a wal that starts
	// at 1 reads, at Open, as one that was never compacted.
	if c >= 2 && c > s.dummy && c <= s.last {
		t, _ := s.term(c)
		k := sort.Search(len(s.terms), func(k int) bool { return s.terms[k].first > c })
		runs := append([]termRun(nil), s.terms[k-1:]...)
		runs[0].first = c + 1
		if c+1 > s.last || (len(runs) > 1 && runs[1].first == c+1) {
			runs = runs[1:]
		}
		s.terms, s.dummy, s.dummyTerm = runs, c, t
		s.cutRecent()
	}
	l := s.log
	s.mu.Unlock()
	release := uint64(0)
	if c > 1 {
		release = c - 1
	}
	if _, err := l.ReleaseThrough(release, s.opts.Hook); err != nil {
		return fmt.Errorf("raftlog: compact to %d: %w", n, err)
	}
	return nil
}

// SnapshotReader returns the body of the snapshot at index, the newest
// checkpoint's files in the stream format of the package doc, to hand to
// the transport's SendSnapshot. Every file is opened before it returns, so
// a compaction that removes the checkpoint meanwhile does not cut the
// stream. It fails when the newest snapshot is not at index (a newer one
// replaced it: raft asks again).
func (s *Storage) SnapshotReader(index uint64) (io.ReadCloser, error) {
	ckDir, n, ok, err := log.CheckpointDir(s.LogDir())
	if err != nil {
		return nil, err
	}
	if !ok || n != index {
		return nil, fmt.Errorf("%w: snapshot %d is not the newest (%d)", raft.ErrSnapshotTemporarilyUnavailable, index, n)
	}
	meta, err := readMeta(ckDir, n)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(ckDir)
	if err != nil {
		return nil, fmt.Errorf("raftlog: list snapshot: %w", err)
	}
	r := &streamReader{}
	hdr := append([]byte(streamMagic), make([]byte, 16)...)
	binary.LittleEndian.PutUint64(hdr[8:], meta.index)
	binary.LittleEndian.PutUint64(hdr[16:], meta.term)
	r.parts = append(r.parts, bytesReader(hdr))
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		f, err := os.Open(filepath.Join(ckDir, e.Name()))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("raftlog: open snapshot file: %w", err)
		}
		r.files = append(r.files, f)
		fi, err := f.Stat()
		if err != nil {
			r.Close()
			return nil, err
		}
		h := binary.LittleEndian.AppendUint16(nil, uint16(len(e.Name())))
		h = append(h, e.Name()...)
		h = binary.LittleEndian.AppendUint64(h, uint64(fi.Size()))
		r.parts = append(r.parts, bytesReader(h), io.LimitReader(f, fi.Size()))
	}
	r.parts = append(r.parts, bytesReader([]byte{0, 0}))
	r.r = io.MultiReader(r.parts...)
	return r, nil
}

func bytesReader(b []byte) io.Reader { return strings.NewReader(string(b)) }

type streamReader struct {
	parts []io.Reader
	files []*os.File
	r     io.Reader
}

func (r *streamReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func (r *streamReader) Close() error {
	for _, f := range r.files {
		f.Close()
	}
	r.files = nil
	return nil
}

// Sink receives a snapshot's body from the transport (it is a
// transport.SnapshotSink): Write parses the stream as it comes and writes
// each file straight to disk under a temporary directory, so the body is
// never held in memory; Commit makes it durable and verified as the one
// received snapshot, which ApplySnapshot installs when raft accepts the
// MsgSnap. Abort removes it. It is used by one goroutine.
type Sink struct {
	s           *Storage
	index, term uint64
	tmp         string // dir/snapshot.recv.N.XXXX.tmp, a log directory
	ckDir       string // its checkpoint directory

	buf      []byte // a header being collected
	state    int
	name     string
	left     uint64 // bytes of the current file still to come
	f        *os.File
	unsynced int
	files    int
	done     bool
	err      error
}

const (
	sinkHeader = iota
	sinkNameLen
	sinkName
	sinkSize
	sinkData
	sinkEnd
)

// NewSink returns a sink for the body of snap, as received in a MsgSnap.
func (s *Storage) NewSink(snap *raftpb.Snapshot) (*Sink, error) {
	m := snap.GetMetadata()
	if m.GetIndex() == 0 {
		return nil, fmt.Errorf("%w: snapshot at index 0", ErrStream)
	}
	tmp, err := os.MkdirTemp(s.dir, fmt.Sprintf("%s%d.*%s", recvPrefix, m.GetIndex(), tmpSuffix))
	if err != nil {
		return nil, fmt.Errorf("raftlog: snapshot sink: %w", err)
	}
	ckDir := filepath.Join(tmp, log.CheckpointName(m.GetIndex()))
	if err := os.Mkdir(ckDir, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("raftlog: snapshot sink: %w", err)
	}
	return &Sink{s: s, index: m.GetIndex(), term: m.GetTerm(), tmp: tmp, ckDir: ckDir}, nil
}

// need collects n header bytes from p into k.buf; it returns the bytes of p
// it used and whether the header is complete.
func (k *Sink) need(p []byte, n int) (int, bool) {
	take := min(n-len(k.buf), len(p))
	k.buf = append(k.buf, p[:take]...)
	return take, len(k.buf) == n
}

// Write takes the next chunk of the stream.
func (k *Sink) Write(p []byte) (int, error) {
	if k.err != nil {
		return 0, k.err
	}
	total := len(p)
	for len(p) > 0 {
		var used int
		var full bool
		switch k.state {
		case sinkHeader:
			if used, full = k.need(p, streamHeader); full {
				if string(k.buf[:8]) != streamMagic {
					return 0, k.fail(fmt.Errorf("%w: not a snapshot stream", ErrStream))
				}
				idx, term := binary.LittleEndian.Uint64(k.buf[8:]), binary.LittleEndian.Uint64(k.buf[16:])
				if idx != k.index || term != k.term {
					return 0, k.fail(fmt.Errorf("%w: the stream is snapshot %d term %d, the message's %d term %d", ErrStream, idx, term, k.index, k.term))
				}
				k.buf, k.state = k.buf[:0], sinkNameLen
			}
		case sinkNameLen:
			if used, full = k.need(p, 2); full {
				n := int(binary.LittleEndian.Uint16(k.buf))
				k.buf = k.buf[:0]
				switch {
				case n == 0:
					k.state = sinkEnd
				case n > maxNameLen:
					return 0, k.fail(fmt.Errorf("%w: file name of %d bytes", ErrStream, n))
				default:
					k.left, k.state = uint64(n), sinkName
				}
			}
		case sinkName:
			if used, full = k.need(p, int(k.left)); full {
				k.name, k.buf, k.state = string(k.buf), k.buf[:0], sinkSize
				if !plainName(k.name) {
					return 0, k.fail(fmt.Errorf("%w: file name %q", ErrStream, k.name))
				}
			}
		case sinkSize:
			if used, full = k.need(p, 8); full {
				k.left, k.buf = binary.LittleEndian.Uint64(k.buf), k.buf[:0]
				if k.files++; k.files > maxFileCount {
					return 0, k.fail(fmt.Errorf("%w: more than %d files", ErrStream, maxFileCount))
				}
				f, err := os.OpenFile(filepath.Join(k.ckDir, k.name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					return 0, k.fail(fmt.Errorf("raftlog: snapshot sink: %w", err))
				}
				k.f, k.state = f, sinkData
				if k.left == 0 {
					if err := k.closeFile(); err != nil {
						return 0, k.fail(err)
					}
				}
			}
		case sinkData:
			n := int(min(k.left, uint64(len(p))))
			if _, err := k.f.Write(p[:n]); err != nil {
				return 0, k.fail(fmt.Errorf("raftlog: snapshot sink: %w", err))
			}
			used, k.left = n, k.left-uint64(n)
			if k.unsynced += n; k.unsynced >= recvSyncBytes && !k.s.opts.NoSync {
				// As the checkpoint writer does: do not leave a whole
				// snapshot to one fsync that stalls the wal's.
				k.unsynced = 0
				if err := k.f.Sync(); err != nil {
					return 0, k.fail(fmt.Errorf("raftlog: snapshot sink: %w", err))
				}
			}
			if k.left == 0 {
				if err := k.closeFile(); err != nil {
					return 0, k.fail(err)
				}
			}
		case sinkEnd:
			return 0, k.fail(fmt.Errorf("%w: %d bytes after the end", ErrStream, len(p)))
		}
		p = p[used:]
	}
	return total, nil
}

func plainName(name string) bool {
	if name == "." || name == ".." || name == "" {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// closeFile fsyncs and closes the file being received, and returns to the
// next file's header.
func (k *Sink) closeFile() error {
	f := k.f
	k.f, k.state, k.unsynced = nil, sinkNameLen, 0
	if !k.s.opts.NoSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("raftlog: snapshot sink: fsync: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("raftlog: snapshot sink: %w", err)
	}
	return nil
}

func (k *Sink) fail(err error) error {
	k.err = err
	k.Abort()
	return err
}

// Commit ends the stream: every file is fsynced; the checkpoint directory
// and a wal starting after its index (log.CreateAfter) are made durable;
// the checkpoint is read back whole against its seal and its RAFT file
// must name the message's index and term; then the temporary directory
// is renamed to dir/snapshot.received.N.T (N and T the snapshot's index
// and term) and dir is fsynced. Nothing of the member's log changes until ApplySnapshot.
func (k *Sink) Commit() error {
	if k.err != nil {
		return k.err
	}
	if k.done {
		return fmt.Errorf("raftlog: snapshot sink: already finished")
	}
	if k.state != sinkEnd {
		return k.fail(fmt.Errorf("%w: the stream ended inside a file or header", ErrStream))
	}
	if err := k.commit(); err != nil {
		return k.fail(err)
	}
	k.done = true
	return nil
}

func (k *Sink) commit() error {
	sync := !k.s.opts.NoSync
	if sync {
		if err := log.SyncDir(k.ckDir); err != nil {
			return err
		}
	}
	if err := log.CreateAfter(k.tmp, k.index); err != nil {
		return err
	}
	if err := log.VerifyCheckpoint(k.tmp); err != nil {
		return fmt.Errorf("raftlog: received snapshot %d: %w", k.index, err)
	}
	meta, err := readMeta(k.ckDir, k.index)
	if err != nil {
		return err
	}
	if meta.term != k.term {
		return fmt.Errorf("%w: received snapshot %d has term %d, its message %d", ErrStream, k.index, meta.term, k.term)
	}
	if err := k.s.step("snapshot-received"); err != nil {
		return err
	}
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	final := filepath.Join(k.s.dir, receivedName(k.index, k.term))
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("raftlog: remove older received snapshot: %w", err)
	}
	if err := os.Rename(k.tmp, final); err != nil {
		return fmt.Errorf("raftlog: rename received snapshot: %w", err)
	}
	if sync {
		return log.SyncDir(k.s.dir)
	}
	return nil
}

// Abort discards what was received.
func (k *Sink) Abort() {
	if k.done {
		return
	}
	k.done = true
	if k.f != nil {
		k.f.Close()
		k.f = nil
	}
	os.RemoveAll(k.tmp)
}

// ApplySnapshot installs the received snapshot snap names (a Sink
// committed it), replacing the member's whole log: the open log is closed,
// dir/snapshot.received.N.T is renamed to dir/snapshot.install, dir/log to
// dir/log.old, dir/snapshot.install to dir/log; dir is fsynced, dir/log.old
// and the other received snapshots are removed, and the new log (the
// checkpoint at N and an empty wal from N+1) is opened. A crash after
// dir/log was moved away is finished by Open; one before leaves the old
// log. It fails with raft.ErrSnapOutOfDate when
// snap is not after the newest snapshot, and with ErrNoSnapshot when no
// received snapshot has snap's index and term. Save calls it.
func (s *Storage) ApplySnapshot(snap *raftpb.Snapshot) error {
	m := snap.GetMetadata()
	s.installMu.Lock()
	defer s.installMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if s.snap.index != 0 && s.snap.index >= m.GetIndex() {
		return raft.ErrSnapOutOfDate
	}
	recv := filepath.Join(s.dir, receivedName(m.GetIndex(), m.GetTerm()))
	ckDir, n, ok, err := log.CheckpointDir(recv)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !ok || n != m.GetIndex() {
		return fmt.Errorf("%w: snapshot %d term %d", ErrNoSnapshot, m.GetIndex(), m.GetTerm())
	}
	if meta, err := readMeta(ckDir, n); err != nil {
		return err
	} else if meta.term != m.GetTerm() {
		return fmt.Errorf("%w: snapshot %d term %d (the received one has term %d)", ErrNoSnapshot, n, m.GetTerm(), meta.term)
	}
	if err := s.step("install"); err != nil {
		return err
	}
	err = s.log.Close()
	s.log = nil
	if err != nil {
		s.failed = err
		return err
	}
	if err := s.swap(recv); err != nil {
		s.failed = err
		return err
	}
	if err := s.openLog(); err != nil {
		s.failed = err
		return err
	}
	return nil
}

// ReplaySnapshot reads the records of the newest snapshot's checkpoint
// alone, all reported at its index, and returns that index: what the state
// machine is replaced by once ApplySnapshot has installed a snapshot (the
// entries after it come from raft). No install or Compact runs meanwhile.
// Without a snapshot it reads nothing and returns 0.
func (s *Storage) ReplaySnapshot(fn func(index uint64, r log.Record) error) (uint64, log.ReplayStats, error) {
	s.installMu.Lock()
	defer s.installMu.Unlock()
	n, ok, err := log.CheckpointIndex(s.LogDir())
	if err != nil || !ok {
		return 0, log.ReplayStats{}, err
	}
	st, err := log.Scan(s.LogDir(), log.ScanOptions{From: 1, To: n, Record: fn})
	return n, st.ReplayStats, err
}

// receivedName names a received snapshot's directory by its index and
// term: raft may take any of those received, and installs the one it took.
func receivedName(index, term uint64) string {
	return fmt.Sprintf("%s%020d.%020d", receivedPrefix, index, term)
}

// swap puts the received snapshot recv in the place of dir/log: recv is
// renamed dir/snapshot.install (the one Open finishes installing),
// dir/log dir/log.old, dir/snapshot.install dir/log; dir is fsynced, then
// dir/log.old and the other received snapshots are removed.
func (s *Storage) swap(recv string) error {
	logDir, old := filepath.Join(s.dir, logDirName), filepath.Join(s.dir, oldLogName)
	install := filepath.Join(s.dir, installName)
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.RemoveAll(install); err != nil {
		return err
	}
	if err := os.Rename(recv, install); err != nil {
		return fmt.Errorf("raftlog: install: %w", err)
	}
	if err := s.step("install-staged"); err != nil {
		return err
	}
	if err := os.Rename(logDir, old); err != nil {
		return fmt.Errorf("raftlog: install: %w", err)
	}
	if err := s.step("install-old-moved"); err != nil {
		return err
	}
	if err := os.Rename(install, logDir); err != nil {
		return fmt.Errorf("raftlog: install: %w", err)
	}
	if !s.opts.NoSync {
		if err := log.SyncDir(s.dir); err != nil {
			return err
		}
	}
	if err := s.step("install-renamed"); err != nil {
		return err
	}
	others, _ := filepath.Glob(filepath.Join(s.dir, receivedPrefix+"*"))
	return s.removeAndSync(append(others, old)...)
}

func (s *Storage) removeAndSync(paths ...string) error {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("raftlog: remove %s: %w", p, err)
		}
	}
	if s.opts.NoSync {
		return nil
	}
	return log.SyncDir(s.dir)
}

// recover finishes or undoes, at Open, what a crash interrupted (see the
// crash table in the package doc).
func (s *Storage) recover() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("raftlog: list %s: %w", s.dir, err)
	}
	var stale []string
	for _, e := range ents {
		if name := e.Name(); name == hardStateName+tmpSuffix || strings.HasPrefix(name, receivedPrefix) ||
			strings.HasPrefix(name, recvPrefix) && strings.HasSuffix(name, tmpSuffix) {
			stale = append(stale, filepath.Join(s.dir, name))
		}
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(s.dir, name))
		return err == nil
	}
	logDir := filepath.Join(s.dir, logDirName)
	changed := len(stale) > 0
	if !exists(logDirName) {
		// An install stopped between its two renames: the received
		// snapshot, which raft had accepted, becomes the log.
		for _, from := range []string{installName, oldLogName} {
			if exists(from) {
				if err := os.Rename(filepath.Join(s.dir, from), logDir); err != nil {
					return fmt.Errorf("raftlog: finish install: %w", err)
				}
				if err := s.removeAndSync(); err != nil { // the rename is durable before anything is removed
					return err
				}
				s.opts.Logger.Warn("finished a snapshot install interrupted by a crash", "dir", s.dir, "from", from)
				changed = true
				break
			}
		}
	}
	for _, name := range []string{installName, oldLogName} {
		if exists(name) {
			stale = append(stale, filepath.Join(s.dir, name))
		}
	}
	if !changed && len(stale) == 0 {
		return nil
	}
	return s.removeAndSync(stale...)
}
