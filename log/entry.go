package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Version is the entry format version that Append writes: one batch of
// records, as the single node writes it.
const Version = 1

// VersionRaft is the entry format version that AppendRaft writes for a
// cluster member: one raft entry (term, type and data) whose data, for a
// normal entry, is a record batch as Batch.Data returns it. Readers read
// both versions.
const VersionRaft = 2

// RaftEntryNormal is the raft entry type (raftpb.EntryNormal) whose data is
// a record batch; entries of every other type hold no records for a reader.
const RaftEntryNormal = 0

const (
	headerSize  = 17
	crcOffset   = 0
	verOffset   = 4
	indexOffset = 5
	countOffset = 13

	// Version 2 (VersionRaft): the raft fields follow the index.
	termOffset      = 13
	typeOffset      = 21
	raftDataOffset  = 22
	raftHeaderSize  = raftDataOffset
	batchCountBytes = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// RecordType tells what a record means. This package only requires it to be
// non-zero; consumeroffsets defines the values.
type RecordType uint8

// Record is one record of an entry. Data aliases the buffer it was decoded
// from and is valid only during the callback that receives it.
type Record struct {
	Type RecordType
	Data []byte
}

// Size is the number of bytes the record takes inside its entry.
func (r Record) Size() int {
	return 1 + uvarintLen(uint64(len(r.Data))) + len(r.Data)
}

// Batch collects records to be written as one atomic entry. The zero value is
// an empty batch ready to use; Reset makes a used one empty again.
type Batch struct {
	buf   []byte
	count uint32
}

// Add appends a record to the batch. It panics on type 0, which is reserved
// so that zero bytes never decode as a record.
func (b *Batch) Add(t RecordType, data []byte) {
	if t == 0 {
		panic("log: record type 0 is reserved")
	}
	if len(b.buf) == 0 {
		b.buf = append(b.buf, make([]byte, headerSize)...)
	}
	b.buf = append(b.buf, byte(t))
	b.buf = binary.AppendUvarint(b.buf, uint64(len(data)))
	b.buf = append(b.buf, data...)
	b.count++
}

// Len is the number of records in the batch.
func (b *Batch) Len() int { return int(b.count) }

// Size is the number of bytes the batch's entry will take, header included.
func (b *Batch) Size() int {
	if len(b.buf) == 0 {
		return headerSize
	}
	return len(b.buf)
}

// Data returns the batch as a record batch: the 4-byte little-endian record
// count followed by the records, exactly as a version 1 entry holds them
// from its byte 13 on. It is what a cluster member proposes as a normal
// raft entry's data. The bytes alias the batch's buffer and are valid until
// the next Add or Reset.
func (b *Batch) Data() []byte {
	if len(b.buf) == 0 {
		b.buf = append(b.buf, make([]byte, headerSize)...)
	}
	binary.LittleEndian.PutUint32(b.buf[countOffset:], b.count)
	return b.buf[countOffset:]
}

// Reset empties the batch, keeping its buffer.
func (b *Batch) Reset() {
	b.buf = b.buf[:0]
	b.count = 0
}

// seal fills in the header for log index idx and returns the entry bytes,
// which alias the batch's buffer.
func (b *Batch) seal(idx uint64) []byte {
	if len(b.buf) == 0 {
		b.buf = append(b.buf, make([]byte, headerSize)...)
	}
	b.buf[verOffset] = Version
	binary.LittleEndian.PutUint64(b.buf[indexOffset:], idx)
	binary.LittleEndian.PutUint32(b.buf[countOffset:], b.count)
	binary.LittleEndian.PutUint32(b.buf[crcOffset:], crcOf(b.buf))
	return b.buf
}

// EncodeEntry returns the bytes of an entry at log index idx holding recs.
// It is what Append writes; tests and tools use it to build logs.
func EncodeEntry(idx uint64, recs ...Record) []byte {
	var b Batch
	for _, r := range recs {
		b.Add(r.Type, r.Data)
	}
	return append([]byte(nil), b.seal(idx)...)
}

// DecodeEntry checks an entry's checksum, version and framing and calls fn
// for each of its records, in order. It returns the entry's log index. It
// never calls fn for a damaged entry: checks come before the first call.
//
// A version 2 entry's records are those of its data when it is a normal raft
// entry; other raft entries have none.
func DecodeEntry(entry []byte, fn func(Record) error) (idx uint64, err error) {
	count, err := checkEntry(entry)
	if err != nil {
		return 0, err
	}
	idx = binary.LittleEndian.Uint64(entry[indexOffset:])
	if fn == nil {
		return idx, nil
	}
	p := recordsOffset(entry)
	for i := uint32(0); i < count; i++ {
		t := RecordType(entry[p])
		n, w := binary.Uvarint(entry[p+1:])
		start := p + 1 + w
		if err := fn(Record{Type: t, Data: entry[start : start+int(n)]}); err != nil {
			return idx, err
		}
		p = start + int(n)
	}
	return idx, nil
}

// checkEntry validates everything about an entry without visiting records
// for a caller, and returns its record count.
func checkEntry(entry []byte) (uint32, error) {
	if isZero(entry) {
		return 0, ErrZeroed
	}
	if len(entry) < headerSize {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrChecksum, len(entry), headerSize)
	}
	want := binary.LittleEndian.Uint32(entry[crcOffset:])
	if got := crcOf(entry); got != want {
		return 0, fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, want, got)
	}
	var count uint32
	var p int
	switch v := entry[verOffset]; v {
	case Version:
		count, p = binary.LittleEndian.Uint32(entry[countOffset:]), headerSize
	case VersionRaft:
		if len(entry) < raftHeaderSize {
			return 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte raft entry header", ErrCorrupt, len(entry), raftHeaderSize)
		}
		if !raftHasRecords(entry) {
			return 0, nil // no data, or data that is raft's, not records
		}
		if len(entry) < raftDataOffset+batchCountBytes {
			return 0, fmt.Errorf("%w: normal raft entry of %d data bytes, shorter than a record count", ErrCorrupt, len(entry)-raftDataOffset)
		}
		count, p = binary.LittleEndian.Uint32(entry[raftDataOffset:]), raftDataOffset+batchCountBytes
	default:
		return 0, fmt.Errorf("%w: %d (this program reads versions %d and %d)", ErrVersion, v, Version, VersionRaft)
	}
	if err := checkRecords(entry, count, p); err != nil {
		return 0, err
	}
	return count, nil
}

// checkRecords checks that b[p:] is exactly count well-framed records.
func checkRecords(entry []byte, count uint32, p int) error {
	for i := uint32(0); i < count; i++ {
		if p >= len(entry) {
			return fmt.Errorf("%w: record %d of %d starts past the end", ErrCorrupt, i, count)
		}
		if entry[p] == 0 {
			return fmt.Errorf("%w: record %d has type 0", ErrCorrupt, i)
		}
		n, w := binary.Uvarint(entry[p+1:])
		if w <= 0 || n > uint64(len(entry)-p-1-w) || w != uvarintLen(n) {
			return fmt.Errorf("%w: record %d overruns the entry", ErrCorrupt, i)
		}
		p += 1 + w + int(n)
	}
	if p != len(entry) {
		return fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(entry)-p)
	}
	return nil
}

// DecodeBatch checks a record batch (Batch.Data: a normal raft entry's
// data) and calls fn for each of its records, in order; empty data is a
// batch of none. It is what a member applies a committed entry with; no
// call is made for a damaged batch.
func DecodeBatch(data []byte, fn func(Record) error) error {
	if len(data) == 0 {
		return nil
	}
	if len(data) < batchCountBytes {
		return fmt.Errorf("%w: record batch of %d bytes, shorter than its count", ErrCorrupt, len(data))
	}
	count := binary.LittleEndian.Uint32(data)
	if err := checkRecords(data, count, batchCountBytes); err != nil {
		return err
	}
	p := batchCountBytes
	for range count {
		n, w := binary.Uvarint(data[p+1:])
		start := p + 1 + w
		if err := fn(Record{Type: RecordType(data[p]), Data: data[start : start+int(n)]}); err != nil {
			return err
		}
		p = start + int(n)
	}
	return nil
}

// raftHasRecords reports whether a version 2 entry's data is a record batch:
// a normal raft entry with data. An empty normal entry (a new leader's) and
// entries of other types (conf changes) hold no records.
func raftHasRecords(entry []byte) bool {
	return entry[typeOffset] == RaftEntryNormal && len(entry) > raftDataOffset
}

// recordCount returns the number of records of a checked entry of either
// version and the offset of its first record.
func recordCount(entry []byte) (count int, first int) {
	if entry[verOffset] == Version {
		return int(binary.LittleEndian.Uint32(entry[countOffset:])), headerSize
	}
	if !raftHasRecords(entry) {
		return 0, len(entry)
	}
	return int(binary.LittleEndian.Uint32(entry[raftDataOffset:])), raftDataOffset + batchCountBytes
}

func recordsOffset(entry []byte) int {
	_, p := recordCount(entry)
	return p
}

// RaftEntry is a raft log entry as a version 2 log entry holds it.
type RaftEntry struct {
	Index uint64 // raft index; also the entry's place in the log
	Term  uint64
	Type  uint8 // raftpb.EntryType
	// Data is the raft entry's data: for a normal entry a record batch
	// (Batch.Data) or nothing; for other types raft's own bytes.
	Data []byte
}

// EncodeRaftEntry appends to dst the bytes of a version 2 entry holding e,
// and returns the extended slice. A normal entry's data must be empty or a
// record batch that decodes whole; anything else is an ErrCorrupt error, so
// that no entry is written that a reader would refuse.
func EncodeRaftEntry(dst []byte, e RaftEntry) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, raftHeaderSize)...)
	h := dst[start:]
	h[verOffset] = VersionRaft
	binary.LittleEndian.PutUint64(h[indexOffset:], e.Index)
	binary.LittleEndian.PutUint64(h[termOffset:], e.Term)
	h[typeOffset] = e.Type
	dst = append(dst, e.Data...)
	entry := dst[start:]
	binary.LittleEndian.PutUint32(entry[crcOffset:], crcOf(entry))
	if _, err := checkEntry(entry); err != nil {
		return dst[:start], fmt.Errorf("log: raft entry %d: %w", e.Index, err)
	}
	return dst, nil
}

// DecodeRaftEntry checks a version 2 entry (checksum, version, framing) and
// returns the raft entry it holds. Data aliases entry. A version 1 entry is
// an ErrVersion error: it holds no raft fields.
func DecodeRaftEntry(entry []byte) (RaftEntry, error) {
	if _, err := checkEntry(entry); err != nil {
		return RaftEntry{}, err
	}
	if entry[verOffset] != VersionRaft {
		return RaftEntry{}, fmt.Errorf("%w: version %d entry holds no raft entry", ErrVersion, entry[verOffset])
	}
	return RaftEntry{
		Index: binary.LittleEndian.Uint64(entry[indexOffset:]),
		Term:  binary.LittleEndian.Uint64(entry[termOffset:]),
		Type:  entry[typeOffset],
		Data:  entry[raftDataOffset:],
	}, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func crcOf(entry []byte) uint32 { return crc32.Checksum(entry[verOffset:], castagnoli) }
