package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/maelstrom-offsets/offsets/log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	hardStateMagic   = "HARD"
	hardStateVersion = 1
	hardStateSize    = 33

	metaMagic   = "RAFT"
	metaVersion = 1
)

// encodeHardState lays out a HARDSTATE file: magic "HARD", version 1, term,
// vote, commit (8 bytes each, little endian), CRC-32C of the 29 bytes
// before it.
func encodeHardState(hs *raftpb.HardState) []byte {
	b := make([]byte, 0, hardStateSize)
	b = append(b, hardStateMagic...)
	b = append(b, hardStateVersion)
	b = binary.LittleEndian.AppendUint64(b, hs.GetTerm())
	b = binary.LittleEndian.AppendUint64(b, hs.GetVote())
	b = binary.LittleEndian.AppendUint64(b, hs.GetCommit())
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeHardState(b []byte) (*raftpb.HardState, error) {
	if len(b) != hardStateSize {
		return nil, fmt.Errorf("%w: %d bytes, a HardState has %d", ErrCorrupt, len(b), hardStateSize)
	}
	if want, got := binary.LittleEndian.Uint32(b[29:]), crc32.Checksum(b[:29], castagnoli); want != got {
		return nil, fmt.Errorf("%w: checksum stored %08x, computed %08x", ErrCorrupt, want, got)
	}
	if string(b[:4]) != hardStateMagic || b[4] != hardStateVersion {
		return nil, fmt.Errorf("%w: not a version %d HardState", ErrCorrupt, hardStateVersion)
	}
	u := func(off int) *uint64 { v := binary.LittleEndian.Uint64(b[off:]); return &v }
	return &raftpb.HardState{Term: u(5), Vote: u(13), Commit: u(21)}, nil
}

// snapMeta is a snapshot's raft metadata: what the file RAFT in its
// checkpoint's directory records.
type snapMeta struct {
	index, term uint64
	conf        *raftpb.ConfState
}

// encodeMeta lays out a RAFT file: magic "RAFT", version 1, index, term (8
// bytes each), the length of the marshalled ConfState (4 bytes), the
// ConfState (protobuf), CRC-32C of everything before it; little endian.
func encodeMeta(m snapMeta) ([]byte, error) {
	cs, err := proto.Marshal(raftpb.EnsureConfState(proto.Clone(m.conf).(*raftpb.ConfState)))
	if err != nil {
		return nil, fmt.Errorf("raftlog: marshal ConfState: %w", err)
	}
	b := append([]byte(metaMagic), metaVersion)
	b = binary.LittleEndian.AppendUint64(b, m.index)
	b = binary.LittleEndian.AppendUint64(b, m.term)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cs)))
	b = append(b, cs...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func decodeMeta(b []byte) (snapMeta, error) {
	const fixed = 4 + 1 + 8 + 8 + 4
	if len(b) < fixed+4 {
		return snapMeta{}, fmt.Errorf("%w: snapshot metadata of %d bytes", ErrCorrupt, len(b))
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return snapMeta{}, fmt.Errorf("%w: snapshot metadata checksum stored %08x, computed %08x", ErrCorrupt, sum, got)
	}
	if string(b[:4]) != metaMagic || b[4] != metaVersion {
		return snapMeta{}, fmt.Errorf("%w: not version %d snapshot metadata", ErrCorrupt, metaVersion)
	}
	n := binary.LittleEndian.Uint32(b[21:])
	if uint64(n) != uint64(len(body)-fixed) {
		return snapMeta{}, fmt.Errorf("%w: snapshot metadata says %d ConfState bytes, holds %d", ErrCorrupt, n, len(body)-fixed)
	}
	cs := &raftpb.ConfState{}
	if err := proto.Unmarshal(body[fixed:], cs); err != nil {
		return snapMeta{}, fmt.Errorf("%w: snapshot ConfState: %v", ErrCorrupt, err)
	}
	return snapMeta{index: binary.LittleEndian.Uint64(b[5:]), term: binary.LittleEndian.Uint64(b[13:]),
		conf: raftpb.EnsureConfState(cs)}, nil
}

// readMeta reads the RAFT file of the checkpoint directory ckDir and checks
// that it is the metadata of the checkpoint for index n.
func readMeta(ckDir string, n uint64) (snapMeta, error) {
	b, err := os.ReadFile(filepath.Join(ckDir, metaName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return snapMeta{}, fmt.Errorf("%w: checkpoint %s has no %s file: it is not a cluster member's snapshot", ErrCorrupt, ckDir, metaName)
		}
		return snapMeta{}, fmt.Errorf("raftlog: read snapshot metadata: %w", err)
	}
	m, err := decodeMeta(b)
	if err != nil {
		return snapMeta{}, fmt.Errorf("%s: %w", filepath.Join(ckDir, metaName), err)
	}
	if m.index != n {
		return snapMeta{}, fmt.Errorf("%w: %s is the metadata of index %d, the checkpoint covers %d", ErrCorrupt, filepath.Join(ckDir, metaName), m.index, n)
	}
	return m, nil
}

// writeAtomic replaces dir/name crash-safely: dir/name.tmp is written and
// fsynced, renamed to dir/name, and dir is fsynced. A crash leaves the old
// file or the new one whole, and maybe a name.tmp that Open removes. hook,
// when set, is called between the steps and may stop there (tests crash on
// purpose with it).
func writeAtomic(dir, name string, data []byte, sync bool, hook func(string) error) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("raftlog: create %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("raftlog: write %s: %w", tmp, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("raftlog: fsync %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("raftlog: close %s: %w", tmp, err)
	}
	if hook != nil {
		if err := hook(name + "-written"); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("raftlog: rename %s: %w", tmp, err)
	}
	if hook != nil {
		if err := hook(name + "-renamed"); err != nil {
			return err
		}
	}
	if !sync {
		return nil
	}
	return log.SyncDir(dir)
}
