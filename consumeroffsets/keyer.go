package consumeroffsets

import (
	"encoding/binary"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// Keyer tells which key a record belongs to: an offset key (group, topic,
// partition) for offset commits and their tombstones, a group key for group
// records and theirs. Records with equal keys supersede each other in log
// order.
type Keyer struct {
	buf []byte
}

// Classify returns the record's key, whether it is a tombstone, and its time.
// The key is valid until the next call.
func (k *Keyer) Classify(r log.Record) ([]byte, bool, time.Time, error) {
	v, err := decodeView(r)
	if err != nil {
		return nil, false, time.Time{}, err
	}
	k.buf = appendKey(k.buf[:0], v.typ, v.group, v.topic, v.partition)
	tomb := v.typ == TypeOffsetTombstone || v.typ == TypeGroupTombstone
	return k.buf, tomb, time.UnixMilli(v.time), nil
}

// appendKey appends the key of a record of type t: 'o', group, topic and
// partition for offset records, 'g' and group for group records, with
// length-prefixed names so that no two keys collide.
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
