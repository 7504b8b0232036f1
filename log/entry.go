package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Version is the entry format version this package writes and reads.
const Version = 1

const (
	headerSize  = 17
	crcOffset   = 0
	verOffset   = 4
	indexOffset = 5
	countOffset = 13
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrCorrupt reports damage that is not a torn tail: bad framing, a
	// record that overruns its entry, an index out of order.
	ErrCorrupt = errors.New("log: corrupt entry")
	// ErrZeroed reports an entry that is empty or all zero bytes, as left by
	// a crash in space the file system had extended but not yet written.
	ErrZeroed = errors.New("log: zeroed entry")
	// ErrChecksum reports an entry whose CRC-32C does not match its bytes.
	ErrChecksum = errors.New("log: checksum mismatch")
	// ErrVersion reports an entry with a valid checksum but a format version
	// this package does not know: it was written by a newer program.
	ErrVersion = errors.New("log: unknown format version")
	// ErrLocked reports that another process holds the log directory.
	ErrLocked = errors.New("log: directory is locked by another process")
	// ErrClosed reports use of a log after Close or after a failed write.
	ErrClosed = errors.New("log: closed")
)

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
func DecodeEntry(entry []byte, fn func(Record) error) (idx uint64, err error) {
	count, err := checkEntry(entry)
	if err != nil {
		return 0, err
	}
	idx = binary.LittleEndian.Uint64(entry[indexOffset:])
	if fn == nil {
		return idx, nil
	}
	p := headerSize
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
	if v := entry[verOffset]; v != Version {
		return 0, fmt.Errorf("%w: %d (this program reads version %d)", ErrVersion, v, Version)
	}
	count := binary.LittleEndian.Uint32(entry[countOffset:])
	p := headerSize
	for i := uint32(0); i < count; i++ {
		if p >= len(entry) {
			return 0, fmt.Errorf("%w: record %d of %d starts past the end", ErrCorrupt, i, count)
		}
		if entry[p] == 0 {
			return 0, fmt.Errorf("%w: record %d has type 0", ErrCorrupt, i)
		}
		n, w := binary.Uvarint(entry[p+1:])
		if w <= 0 || n > uint64(len(entry)-p-1-w) || w != uvarintLen(n) {
			return 0, fmt.Errorf("%w: record %d overruns the entry", ErrCorrupt, i)
		}
		p += 1 + w + int(n)
	}
	if p != len(entry) {
		return 0, fmt.Errorf("%w: %d bytes after the last record", ErrCorrupt, len(entry)-p)
	}
	return count, nil
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
