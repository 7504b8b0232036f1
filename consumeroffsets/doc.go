// Package consumeroffsets is the consumer-group offset store: it gives the
// log's records their meaning (offset commits, group generations and their
// tombstones, as in Kafka's __consumer_offsets) and keeps the latest value
// of every key in an in-memory index that Open rebuilds by replaying the
// log.
//
// It joins the log package (records and files) and the compactor (which
// only needs to know a record's key, through Keyer) behind one API, Store,
// which is what the node talks to; replacing the single-node log with a
// replicated one changes this package, not the protocol.
//
// # Guarantees
//
// Changes (Commit, SetGeneration, DeleteOffsets, DeleteGroup, ExpireOffsets)
// are staged in the index and in one pending log entry; Flush appends that
// entry and fsyncs it, so a batch of changes is on disk whole or not at all.
// Reads see staged changes, so callers answer a batch only after Flush
// returns nil. If Flush fails, every staged change is rolled back out of the
// index and the store refuses further changes (ErrFailed) until reopened.
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
// group's generation. That is what lets compaction drop any key's history
// with its tombstone without changing what another key replays to.
package consumeroffsets
