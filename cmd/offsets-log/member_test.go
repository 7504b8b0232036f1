package main

import (
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
	"github.com/maelstrom-offsets/offsets/raftlog"
)

// The tool reads a cluster member's log (dir/log of a raftlog directory:
// version 2 entries, a conf change and an empty entry among them, and a
// snapshot) as it reads the single node's.
func TestMemberLog(t *testing.T) {
	dir := t.TempDir()
	s, err := raftlog.Open(dir, raftlog.Options{Trailing: 1, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(p int32, off int64) []byte {
		return consumeroffsets.AppendOffsetCommit(nil, []byte("g"), []byte("t"), p, consumeroffsets.OffsetValue{Offset: off, CommitTime: base.UnixMilli()})
	}
	u := func(v uint64) *uint64 { return &v }
	ents := []*raftpb.Entry{
		{Index: u(1), Term: u(1), Type: raftpb.EntryConfChange.Enum(), Data: []byte("conf change")},
		{Index: u(2), Term: u(2), Type: raftpb.EntryNormal.Enum()},
	}
	for i := uint64(3); i <= 6; i++ {
		var b log.Batch
		b.Add(consumeroffsets.TypeOffsetCommit, commit(int32(i), int64(i*10)))
		ents = append(ents, &raftpb.Entry{Index: u(i), Term: u(2), Type: raftpb.EntryNormal.Enum(), Data: append([]byte(nil), b.Data()...)})
	}
	if err := s.Save(raft.Ready{HardState: &raftpb.HardState{Term: u(2), Vote: u(1), Commit: u(6)}, Entries: ents, MustSync: true}); err != nil {
		t.Fatal(err)
	}
	w, err := s.CreateSnapshot(4, &raftpb.ConfState{Voters: []uint64{1}})
	if err != nil {
		t.Fatal(err)
	}
	w.Add(consumeroffsets.TypeOffsetCommit, commit(3, 30))
	w.Add(consumeroffsets.TypeOffsetCommit, commit(4, 40))
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(4); err != nil {
		t.Fatal(err)
	}
	s.Close()

	logDir := filepath.Join(dir, "log")
	out, errOut, code := runCLI("verify", logDir)
	if code != 0 || !strings.Contains(out, "no damage") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	out, errOut, code = runCLI("replay", "--json", logDir)
	if code != 0 {
		t.Fatalf("replay: %d %s", code, errOut)
	}
	for _, want := range []string{`"partition":3,"offset":30`, `"partition":4,"offset":40`, `"partition":5,"offset":50`, `"partition":6,"offset":60`} {
		if !strings.Contains(out, want) {
			t.Errorf("replay --json lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 4 {
		t.Errorf("replay --json printed %d lines, want 4:\n%s", n, out)
	}
}
