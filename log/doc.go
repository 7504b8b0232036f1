// Package log is the checksummed, versioned write-ahead log that the offsets
// store keeps its records in. It knows records and files, and nothing of
// what the records mean: the consumeroffsets package gives them meaning.
//
// The log sits on github.com/tidwall/wal, which owns segment files, their
// names, segment cycling and crash-safe front truncation. This package adds
// what that library lacks: a CRC-32C and a format version on every entry, a
// log index inside every entry so that reordering is caught, an exclusive
// lock on the directory, repair of a torn tail, refusal of damage anywhere
// else, and a reader that replays the files sequentially and names the file
// and byte offset of any damage it meets.
//
// # Directory layout
//
// DIR is the directory Open takes: the node's DATA/<node_id>/, or a
// cluster member's MEMBER/log/ (package raftlog keeps its own files in
// MEMBER, beside it).
//
//	DIR/LOCK                       flock(2) target; held exclusively while open
//	DIR/wal/00000000000000000001   tidwall/wal segment, named by its first index
//	DIR/wal/00000000000000012345   ... the newest segment takes the appends
//	DIR/wal/<segment>.broken       bytes cut off a torn tail, kept as evidence
//	DIR/wal/<segment>.END          a cluster member's TruncateBack in progress
//	                               (tidwall's), finished by Open
//	DIR/wal/<segment>.START        a release's TruncateFront in progress
//	                               (tidwall's), finished by Open
//	DIR/wal/<segment>.START.TEMP   either of them being written, before its
//	DIR/wal/<segment>.END.TEMP     rename; removed by Open
//	DIR/checkpoint.N.sealed/       live records as of index N (see checkpoint.go),
//	                               in the same segment and entry format
//	DIR/checkpoint.N.sealed/SEAL   what the checkpoint holds: entries, records,
//	                               size, a checksum (layout in checkpoint.go)
//	DIR/checkpoint.N.sealed/NAME   a file of the writer's beside the segments
//	                               (CheckpointWriter.WriteFile: a member's
//	                               RAFT metadata); not sealed, not read here
//	DIR/checkpoint.N/              a checkpoint from before seals: read, with a
//	                               WARN, until the next compaction replaces it
//	DIR/checkpoint.N.sealed.tmp/   a checkpoint being written; removed by Open
//	                               (so is an older program's checkpoint.N.tmp/)
//	DIR/checkpoint.N.sealed.broken a new checkpoint that failed its read-back,
//	                               kept as evidence; never read
//
// # Segment framing (tidwall/wal's binary format)
//
// A segment is a plain concatenation of entries, each a uvarint length
// followed by that many bytes. The first entry of segment NAME has log index
// NAME; each next entry has the next index.
//
//	+----------------+---------------------------+
//	| length uvarint | entry (length bytes)      |  ... repeated
//	+----------------+---------------------------+
//
// # Entry layout (this package's format, version 1: the single node's)
//
// An entry is one atomic batch of records: a crash leaves all of its records
// on disk or none of them (a torn entry fails its checksum and is cut off).
// All integers are little endian.
//
//	offset  size  field
//	0       4     CRC-32C (Castagnoli) of bytes [4, end)
//	4       1     format version, 1
//	5       8     log index of this entry (must equal its place in the log)
//	13      4     number of records that follow
//	17      ...   records, each:
//	                type    1 byte, never 0
//	                length  uvarint
//	                data    length bytes, opaque to this package
//
// # Entry layout, version 2 (a cluster member's raft entry)
//
// A cluster member's wal holds one raft entry per tidwall entry, written by
// AppendRaft; the single node never writes one. The log index is the raft
// index: a member's wal starts at 1, or after the snapshot it installed
// (CreateAfter names its first segment index n+1), never at an offset. The
// CRC, version and index are where version 1 has them, so framing, repair
// and the index check are the same for both.
//
//	offset  size  field
//	0       4     CRC-32C (Castagnoli) of bytes [4, end)
//	4       1     format version, 2
//	5       8     log index = raft index of this entry
//	13      8     raft term
//	21      1     raft entry type (raftpb.EntryType: 0 normal, 1 conf
//	              change, 2 conf change v2)
//	22      ...   raft entry data. For a normal entry with data, a record
//	              batch, byte for byte what a version 1 entry holds from
//	              its byte 13 (Batch.Data):
//	                count   4 bytes, number of records that follow
//	                records as in version 1
//	              For an empty normal entry (a new leader's) nothing; for
//	              other types raft's marshalled ConfChange, not checked here.
//
// Readers (Scan, Replay, DecodeEntry and so the node and offsets-log) read
// both versions in one log; a version 2 entry's records are its batch's,
// reported at its index, and an entry of another raft type or an empty one
// holds no records. A member cuts a conflicting suffix with TruncateBack:
// tidwall writes the shortened segment to NAME.END, removes the later
// segments and renames it to NAME; the wal directory is then fsynced. A
// reader treats a NAME.END left by a crash as tidwall's Open does.
//
// Zero bytes frame as valid empty tidwall entries; an empty or all-zero entry
// is reported as ErrZeroed, distinct from ErrChecksum (garbage), so that
// zero-filled space left by a crash reads as what it is.
//
// # Life of a log
//
// Open takes the lock, removes stale tidwall temporary files and temporary
// checkpoints (never a complete one: Log.Replay removes superseded
// checkpoints only once it has read the newest one whole), then examines
// the newest segment entry by entry. Zero bytes from the last good entry to
// the end are unused preallocated space (see prealloc.go) and are trimmed
// without a word. At the first entry that does not decode, when anything
// but zeros follows, it searches the rest of the segment for any valid
// entry: if one exists the
// damage is in the middle of the log and Open fails with a *CorruptionError
// naming the file and offset; if none does, the damaged tail is copied to
// NAME.broken (written and fsynced; the zeros after its first frame and its
// last written byte are preallocated space and are not copied), the
// segment is truncated to the last
// good entry and fsynced, and the directory is fsynced. Only then does
// tidwall/wal open the directory, which would otherwise refuse a torn tail.
//
// Append writes one entry with a single write(2). Sync fdatasyncs the tail
// segment (preallocated with Options.Preallocate: prealloc.go says why
// that is as durable as fsync), and fsyncs the directory too when tidwall
// has cycled to a new segment or a release (ReleaseThrough) has rewritten
// the tail under a new file since the last Sync, so that a segment's name is
// as durable as its data. Close gives the tail's unused preallocated space
// back. tidwall fsyncs a segment itself before it cycles away from it, so
// every segment but the newest is complete on disk.
//
// When a write fails because the file system is full (ENOSPC, EDQUOT),
// Append rewinds instead of giving up: it closes tidwall, cuts every byte
// after the last appended entry off the newest segment (the failed write's
// prefix, or the whole entry when only the next segment could not be
// created), fsyncs that segment and the directory, reopens tidwall on the
// files, and returns ErrNoSpace; the next Append is tried as usual. Every
// other failure, and every failed fsync, is final: the log refuses writes
// until it is reopened.
//
// Replay reads the newest checkpoint and then the wal's segments in order
// from a given index and hands each record to a callback. It checks every
// entry's checksum, version, index and record framing, and a checkpoint
// against its seal (a checkpoint is never cut: any damage in it, a short
// one included, is refused); any failure is a
// *CorruptionError (wrapping ErrCorrupt, ErrZeroed or ErrChecksum) with the
// file and byte offset. Replay is Scan with a record callback: Scan reads
// without a lock and without writing, loads the next segment on another
// goroutine while the records of this one are handed out, treats an entry a
// running node is still writing (or a torn tail Open would cut) as the end
// of the log, and, for the offsets-log tool, can report every damaged place
// and read on (ScanOptions.Damage). Repair and PlanRepair do what Open does
// to a torn tail, for the tool; LockHeld tells whether a node holds a
// directory without touching its LOCK file.
//
// Checkpoints, written by the compactor and by a cluster member for its
// snapshots, are described with their file protocol in checkpoint.go.
package log
