// Package raftlog is the raft storage of an offsets cluster member: the
// member's offsets log (package log, entry format version 2) is its raft
// log, its sealed checkpoints are its raft snapshots, and a small file holds
// raft's HardState. Storage implements raft.Storage for go.etcd.io/raft/v3
// and persists what each Ready asks (Save); snapshots are created from the
// compactor's checkpoints (CreateSnapshot, Compact), streamed to a follower
// (SnapshotReader) and received (Sink) and installed (ApplySnapshot) without
// ever being held in memory. The single node does not use this package.
//
// # Member directory
//
//	DIR/LOCK                        flock(2) target, held while open
//	DIR/HARDSTATE                   term, vote, commit (33 bytes, below)
//	DIR/HARDSTATE.tmp               a HardState being written; removed by Open
//	DIR/log/                        the offsets log (log.Open): its wal holds
//	                                one raft entry per entry (version 2), at
//	                                its raft index; offsets-log reads it
//	DIR/log/checkpoint.N.sealed/    the snapshot at index N: the checkpoint of
//	                                the live records as of N, sealed, with
//	DIR/log/checkpoint.N.sealed/RAFT  the snapshot's raft metadata (below)
//	DIR/snapshot.recv.N.*.tmp/      a snapshot being received; removed by Open
//	DIR/snapshot.received.N.T/      a received snapshot (index N, term T, 20
//	                                digits each), whole and verified, that
//	                                raft has not installed yet: a log
//	                                directory (its checkpoint and an empty
//	                                wal from N+1); removed by Open
//	DIR/snapshot.install/           the received snapshot being installed
//	DIR/log.old/                    the log an install replaced; removed
//
// # Raft index and wal index
//
// They are the same number. tidwall/wal starts an empty directory at index
// 1, and its TruncateFront cannot move past the last index plus one, so a
// follower that installs snapshot N on a shorter wal cannot move its wal to
// N+1; but tidwall opens a directory whose only segment is named N+1 (and
// empty) as an empty log that appends N+1 next (wal.go, load: the first
// index is the first segment's name, the last is that minus one plus its
// entries). An install therefore gives the member a new wal made of that
// one empty segment (log.CreateAfter), and no base offset has to be kept
// beside the checkpoint or applied by every reader: Scan, Replay and
// offsets-log read a member's log as they read the single node's.
//
// The entry before FirstIndex, whose term raft needs for matching, is kept
// in the wal itself: Compact(N) releases the wal through C-1 where C =
// N - Options.Trailing, so the wal starts at C. At Open it is the wal's
// first entry, except for a wal starting at 1 (never compacted: entry 0,
// term 0; Compact never compacts to 1) and one starting at N+1 (a snapshot
// installed: the snapshot's index and term).
//
// # Files
//
// HARDSTATE, little endian: "HARD", version 1 (1 byte), term, vote, commit
// (8 bytes each), CRC-32C of the 29 bytes before it. RAFT: "RAFT", version
// 1, index, term (8 bytes each), length of the ConfState (4 bytes), the
// ConfState (protobuf), CRC-32C of everything before it.
//
// A snapshot's stream (the body SnapshotReader produces and a Sink takes;
// the transport adds its own length and CRC-32C around it):
//
//	"OFFSNAP\x01"  8 bytes: magic and stream format version 1
//	index, term    8 bytes each: must be those of the MsgSnap
//	then for each file of the checkpoint directory (segments, SEAL, RAFT):
//	  name length  2 bytes, 1..255; name [A-Za-z0-9._-]
//	  size         8 bytes
//	  data         size bytes
//	end            a name length of 0
//
// # Save: the order of writes for a Ready
//
//  1. rd.Snapshot, if any: installed (below).
//  2. A conflicting suffix (rd.Entries starts at or before LastIndex) is cut
//     with tidwall's TruncateBack (NAME.END written and fsynced, later
//     segments removed, NAME.END renamed to NAME), then the wal directory
//     is fsynced, before any new entry is written.
//  3. The entries are appended (one write each), then ONE fsync of the wal
//     (and of its directory when a segment was created) covers them all:
//     group commit for every proposal and follower append in the Ready.
//  4. The HardState, when rd.MustSync (or a snapshot was installed) and it
//     differs from the durable one: HARDSTATE.tmp written and fsynced,
//     renamed to HARDSTATE, DIR fsynced.
//
// The loop sends rd.Messages only after Save returns, so a vote, a term or
// an appended entry is durable before any message that depends on it
// leaves (raft paper, "Rules for Servers": persist before responding to
// RPCs). Entries come before the HardState, as in etcd's wal (entries then
// state in one record stream): a crash between them leaves the entries and
// the old HardState, whose commit index lags (safe: Open replays through
// the durable commit and the rest is committed again by the leader) and
// whose term or vote is older (safe: nothing depending on the new ones was
// sent). The other order could leave a commit index past the last durable
// entry, which raft refuses at start. A change of the commit index alone
// with MustSync false is not written, nor, with Options.CommitLag, one of
// fewer entries: the durable commit may lag further, which costs a longer
// catch-up after a restart, never an acknowledged write (it is durable in
// a majority of logs). A HardState write costs two fsyncs (file and
// directory) on top of the wal's one, and a busy leader's commit index
// moves with nearly every Ready: CommitLag trades restart catch-up for
// throughput (BenchmarkSave).
//
// # Snapshots
//
// Creating one (the compactor, in the member's background: package cluster
// hands compactor.Write a log whose checkpoints are created here):
// CreateSnapshot(N, cs) writes RAFT into a new checkpoint.N.sealed.tmp; the
// caller adds the live records as of N and Commits (the log package's
// protocol: segments, SEAL, fsyncs, rename, DIR/log fsync); Compact(N) then
// reads it back against its seal and releases the wal through
// N-Trailing-1 (log.ReleaseThrough).
//
// Compact, ApplySnapshot and ReplaySnapshot hold one lock for their whole
// run, so a compaction never releases a wal an install is replacing, and
// the replay of an installed snapshot reads one log directory. A
// checkpoint still being written when an install replaces the log fails
// (its directory went with the old log) and a Compact behind the
// installed snapshot is refused: the compaction fails, nothing else.
//
// Receiving one (a transport goroutine): NewSink makes
// DIR/snapshot.recv.N.*.tmp/checkpoint.N.sealed/; Write parses the stream
// and writes each file there, fsyncing every MiB and at each file's end;
// Commit fsyncs the checkpoint directory, creates the empty wal from N+1
// (log.CreateAfter: segment, wal directory and directory fsynced), reads
// the checkpoint back against its seal, checks RAFT against the MsgSnap,
// renames the directory to DIR/snapshot.received.N.T and fsyncs DIR. Only
// then does the transport hand the MsgSnap to raft.
//
// Installing it (Save, when raft has accepted the snapshot and put it in a
// Ready): the log is closed, DIR/snapshot.received.N.T renamed to
// DIR/snapshot.install, DIR/log to DIR/log.old, DIR/snapshot.install to
// DIR/log, DIR fsynced, DIR/log.old and any other received snapshot
// removed, the new log opened. The state machine is then replaced by
// ReplaySnapshot: the checkpoint's records alone, at N (the entries after
// N come from raft). A received snapshot is installed only when
// raft asks, and the one it names: raft may refuse a snapshot it no longer
// needs, or take another that arrived meanwhile.
//
// # Crash table
//
//	crash during / after                      what Open finds and does
//	HARDSTATE.tmp written, not renamed        old HARDSTATE; .tmp removed
//	HARDSTATE renamed, DIR not fsynced        old or new HARDSTATE, whole
//	entries written, not fsynced              a prefix of them (a torn last
//	                                          entry cut as the log's torn
//	                                          tail), old HardState
//	TruncateBack, before its rename           tidwall finishes it (NAME.END)
//	suffix cut, new entries not written       the log through the cut, old
//	                                          HardState; the leader resends
//	sink writing or committing                snapshot.recv.*.tmp removed
//	snapshot.received.N.T, not installed      removed: raft asks again
//	install: renamed to snapshot.install      removed; the old log stays
//	install: log renamed to log.old           snapshot.install becomes log
//	                                          (raft had accepted it); the
//	                                          commit index is at least N
//	install: both renames done                log.old removed
//	checkpoint committed, Compact not run     the checkpoint is the snapshot;
//	                                          the wal still holds its entries
//	Compact's release                         as the log package's table
//
// Damage anywhere else (an older segment, a checkpoint, HARDSTATE, RAFT, a
// HardState commit past the log) is refused with an error wrapping
// ErrCorrupt or log.ErrCorrupt; nothing is repaired.
//
// # Restart
//
// Open, then Replay hands the records of the snapshot's checkpoint and of
// the entries after it through the durable commit index (log.Scan bounded
// by that index, the reader under the single node's replay) and returns
// that index: raft.Config.Applied.
// InitialState returns the durable HardState (its commit raised to the
// snapshot's index when an install outran its HardState) and the
// snapshot's ConfState; the loop re-applies ConfChanges(applied) with
// RawNode.ApplyConfChange. Entries after the commit index stay in the log
// for raft, which commits or replaces them.
package raftlog
