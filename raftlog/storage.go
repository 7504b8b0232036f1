package raftlog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/log"
)

const (
	lockName       = "LOCK"
	hardStateName  = "HARDSTATE"
	logDirName     = "log"
	oldLogName     = "log.old"
	receivedPrefix = "snapshot.received."
	installName    = "snapshot.install"
	recvPrefix     = "snapshot.recv."
	tmpSuffix      = ".tmp"
	// metaName is the file in a snapshot's checkpoint directory that holds
	// its raft metadata.
	metaName = "RAFT"
)

var (
	// ErrCorrupt reports a member file (HARDSTATE, a snapshot's RAFT file,
	// a snapshot stream) that does not decode, or state that contradicts
	// itself (a commit index past the log, a wal that does not fit its
	// snapshot).
	ErrCorrupt = errors.New("raftlog: damaged member state")
	// ErrClosed reports use of a Storage after Close or after a failed
	// write, which leaves it refusing every later write.
	ErrClosed = errors.New("raftlog: closed")
	// ErrNoSnapshot reports an ApplySnapshot for which no received snapshot
	// with that index and term was committed by a Sink.
	ErrNoSnapshot = errors.New("raftlog: no received snapshot matches")
)

// Options configures Open. The zero value is durable, with the log
// package's default segment size, and keeps no trailing entries after a
// snapshot.
type Options struct {
	// NoSync skips every fsync. Unsafe; for tests and benchmarks.
	NoSync bool
	// SegmentSize is the wal's segment size (log.Options.SegmentSize).
	SegmentSize int
	// Trailing is how many entries at or before a snapshot's index Compact
	// keeps in the wal, so that a follower slightly behind is caught up
	// from the log rather than by a snapshot (--snapshot-trailing).
	Trailing uint64
	// CommitLag lets the durable commit index lag: a HardState that differs
	// from the durable one only in its commit index is written by Save when
	// that index is at least CommitLag past the durable one. 0 writes every
	// change that comes with MustSync. A term or vote change is always
	// written. The commit index needs no durability for safety (a restart
	// replays less and learns the rest from the leader), and each HardState
	// write costs two fsyncs on top of the wal's one (BenchmarkSave).
	CommitLag uint64
	// Logger gets the log package's repair lines. Nil: slog.Default().
	Logger *slog.Logger
	// Hook, when set, is called before each step of a write protocol named
	// in the package doc and may stop it there by returning an error;
	// tests crash on purpose with it.
	Hook func(step string) error
}

// termRun says that entries from index first on have term term, up to the
// next run's first.
type termRun struct{ first, term uint64 }

// Storage is a cluster member's raft storage on its offsets log: it
// implements raft.Storage and persists each Ready (Save). Its methods may
// be called from several goroutines: raft's reads and Save from the raft
// loop, CreateSnapshot and Compact from the compactor, NewSink and a sink's
// Commit from the transport.
type Storage struct {
	dir  string
	opts Options
	lock *os.File

	// installMu keeps Compact, ApplySnapshot and ReplaySnapshot apart:
	// a compaction in a member's background and a snapshot install on its
	// raft loop both change the log directory, and a replay of the
	// installed snapshot must read the one directory. Taken before mu.
	installMu sync.Mutex

	mu     sync.Mutex
	log    *log.Log
	failed error
	hs     *raftpb.HardState // as durable in HARDSTATE
	snap   snapMeta          // the newest snapshot; index 0 when none
	// The entry before FirstIndex: its index and term. The wal holds it
	// physically (Compact keeps it) except after a snapshot install or in
	// a new log, where it is the snapshot's (or index 0, term 0).
	dummy, dummyTerm uint64
	last             uint64
	terms            []termRun // covers (dummy, last]
	// recent holds the last entries appended, recent[k] at index
	// recentFirst+k and the last at last, up to cacheBytes of data: raft
	// reads each entry back once it is committed, and these are the ones
	// it asks for.
	recent      []*raftpb.Entry
	recentFirst uint64
	recentBytes int
}

// cacheBytes bounds the data of the entries Storage keeps in memory (a
// variable for the tests).
var cacheBytes = 32 << 20

var _ raft.Storage = (*Storage)(nil)

// Open opens the member directory dir, creating it if needed, as the
// package doc describes: it takes dir/LOCK, finishes or undoes what a crash
// interrupted, opens the log in dir/log (repairing a torn tail of its
// newest segment) and reads the HardState and the newest snapshot's
// metadata. It fails with log.ErrLocked when another process holds dir,
// and with an error wrapping ErrCorrupt or log.ErrCorrupt on damage.
func Open(dir string, opts Options) (*Storage, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftlog: create %s: %w", dir, err)
	}
	lock, err := log.LockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Storage{dir: dir, opts: opts, lock: lock}
	if err := s.open(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

func (s *Storage) open() error {
	if err := s.recover(); err != nil {
		return err
	}
	s.hs = &raftpb.HardState{}
	b, err := os.ReadFile(filepath.Join(s.dir, hardStateName))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("raftlog: read HardState: %w", err)
	default:
		if s.hs, err = decodeHardState(b); err != nil {
			return fmt.Errorf("raftlog: %s: %w", filepath.Join(s.dir, hardStateName), err)
		}
	}
	return s.openLog()
}

// openLog opens dir/log and derives the in-memory index from it.
func (s *Storage) openLog() error {
	logDir := filepath.Join(s.dir, logDirName)
	l, err := log.Open(logDir, log.Options{NoSync: s.opts.NoSync, SegmentSize: s.opts.SegmentSize, Logger: s.opts.Logger})
	if err != nil {
		return err
	}
	if err := s.load(l); err != nil {
		l.Close()
		return err
	}
	s.log = l
	return nil
}

func (s *Storage) load(l *log.Log) error {
	logDir := l.Dir()
	s.snap = snapMeta{conf: &raftpb.ConfState{}}
	ckDir, n, ok, err := log.CheckpointDir(logDir)
	if err != nil {
		return err
	}
	if ok {
		if s.snap, err = readMeta(ckDir, n); err != nil {
			return err
		}
	}
	first, err := l.FirstIndex()
	if err != nil {
		return err
	}
	s.last = l.LastIndex()
	switch {
	case first == 1: // never compacted (Compact never compacts to 1)
		s.dummy, s.dummyTerm = 0, 0
	case s.snap.index != 0 && first == s.snap.index+1: // a snapshot installed (CreateAfter)
		s.dummy, s.dummyTerm = s.snap.index, s.snap.term
	case s.snap.index != 0 && first <= s.snap.index: // compacted, the entry before FirstIndex kept
		e, err := l.ReadRaft(first)
		if err != nil {
			return err
		}
		s.dummy, s.dummyTerm = first, e.Term
	default:
		return fmt.Errorf("%w: the wal in %s starts at index %d, which snapshot %d does not reach", ErrCorrupt, logDir, first, s.snap.index)
	}
	s.terms = s.terms[:0]
	s.recent, s.recentFirst, s.recentBytes = nil, 0, 0
	for i := s.dummy + 1; i <= s.last; i++ {
		e, err := l.ReadRaft(i)
		if err != nil {
			return err
		}
		s.addTerm(i, e.Term)
	}
	if s.snap.index != 0 && s.snap.index > s.dummy {
		if t, _ := s.term(s.snap.index); t != s.snap.term {
			return fmt.Errorf("%w: the wal's entry %d has term %d, its snapshot says %d", ErrCorrupt, s.snap.index, t, s.snap.term)
		}
	}
	if c := s.hs.GetCommit(); c > s.last {
		return fmt.Errorf("%w: the HardState's commit index %d is past the last entry %d", ErrCorrupt, c, s.last)
	}
	return nil
}

func (s *Storage) addTerm(i, term uint64) {
	if n := len(s.terms); n == 0 || s.terms[n-1].term != term {
		s.terms = append(s.terms, termRun{first: i, term: term})
	}
}

// term is Term without the lock and the range checks of raft's contract.
func (s *Storage) term(i uint64) (uint64, bool) {
	if i == s.dummy {
		return s.dummyTerm, true
	}
	if i < s.dummy || i > s.last {
		return 0, false
	}
	k := sort.Search(len(s.terms), func(k int) bool { return s.terms[k].first > i })
	return s.terms[k-1].term, true
}

// cutTerms forgets the terms of entries after last.
func (s *Storage) cutTerms(last uint64) {
	k := sort.Search(len(s.terms), func(k int) bool { return s.terms[k].first > last })
	s.terms = s.terms[:k]
}

// InitialState returns the durable HardState and the newest snapshot's
// ConfState (empty without one). The HardState's commit index is at least
// the snapshot's index: a snapshot is committed by definition, and an
// install may have been followed by a crash before the HardState that
// says so.
func (s *Storage) InitialState() (*raftpb.HardState, *raftpb.ConfState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := proto.Clone(s.hs).(*raftpb.HardState)
	if hs.GetCommit() < s.snap.index {
		hs.Commit = new(s.snap.index)
	}
	return hs, proto.Clone(s.snap.conf).(*raftpb.ConfState), nil
}

// Entries returns the entries in [lo, hi), at most maxSize bytes of them
// (proto.Size, as raft counts) but at least one. It fails with
// raft.ErrCompacted when lo is at or before the entry before FirstIndex and
// raft.ErrUnavailable when the log holds no entry after it; hi past
// LastIndex+1 is an error (raft's MemoryStorage panics).
func (s *Storage) Entries(lo, hi, maxSize uint64) ([]*raftpb.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lo <= s.dummy {
		return nil, raft.ErrCompacted
	}
	if hi > s.last+1 {
		return nil, fmt.Errorf("raftlog: entries [%d, %d) past the last index %d", lo, hi, s.last)
	}
	if s.last == s.dummy {
		return nil, raft.ErrUnavailable
	}
	if s.log == nil {
		return nil, ErrClosed
	}
	var ents []*raftpb.Entry
	var size uint64
	for i := lo; i < hi; i++ {
		var pe *raftpb.Entry
		if len(s.recent) > 0 && i >= s.recentFirst {
			pe = s.recent[i-s.recentFirst]
		} else {
			e, err := s.log.ReadRaft(i)
			if err != nil {
				return nil, err
			}
			pe = &raftpb.Entry{Term: new(e.Term), Index: new(e.Index), Type: raftpb.EntryType(e.Type).Enum(), Data: e.Data}
		}
		size += uint64(proto.Size(pe))
		if len(ents) > 0 && size > maxSize {
			break
		}
		ents = append(ents, pe)
	}
	return ents, nil
}

// Term returns the term of entry i, for i in [FirstIndex()-1, LastIndex()]:
// raft.ErrCompacted before that range, raft.ErrUnavailable after it.
func (s *Storage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < s.dummy {
		return 0, raft.ErrCompacted
	}
	t, ok := s.term(i)
	if !ok {
		return 0, raft.ErrUnavailable
	}
	return t, nil
}

// LastIndex returns the index of the last entry.
func (s *Storage) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// FirstIndex returns the index of the first entry that Entries can return.
func (s *Storage) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dummy + 1, nil
}

// Snapshot returns the newest snapshot's metadata; its Data is empty (the
// body is the checkpoint, streamed by SnapshotReader). Without a snapshot
// its index is 0.
func (s *Storage) Snapshot() (*raftpb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot(), nil
}

func (s *Storage) snapshot() *raftpb.Snapshot {
	return &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{
		ConfState: proto.Clone(s.snap.conf).(*raftpb.ConfState),
		Index:     new(s.snap.index),
		Term:      new(s.snap.term),
	}}
}

// Save persists what rd asks to be persisted before the loop sends rd's
// messages, in this order (see the package doc for why):
//
//  1. rd.Snapshot, when not empty: ApplySnapshot installs the received
//     snapshot it names.
//  2. rd.Entries: a suffix that conflicts with them is cut (durably, see
//     Append), then they are appended, with one fsync of the wal for all
//     of them when rd.MustSync.
//  3. rd.HardState, when rd.MustSync (or a snapshot was installed) and it
//     differs from the durable one (in its commit index, by at least
//     Options.CommitLag): written crash-safely (HARDSTATE.tmp, fsync,
//     rename, directory fsync). A change of the commit index alone with
//     MustSync false is not written: the durable commit index may lag, and
//     a restart replays up to the durable one.
//
// Any failure leaves the Storage refusing writes, and the loop must stop
// (raft cannot take a Ready back): what reached the disk is known only
// after a reopen.
func (s *Storage) Save(rd raft.Ready) (err error) {
	defer func() {
		if err != nil {
			s.mu.Lock()
			if s.failed == nil {
				s.failed = err
			}
			s.mu.Unlock()
		}
	}()
	installed := false
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := s.ApplySnapshot(rd.Snapshot); err != nil {
			return err
		}
		installed = true
	}
	if err := s.Append(rd.Entries); err != nil {
		return err
	}
	if len(rd.Entries) > 0 && rd.MustSync {
		if err := s.step("wal-sync"); err != nil {
			return err
		}
		if err := s.sync(); err != nil {
			return err
		}
	}
	if rd.HardState != nil && (rd.MustSync || installed) && (installed || s.hardStateDue(rd.HardState)) {
		return s.SetHardState(rd.HardState)
	}
	return nil
}

// hardStateDue reports whether Save writes hs: its term or vote changed, or
// its commit index is Options.CommitLag or more past the durable one.
func (s *Storage) hardStateDue(hs *raftpb.HardState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hs.GetTerm() != s.hs.GetTerm() || hs.GetVote() != s.hs.GetVote() {
		return true
	}
	return hs.GetCommit() > s.hs.GetCommit() && hs.GetCommit()-s.hs.GetCommit() >= max(s.opts.CommitLag, 1)
}

func (s *Storage) step(name string) error {
	if s.opts.Hook != nil {
		return s.opts.Hook(name)
	}
	return nil
}

func (s *Storage) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.log.Sync(); err != nil {
		s.failed = err
		return err
	}
	return nil
}

func (s *Storage) usable() error {
	if s.failed != nil {
		return fmt.Errorf("%w: after an earlier failure: %v", ErrClosed, s.failed)
	}
	if s.log == nil {
		return ErrClosed
	}
	return nil
}

// SetHardState makes hs the durable HardState when it differs from it:
// HARDSTATE.tmp is written and fsynced, renamed to HARDSTATE, and the
// directory is fsynced.
func (s *Storage) SetHardState(hs *raftpb.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if hs.GetTerm() == s.hs.GetTerm() && hs.GetVote() == s.hs.GetVote() && hs.GetCommit() == s.hs.GetCommit() {
		return nil
	}
	if c := hs.GetCommit(); c > s.last {
		return fmt.Errorf("raftlog: HardState commit %d past the last entry %d", c, s.last)
	}
	if err := writeAtomic(s.dir, hardStateName, encodeHardState(hs), !s.opts.NoSync, s.opts.Hook); err != nil {
		s.failed = err
		return err
	}
	s.hs = proto.Clone(hs).(*raftpb.HardState)
	return nil
}

// Append writes entries to the wal, not yet durable (Save fsyncs). Entries
// at or before the entry before FirstIndex are skipped, as raft's
// MemoryStorage skips them. When the first new entry's index is at or
// before LastIndex, the log's entries from that index on conflict with
// them (raft sends only what differs) and are cut first with
// log.TruncateBack, which is durable when it returns: no entry appended
// after the cut can be acknowledged while the cut suffix could come back.
// A gap after LastIndex is an error.
func (s *Storage) Append(entries []*raftpb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	first := entries[0].GetIndex()
	if last := first + uint64(len(entries)) - 1; last <= s.dummy {
		return nil
	}
	if first <= s.dummy {
		entries = entries[s.dummy+1-first:]
		first = s.dummy + 1
	}
	if first > s.last+1 {
		return fmt.Errorf("raftlog: entry %d appended after the last index %d", first, s.last)
	}
	if first <= s.last {
		if err := s.step("truncate-back"); err != nil {
			return err
		}
		if err := s.log.TruncateBack(first - 1); err != nil {
			s.failed = err
			return err
		}
		s.last = first - 1
		s.cutTerms(s.last)
		s.cutRecent()
		if err := s.step("truncated-back"); err != nil {
			return err
		}
	}
	for _, e := range entries {
		re := log.RaftEntry{Index: e.GetIndex(), Term: e.GetTerm(), Type: uint8(e.GetType()), Data: e.GetData()}
		if err := s.log.AppendRaft(re); err != nil {
			if errors.Is(err, log.ErrNoSpace) || errors.Is(err, log.ErrCorrupt) || errors.Is(err, log.ErrIndex) {
				// Nothing of this entry is in the log (ErrNoSpace rewinds
				// it; the others refuse it before writing). The ones
				// before it are, unsynced.
				return err
			}
			s.failed = err
			return err
		}
		s.last = re.Index
		s.addTerm(re.Index, re.Term)
		s.remember(e)
	}
	return nil
}

// remember caches e, just appended at s.last. The entries are raft's, which
// neither raft nor Storage modifies.
func (s *Storage) remember(e *raftpb.Entry) {
	if len(s.recent) == 0 {
		s.recentFirst = e.GetIndex()
	}
	s.recent = append(s.recent, e)
	s.recentBytes += len(e.GetData())
	for len(s.recent) > 1 && s.recentBytes > cacheBytes {
		s.dropRecent()
	}
}

func (s *Storage) dropRecent() {
	s.recentBytes -= len(s.recent[0].GetData())
	s.recent[0] = nil
	s.recent = s.recent[1:]
	s.recentFirst++
}

// cutRecent forgets cached entries after s.last and at or before s.dummy.
func (s *Storage) cutRecent() {
	if len(s.recent) == 0 {
		return
	}
	for len(s.recent) > 0 && s.recentFirst+uint64(len(s.recent))-1 > s.last {
		n := len(s.recent) - 1
		s.recentBytes -= len(s.recent[n].GetData())
		s.recent[n] = nil
		s.recent = s.recent[:n]
	}
	for len(s.recent) > 0 && s.recentFirst <= s.dummy {
		s.dropRecent()
	}
}

// Replay reads the state the raft loop must rebuild before it starts the
// raft node: the newest snapshot's checkpoint, then the records of the
// entries after it through the durable commit index of InitialState,
// read with log.Scan, the reader under the single node's replay. Entries
// after the commit index are not replayed: a new leader may still replace
// them. Records of the checkpoint are reported at its index. It returns
// the index replayed through, which is what raft.Config.Applied must be.
func (s *Storage) Replay(fn func(index uint64, r log.Record) error) (applied uint64, st log.ReplayStats, err error) {
	hs, _, err := s.InitialState()
	if err != nil {
		return 0, st, err
	}
	commit := hs.GetCommit()
	if commit == 0 {
		return 0, st, nil
	}
	sst, err := log.Scan(filepath.Join(s.dir, logDirName), log.ScanOptions{From: 1, To: commit, Record: fn})
	return commit, sst.ReplayStats, err
}

// LogDir is the directory of the member's offsets log (dir/log): the one
// offsets-log reads.
func (s *Storage) LogDir() string { return filepath.Join(s.dir, logDirName) }

// Close closes the log and releases the directory's lock.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.log != nil {
		err = s.log.Close()
		s.log = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return err
}

// ConfChanges returns the conf change entries (EntryConfChange and
// EntryConfChangeV2) after the newest snapshot through index through. On
// restart raft's ConfState is the snapshot's (InitialState), and with
// raft.Config.Applied set to Replay's index raft hands back no entry at or
// before it: the loop re-applies these with RawNode.ApplyConfChange after
// creating the node, so that membership changes after the snapshot are
// not lost (bootstrap's conf changes, for a log without a snapshot).
func (s *Storage) ConfChanges(through uint64) ([]*raftpb.Entry, error) {
	s.mu.Lock()
	from := s.snap.index + 1
	s.mu.Unlock()
	if through < from {
		return nil, nil
	}
	ents, err := s.Entries(from, through+1, ^uint64(0))
	if err != nil {
		return nil, err
	}
	var ccs []*raftpb.Entry
	for _, e := range ents {
		if t := e.GetType(); t == raftpb.EntryType_EntryConfChange || t == raftpb.EntryType_EntryConfChangeV2 {
			ccs = append(ccs, e)
		}
	}
	return ccs, nil
}
