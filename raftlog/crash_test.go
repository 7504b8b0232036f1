package raftlog

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/log"
)

const (
	crashEnv    = "RAFTLOG_CRASH"
	crashDirEnv = "RAFTLOG_CRASH_DIR"
)

// killAt returns a hook that SIGKILLs the process at step once *armed.
func killAt(step string, armed *bool) func(string) error {
	return func(s string) error {
		if *armed && s == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
}

func terms(from, to, term uint64, tag string) []*raftpb.Entry {
	var ents []*raftpb.Entry
	for i := from; i <= to; i++ {
		ents = append(ents, entry(i, term, raftpb.EntryNormal, batch(fmt.Sprint(tag, i))))
	}
	return ents
}

// TestCrashChild is the child process of TestCrash: it runs the scenario
// named in its environment and is killed by its hook.
func TestCrashChild(t *testing.T) {
	scenario, dir := os.Getenv(crashEnv), os.Getenv(crashDirEnv)
	if scenario == "" {
		t.Skip("the child process of TestCrash")
	}
	var armed bool
	switch scenario {
	case "HARDSTATE-written", "HARDSTATE-renamed":
		s := openT(t, dir, Options{Hook: killAt(scenario, &armed)})
		save(t, s, hardState(1, 1, 2), terms(1, 3, 1, "a")...)
		armed = true
		save(t, s, hardState(2, 3, 4), terms(4, 5, 2, "b")...)
	case "truncated-back", "wal-sync":
		s := openT(t, dir, Options{Hook: killAt(scenario, &armed)})
		save(t, s, hardState(1, 1, 4), terms(1, 10, 1, "a")...)
		armed = true
		save(t, s, hardState(2, 2, 4), terms(6, 8, 2, "b")...)
	case "install-old-moved", "snapshot-received":
		leader := buildLeader(t, filepath.Join(dir, "leader"))
		f := buildFollower(t, filepath.Join(dir, "follower"), Options{Hook: killAt(scenario, &armed)})
		armed = true
		snap, err := stream(t, leader, f, 1000)
		if err != nil {
			t.Fatal(err)
		}
		f.Save(raft.Ready{Snapshot: snap, HardState: hardState(2, 2, 15)})
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
	t.Fatalf("scenario %s was not killed", scenario)
}

// crash runs the child for scenario on dir and checks that it was killed.
func crash(t *testing.T, scenario, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+scenario, crashDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child %s: %v (want SIGKILL)\n%s", scenario, err, out)
	}
}

func checkLog(t *testing.T, s *Storage, last uint64, termOf func(i uint64) uint64) {
	t.Helper()
	if l, _ := s.LastIndex(); l != last {
		t.Fatalf("LastIndex = %d, want %d", l, last)
	}
	ents, err := s.Entries(1, last+1, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.GetTerm() != termOf(e.GetIndex()) {
			t.Fatalf("entry %d has term %d, want %d", e.GetIndex(), e.GetTerm(), termOf(e.GetIndex()))
		}
	}
}

func checkHardState(t *testing.T, s *Storage, term, vote, commit uint64) {
	t.Helper()
	hs, _, _ := s.InitialState()
	if hs.GetTerm() != term || hs.GetVote() != vote || hs.GetCommit() != commit {
		t.Fatalf("HardState %v, want term %d vote %d commit %d", hs, term, vote, commit)
	}
	if _, err := os.Stat(filepath.Join(s.dir, hardStateName+tmpSuffix)); !os.IsNotExist(err) {
		t.Fatalf("HARDSTATE.tmp left after Open: %v", err)
	}
}

// TestCrash SIGKILLs a child process at each step of the write protocols
// and checks what the member directory holds when it is opened again.
func TestCrash(t *testing.T) {
	t.Run("between HardState temp write and rename", func(t *testing.T) {
		dir := t.TempDir()
		crash(t, "HARDSTATE-written", dir)
		s := openT(t, dir, Options{})
		defer s.Close()
		// The entries were fsynced before the HardState: all there; the
		// HardState is the old one, its commit index lags.
		checkLog(t, s, 5, func(i uint64) uint64 { return map[bool]uint64{true: 1, false: 2}[i <= 3] })
		checkHardState(t, s, 1, 1, 2)
		if applied, recs := replayRecords(t, s); applied != 2 || fmt.Sprint(recs) != "[1:a1 2:a2]" {
			t.Fatalf("Replay = %d %v, want through the durable commit index 2", applied, recs)
		}
	})
	t.Run("after HardState rename", func(t *testing.T) {
		dir := t.TempDir()
		crash(t, "HARDSTATE-renamed", dir)
		s := openT(t, dir, Options{})
		defer s.Close()
		checkHardState(t, s, 2, 3, 4)
	})
	t.Run("after a conflicting suffix is cut, before the new entries", func(t *testing.T) {
		dir := t.TempDir()
		crash(t, "truncated-back", dir)
		s := openT(t, dir, Options{})
		defer s.Close()
		checkLog(t, s, 5, func(uint64) uint64 { return 1 })
		checkHardState(t, s, 1, 1, 4)
		save(t, s, hardState(2, 2, 4), terms(6, 8, 2, "b")...)
		checkLog(t, s, 8, func(i uint64) uint64 { return map[bool]uint64{true: 1, false: 2}[i <= 5] })
	})
	t.Run("after the new entries, before their fsync", func(t *testing.T) {
		dir := t.TempDir()
		crash(t, "wal-sync", dir)
		s := openT(t, dir, Options{})
		defer s.Close()
		// A process crash keeps the page cache: the new entries are there.
		// A machine crash could lose them, never bring back the cut ones.
		checkLog(t, s, 8, func(i uint64) uint64 { return map[bool]uint64{true: 1, false: 2}[i <= 5] })
		checkHardState(t, s, 1, 1, 4)
	})
	t.Run("between the install's renames", func(t *testing.T) {
		dir := t.TempDir()
		crash(t, "install-old-moved", dir)
		if _, err := os.Stat(filepath.Join(dir, "follower", logDirName)); !os.IsNotExist(err) {
			t.Fatalf("the crash left dir/log: %v", err)
		}
		s := openT(t, filepath.Join(dir, "follower"), Options{})
		defer s.Close()
		checkInstalled(t, s)
	})
	t.Run("in the sink's commit before its rename", func(t *testing.T) {
		dir := t.TempDir()
		crash(t, "snapshot-received", dir)
		fdir := filepath.Join(dir, "follower")
		if m, _ := filepath.Glob(filepath.Join(fdir, recvPrefix+"*"+tmpSuffix)); len(m) != 1 {
			t.Fatalf("want one temporary snapshot directory left by the crash, have %v", m)
		}
		s := openT(t, fdir, Options{})
		defer s.Close()
		checkOld(t, s)
		if m, _ := filepath.Glob(filepath.Join(fdir, recvPrefix+"*")); len(m) != 0 {
			t.Fatalf("Open left %v", m)
		}
	})
}

// segments lists the member's wal segments, oldest first.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, logDirName, "wal", "0*"))
	if err != nil || len(m) == 0 {
		t.Fatalf("segments: %v %v", m, err)
	}
	return m
}

// A wal cut inside its last entry loses that entry only (the torn-tail
// repair of the newest segment); cut inside an older segment it is refused.
func TestTornWal(t *testing.T) {
	build := func(t *testing.T) string {
		dir := t.TempDir()
		s := openT(t, dir, Options{SegmentSize: 1 << 10})
		for i := uint64(1); i <= 40; i++ {
			save(t, s, hardState(1, 1, 0), entry(i, 1, raftpb.EntryNormal, batch(fmt.Sprintf("%d-%060d", i, 0))))
		}
		s.Close()
		if n := len(segments(t, dir)); n < 3 {
			t.Fatalf("want several segments, have %d", n)
		}
		return dir
	}
	t.Run("newest segment", func(t *testing.T) {
		dir := build(t)
		segs := segments(t, dir)
		newest := segs[len(segs)-1]
		fi, _ := os.Stat(newest)
		if fi.Size() == 0 {
			newest = segs[len(segs)-2] // tidwall cycled right after the last entry
			os.Remove(segs[len(segs)-1])
			fi, _ = os.Stat(newest)
		}
		if err := os.Truncate(newest, fi.Size()-10); err != nil {
			t.Fatal(err)
		}
		s := openT(t, dir, Options{SegmentSize: 1 << 10})
		defer s.Close()
		checkLog(t, s, 39, func(uint64) uint64 { return 1 })
		save(t, s, hardState(2, 1, 0), entry(40, 2, raftpb.EntryNormal, nil))
	})
	t.Run("older segment", func(t *testing.T) {
		dir := build(t)
		segs := segments(t, dir)
		fi, _ := os.Stat(segs[0])
		if err := os.Truncate(segs[0], fi.Size()-10); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, Options{Logger: quiet()}); !errors.Is(err, log.ErrCorrupt) {
			t.Fatalf("Open with an older segment cut = %v, want log.ErrCorrupt", err)
		}
	})
}

// With CommitLag a commit index that moved less is not written, one that
// moved that far or a term or vote change is, and Replay stops at the
// durable one.
func TestCommitLag(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{CommitLag: 4})
	save(t, s, hardState(1, 1, 0), terms(1, 10, 1, "a")...)
	save(t, s, hardState(1, 1, 3), terms(11, 11, 1, "a")...)
	checkHardState(t, s, 1, 1, 0)
	save(t, s, hardState(1, 1, 4), terms(12, 12, 1, "a")...)
	checkHardState(t, s, 1, 1, 4)
	save(t, s, hardState(1, 1, 6), terms(13, 13, 1, "a")...)
	checkHardState(t, s, 1, 1, 4)
	save(t, s, hardState(2, 0, 7))
	checkHardState(t, s, 2, 0, 7)
	save(t, s, hardState(2, 0, 9), terms(14, 14, 2, "b")...)
	s.Close()
	s = openT(t, dir, Options{CommitLag: 4})
	defer s.Close()
	checkHardState(t, s, 2, 0, 7)
	if applied, recs := replayRecords(t, s); applied != 7 || len(recs) != 7 {
		t.Fatalf("Replay = %d %v, want through 7", applied, recs)
	}
}
