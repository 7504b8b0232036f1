package raftlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/log"
)

var voters = &raftpb.ConfState{Voters: []uint64{1, 2, 3}}

func save(t *testing.T, s *Storage, hs *raftpb.HardState, ents ...*raftpb.Entry) {
	t.Helper()
	if err := s.Save(raft.Ready{HardState: hs, Entries: ents, MustSync: true}); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// buildLeader gives dir the log of a leader: entries 1..20 of term 1, each
// with a record "L-i", all committed, and a snapshot at 15 holding two
// records, compacted keeping 2 trailing entries.
func buildLeader(t *testing.T, dir string) *Storage {
	t.Helper()
	s := openT(t, dir, Options{Trailing: 2})
	var ents []*raftpb.Entry
	for i := uint64(1); i <= 20; i++ {
		ents = append(ents, entry(i, 1, raftpb.EntryNormal, batch(fmt.Sprint("L-", i))))
	}
	save(t, s, hardState(1, 1, 20), ents...)
	w, err := s.CreateSnapshot(15, voters)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"state-15-a", "state-15-b"} {
		if err := w.Add(1, []byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(15); err != nil {
		t.Fatal(err)
	}
	return s
}

// buildFollower gives dir the log of a follower that is behind: entries
// 1..4 as the leader's (committed), then 5..9 of term 2 that no leader
// committed.
func buildFollower(t *testing.T, dir string, opts Options) *Storage {
	t.Helper()
	s := openT(t, dir, opts)
	var ents []*raftpb.Entry
	for i := uint64(1); i <= 4; i++ {
		ents = append(ents, entry(i, 1, raftpb.EntryNormal, batch(fmt.Sprint("L-", i))))
	}
	for i := uint64(5); i <= 9; i++ {
		ents = append(ents, entry(i, 2, raftpb.EntryNormal, batch(fmt.Sprint("F-", i))))
	}
	save(t, s, hardState(2, 2, 4), ents...)
	return s
}

// stream copies the leader's snapshot into a sink of the follower in
// chunks of the given size and commits it.
func stream(t *testing.T, leader, follower *Storage, chunk int) (*raftpb.Snapshot, error) {
	t.Helper()
	snap, _ := leader.Snapshot()
	body, err := leader.SnapshotReader(snap.GetMetadata().GetIndex())
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	sink, err := follower.NewSink(snap)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, chunk)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := sink.Write(buf[:n]); err != nil {
				return snap, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			t.Fatal(rerr)
		}
	}
	return snap, sink.Commit()
}

func replayRecords(t *testing.T, s *Storage) (uint64, []string) {
	t.Helper()
	var got []string
	applied, _, err := s.Replay(func(idx uint64, r log.Record) error {
		got = append(got, fmt.Sprintf("%d:%s", idx, r.Data))
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return applied, got
}

// checkInstalled checks a follower that installed the leader's snapshot at
// 15 (term 1) and appended nothing after it.
func checkInstalled(t *testing.T, s *Storage) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	term, err := s.Term(15)
	if first != 16 || last != 15 || term != 1 || err != nil {
		t.Fatalf("after install: first %d last %d Term(15) %d %v, want 16 15 1", first, last, term, err)
	}
	if _, err := s.Term(14); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Term(14) = %v, want ErrCompacted", err)
	}
	hs, cs, _ := s.InitialState()
	if hs.GetCommit() < 15 || fmt.Sprint(cs.GetVoters()) != "[1 2 3]" {
		t.Fatalf("InitialState %v %v", hs, cs)
	}
	applied, recs := replayRecords(t, s)
	if applied != hs.GetCommit() || fmt.Sprint(recs) != "[15:state-15-a 15:state-15-b]" {
		t.Fatalf("Replay = %d %v", applied, recs)
	}
}

// checkOld checks a follower whose log is as buildFollower left it, with
// no received snapshot left.
func checkOld(t *testing.T, s *Storage) {
	t.Helper()
	checkOldLog(t, s)
	if m, _ := filepath.Glob(filepath.Join(s.dir, "snapshot.*")); len(m) != 0 {
		t.Fatalf("a received snapshot is left: %v", m)
	}
}

func checkOldLog(t *testing.T, s *Storage) {
	t.Helper()
	last, _ := s.LastIndex()
	term, _ := s.Term(9)
	if last != 9 || term != 2 {
		t.Fatalf("old state: last %d Term(9) %d, want 9 2", last, term)
	}
	applied, recs := replayRecords(t, s)
	if applied != 4 || len(recs) != 4 || recs[3] != "4:L-4" {
		t.Fatalf("old state replays %d %v", applied, recs)
	}
}

// A snapshot streamed from a real checkpoint through the sink in small
// chunks installs over a follower's conflicting log, survives a reopen, and
// takes the entries after it.
func TestSnapshotInstall(t *testing.T) {
	leader := buildLeader(t, t.TempDir())
	defer leader.Close()
	fdir := t.TempDir()
	f := buildFollower(t, fdir, Options{})
	snap, err := stream(t, leader, f, 7)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	checkOldLog(t, f) // committed, not installed: nothing changed yet
	if err := f.Save(raft.Ready{Snapshot: snap, HardState: hardState(2, 2, 15)}); err != nil {
		t.Fatalf("Save with the snapshot: %v", err)
	}
	checkInstalled(t, f)
	if err := f.ApplySnapshot(snap); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("second ApplySnapshot = %v, want ErrSnapOutOfDate", err)
	}
	f.Close()
	f = openT(t, fdir, Options{})
	checkInstalled(t, f)
	ents, err := leader.Entries(16, 21, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	save(t, f, hardState(2, 2, 20), ents...)
	f.Close()
	f = openT(t, fdir, Options{})
	defer f.Close()
	applied, recs := replayRecords(t, f)
	if applied != 20 || fmt.Sprint(recs) != "[15:state-15-a 15:state-15-b 16:L-16 17:L-17 18:L-18 19:L-19 20:L-20]" {
		t.Fatalf("after the entries: %d %v", applied, recs)
	}
	got, err := f.Entries(16, 21, 1<<20)
	if err != nil || !sameEntries(got, ents) {
		t.Fatalf("follower entries %s %v, leader's %s", fmtEntries(got), err, fmtEntries(ents))
	}
}

// What the sink refuses leaves the follower as it was: a stream cut short,
// a damaged checkpoint, a stream of another snapshot, an aborted stream.
func TestSnapshotSinkRefuses(t *testing.T) {
	leader := buildLeader(t, t.TempDir())
	defer leader.Close()
	snap, _ := leader.Snapshot()
	var whole bytes.Buffer
	body, err := leader.SnapshotReader(15)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&whole, body)
	body.Close()
	if _, err := leader.SnapshotReader(14); err == nil {
		t.Fatal("SnapshotReader of an index that is not the newest snapshot succeeded")
	}

	fdir := t.TempDir()
	f := buildFollower(t, fdir, Options{})
	defer f.Close()
	feed := func(data []byte, sn *raftpb.Snapshot) error {
		sink, err := f.NewSink(sn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write(data); err != nil {
			return err
		}
		return sink.Commit()
	}
	b := whole.Bytes()
	if err := feed(b[:len(b)-1], snap); !errors.Is(err, ErrStream) {
		t.Errorf("a stream cut short: %v, want ErrStream", err)
	}
	damaged := bytes.Clone(b)
	idx := bytes.Index(damaged, []byte("state-15-a"))
	damaged[idx] ^= 1
	if err := feed(damaged, snap); !errors.Is(err, log.ErrCorrupt) {
		t.Errorf("a damaged checkpoint: %v, want log.ErrCorrupt", err)
	}
	other := &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: new(uint64(15)), Term: new(uint64(3))}}
	if err := feed(b, other); !errors.Is(err, ErrStream) {
		t.Errorf("a stream of another snapshot: %v, want ErrStream", err)
	}
	if err := feed(append(bytes.Clone(b), 0), snap); !errors.Is(err, ErrStream) {
		t.Errorf("bytes after the end: %v, want ErrStream", err)
	}
	sink, _ := f.NewSink(snap)
	sink.Write(b[:len(b)/2])
	sink.Abort()
	if err := f.ApplySnapshot(snap); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("ApplySnapshot with nothing received = %v, want ErrNoSnapshot", err)
	}
	checkOld(t, f)
	ents, _ := os.ReadDir(fdir)
	for _, e := range ents {
		if e.Name() != "LOCK" && e.Name() != "HARDSTATE" && e.Name() != "log" {
			t.Errorf("left in the member directory: %s", e.Name())
		}
	}
}

// An install stopped before its first rename leaves the old state; one
// stopped between the renames is finished by Open.
func TestSnapshotInstallInterrupted(t *testing.T) {
	leader := buildLeader(t, t.TempDir())
	defer leader.Close()
	for _, tc := range []struct {
		step      string
		installed bool
	}{
		{"snapshot-received", false},
		{"install", false},
		{"install-staged", false},
		{"install-old-moved", true},
		{"install-renamed", true},
	} {
		t.Run(tc.step, func(t *testing.T) {
			crash := errors.New("crash")
			var armed bool
			opts := Options{Hook: func(step string) error {
				if armed && step == tc.step {
					return crash
				}
				return nil
			}}
			fdir := t.TempDir()
			f := buildFollower(t, fdir, opts)
			armed = true
			snap, err := stream(t, leader, f, 4096)
			if err == nil {
				err = f.Save(raft.Ready{Snapshot: snap, HardState: hardState(2, 2, 15)})
			}
			if !errors.Is(err, crash) {
				t.Fatalf("install = %v, want the crash", err)
			}
			f.Close()
			f = openT(t, fdir, Options{})
			defer f.Close()
			if tc.installed {
				checkInstalled(t, f)
			} else {
				checkOld(t, f)
			}
		})
	}
}

// An install waits for a Compact that runs (a member's background
// compaction and its raft loop's install both change the log directory),
// and ReplaySnapshot then reads the installed checkpoint alone.
func TestInstallWaitsForCompact(t *testing.T) {
	leader := buildLeader(t, t.TempDir())
	defer leader.Close()
	var mu sync.Mutex
	var events []string
	note := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	installed := make(chan struct{}, 8)
	var f *Storage
	var snap *raftpb.Snapshot
	var once sync.Once
	var installErr error
	done := make(chan struct{})
	hook := func(step string) error {
		switch {
		case step == "install":
			note("install")
			installed <- struct{}{}
		case step == "checkpoint-verified":
			once.Do(func() {
				note("compact")
				go func() {
					defer close(done)
					installErr = f.ApplySnapshot(snap)
				}()
				// With nothing keeping them apart the install runs now;
				// the compaction waits for it a while to give it the
				// chance.
				select {
				case <-installed:
				case <-time.After(300 * time.Millisecond):
				}
				note("compact-end")
			})
		}
		return nil
	}
	f = buildFollower(t, t.TempDir(), Options{Hook: hook})
	defer f.Close()
	var err error
	if snap, err = stream(t, leader, f, 1<<10); err != nil {
		t.Fatal(err)
	}
	w, err := f.CreateSnapshot(4, voters)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(1, []byte("own-4")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Compact(4); err != nil {
		t.Fatalf("Compact(4): %v", err)
	}
	<-done
	if installErr != nil {
		t.Fatalf("ApplySnapshot: %v", installErr)
	}
	if fmt.Sprint(events) != "[compact compact-end install]" {
		t.Fatalf("events %v: the install ran inside Compact", events)
	}
	checkInstalled(t, f)
	var got []string
	n, _, err := f.ReplaySnapshot(func(idx uint64, r log.Record) error {
		got = append(got, fmt.Sprintf("%d:%s", idx, r.Data))
		return nil
	})
	if err != nil || n != 15 || fmt.Sprint(got) != "[15:state-15-a 15:state-15-b]" {
		t.Fatalf("ReplaySnapshot = %d %v %v", n, got, err)
	}
	if err := f.Compact(4); err == nil {
		t.Fatal("Compact(4) behind the installed snapshot 15 succeeded")
	}
}
