// Package consumeroffsets is the consumer-group offset store: it gives the
// log's records their meaning (offset commits, group generations and their
// tombstones, as in Kafka's __consumer_offsets) in one state machine,
// State, and keeps that state in memory over the log, in Store, which Open
// rebuilds by replaying the log and which is what the node talks to.
//
// State is the only implementation of the rules: the Store's replay and
// its staged changes, offline compaction (CompactDir) and the log tool
// apply records through it, and read it through its read-only methods
// (offsets, groups, counts, the dirty ratio). A Snapshot of it, taken in
// microseconds and read on another goroutine while the state goes on
// changing (copy-on-write), is what a compaction writes as the log's
// checkpoint (see compactor); in a cluster member that checkpoint is the
// raft snapshot a follower too far behind is sent, and Store.Restore
// replaces the state by a replay of one a member installed.
//
// # Guarantees
//
// Changes (Commit, SetGeneration, DeleteOffsets, DeleteGroup, ExpireOffsets)
// are staged in the state and in one pending log entry; Flush appends that
// entry and fsyncs it, so a batch of changes is on disk whole or not at all.
// Reads see staged changes, so callers answer a batch only after Flush
// returns nil. If Flush fails, every staged change is rolled back out of the
// state. On a full disk (ErrNoSpace) the log is brought back to its last
// durable entry and later Flushes write again; after any other failure
// (ErrFailed) the store refuses further changes until reopened, and the
// entry whose fsync failed may still be replayed then.
//
// A checkpoint at log index N holds the state as of N exactly: the latest
// record of every key (a tombstone only within the tombstone retention),
// re-encoded from the state, sorted by key, so that the same state always
// gives the same checkpoint; replaying it gives the same state, counts
// included.
//
// # Record schemas (version 1)
//
// Every record's data starts with a schema version byte; strings are a
// uvarint length and that many bytes; integers are little endian. See the
// Append* functions in record.go for each type's fields:
//
//	1 offset commit     group, topic, partition u32, offset u64, commit_time i64 (ms), metadata
//	2 offset tombstone  group, topic, partition u32, delete_time i64 (ms)
//	3 group metadata    group, generation u32, time i64 (ms)
//	4 group tombstone   group, delete_time i64 (ms)
//
// Each record affects only its own key, (group, topic, partition) or group:
// deleting a group writes a tombstone per offset and then one for the
// group's generation. That is what lets a checkpoint hold one record per
// key, in any order, and drop any key's history with its tombstone without
// changing what another key replays to.
package consumeroffsets
