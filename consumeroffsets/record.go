package consumeroffsets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/maelstrom-offsets/offsets/log"
)

// Record types, as stored in the log's record type byte. Kafka's
// __consumer_offsets holds the same two families: offset commits and group
// metadata, each with a tombstone.
const (
	TypeOffsetCommit    log.RecordType = 1 // latest committed offset of a key
	TypeOffsetTombstone log.RecordType = 2 // the key's offset was deleted
	TypeGroupMetadata   log.RecordType = 3 // a group's generation
	TypeGroupTombstone  log.RecordType = 4 // the group's generation was deleted (its offsets by their own tombstones)
)

// schemaVersion is the version byte every record's data starts with.
const schemaVersion = 1

// ErrRecord reports record data that does not decode under its type's schema.
var ErrRecord = errors.New("consumeroffsets: malformed record")

// OffsetKey identifies one committed offset.
type OffsetKey struct {
	Group     string
	Topic     string
	Partition int32
}

// Committed is a key's committed offset as a fetch returns it.
type Committed struct {
	Offset   int64
	Metadata string
}

// OffsetValue is what a commit record stores for a key.
type OffsetValue struct {
	Offset     int64
	Metadata   string
	CommitTime int64 // Unix milliseconds
}

// Record is a decoded log record of any type. Fields that a type does not
// have are zero.
type Record struct {
	Type       log.RecordType
	Key        OffsetKey   // Key.Group is set for every type
	Value      OffsetValue // TypeOffsetCommit
	Generation int32       // TypeGroupMetadata
	Time       int64       // Unix milliseconds of the write, every type
}

// AppendOffsetCommit appends the data of a TypeOffsetCommit record:
//
//	version u8 | group str | topic str | partition u32 | offset u64 |
//	commit_time i64 | metadata str
//
// where str is a uvarint length and that many bytes, integers little endian.
func AppendOffsetCommit(dst []byte, group, topic []byte, partition int32, v OffsetValue) []byte {
	dst = append(dst, schemaVersion)
	dst = appendStr(dst, group)
	dst = appendStr(dst, topic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(partition))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(v.Offset))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(v.CommitTime))
	return appendStr(dst, []byte(v.Metadata))
}

// AppendOffsetTombstone appends the data of a TypeOffsetTombstone record:
//
//	version u8 | group str | topic str | partition u32 | delete_time i64
func AppendOffsetTombstone(dst []byte, group, topic []byte, partition int32, at int64) []byte {
	dst = append(dst, schemaVersion)
	dst = appendStr(dst, group)
	dst = appendStr(dst, topic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(partition))
	return binary.LittleEndian.AppendUint64(dst, uint64(at))
}

// AppendGroupMetadata appends the data of a TypeGroupMetadata record:
//
//	version u8 | group str | generation u32 | time i64
func AppendGroupMetadata(dst []byte, group []byte, generation int32, at int64) []byte {
	dst = append(dst, schemaVersion)
	dst = appendStr(dst, group)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(generation))
	return binary.LittleEndian.AppendUint64(dst, uint64(at))
}

// AppendGroupTombstone appends the data of a TypeGroupTombstone record:
//
//	version u8 | group str | delete_time i64
func AppendGroupTombstone(dst []byte, group []byte, at int64) []byte {
	dst = append(dst, schemaVersion)
	dst = appendStr(dst, group)
	return binary.LittleEndian.AppendUint64(dst, uint64(at))
}

// DecodeRecord decodes a log record. Strings in the result are copies.
func DecodeRecord(r log.Record) (Record, error) {
	v, err := decodeView(r)
	rec := Record{
		Type:       v.typ,
		Key:        OffsetKey{Group: string(v.group), Topic: string(v.topic), Partition: v.partition},
		Generation: v.generation,
		Time:       v.time,
	}
	if v.typ == TypeOffsetCommit {
		rec.Value = OffsetValue{Offset: v.offset, Metadata: string(v.metadata), CommitTime: v.time}
	}
	return rec, err
}

// RecordTime returns the time a record carries, in Unix milliseconds: an
// offset commit's commit time, a group record's time, a tombstone's delete
// time. A record that does not decode is an error wrapping ErrRecord.
func RecordTime(r log.Record) (int64, error) {
	v, err := decodeView(r)
	return v.time, err
}

// recordView is a decoded record whose strings alias the log's buffer; replay
// uses it to look keys up without copying them.
type recordView struct {
	typ        log.RecordType
	group      []byte
	topic      []byte
	partition  int32
	offset     int64
	metadata   []byte
	generation int32
	time       int64
}

func decodeView(r log.Record) (recordView, error) {
	v := recordView{typ: r.Type}
	if r.Type < TypeOffsetCommit || r.Type > TypeGroupTombstone {
		return v, fmt.Errorf("%w: unknown record type %d", ErrRecord, r.Type)
	}
	d := decoder{b: r.Data}
	if ver := d.u8(); d.err == nil && ver != schemaVersion {
		return v, fmt.Errorf("%w: type %d has schema version %d, this program reads %d", ErrRecord, r.Type, ver, schemaVersion)
	}
	v.group = d.str()
	switch r.Type {
	case TypeOffsetCommit:
		v.topic = d.str()
		v.partition = d.partition()
		v.offset = d.i64()
		v.time = d.i64()
		v.metadata = d.str()
		if d.err == nil && v.offset < 0 {
			d.err = fmt.Errorf("negative offset %d", v.offset)
		}
	case TypeOffsetTombstone:
		v.topic = d.str()
		v.partition = d.partition()
		v.time = d.i64()
	case TypeGroupMetadata:
		v.generation = d.partition()
		v.time = d.i64()
	case TypeGroupTombstone:
		v.time = d.i64()
	default:
		return v, fmt.Errorf("%w: unknown record type %d", ErrRecord, r.Type)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	if d.err != nil {
		return v, fmt.Errorf("%w: type %d: %v", ErrRecord, r.Type, d.err)
	}
	if len(v.group) == 0 || (len(v.topic) == 0 && (r.Type == TypeOffsetCommit || r.Type == TypeOffsetTombstone)) {
		return v, fmt.Errorf("%w: type %d: empty group or topic", ErrRecord, r.Type)
	}
	return v, nil
}

// appendKey appends the key of a record of type t: 'o', group, topic and
// partition for offset records, 'g' and group for group records, with
// length-prefixed names so that no two keys collide. Records with equal
// keys supersede each other in log order.
func appendKey(dst []byte, t log.RecordType, group, topic []byte, partition int32) []byte {
	if t == TypeOffsetCommit || t == TypeOffsetTombstone {
		dst = append(dst, 'o')
		dst = appendStr(dst, group)
		dst = appendStr(dst, topic)
		return binary.LittleEndian.AppendUint32(dst, uint32(partition))
	}
	dst = append(dst, 'g')
	return appendStr(dst, group)
}

func appendStr(dst, s []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads fields off a record's data, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated %s", what)
	}
	d.b = nil
}

func (d *decoder) u8() byte {
	if len(d.b) < 1 {
		d.fail("version")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) str() []byte {
	n, w := binary.Uvarint(d.b)
	if w <= 0 || n > uint64(len(d.b)-w) || w != uvarintLen(n) {
		d.fail("string")
		return nil
	}
	s := d.b[w : w+int(n) : w+int(n)]
	d.b = d.b[w+int(n):]
	return s
}

// partition reads a u32 that must fit an int32 (partitions and generations).
func (d *decoder) partition() int32 {
	if len(d.b) < 4 {
		d.fail("u32")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	if v > math.MaxInt32 && d.err == nil {
		d.err = fmt.Errorf("u32 field %d out of range", v)
	}
	return int32(v)
}

func (d *decoder) i64() int64 {
	if len(d.b) < 8 {
		d.fail("u64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return int64(v)
}

// uvarintLen is the length of x's shortest uvarint encoding; decoding only
// accepts that one, so a record has exactly one encoding.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}
