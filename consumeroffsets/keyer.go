package consumeroffsets

import (
	"fmt"
	"time"

	"github.com/maelstrom-offsets/offsets/log"
)

// Keyer tells the compactor which key a record belongs to: an offset key
// (group, topic, partition) for offset commits and their tombstones, a group
// key for group records and theirs. It implements compactor.Keyer.
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
	k.buf = k.buf[:0]
	switch v.typ {
	case TypeOffsetCommit, TypeOffsetTombstone:
		k.buf = append(k.buf, 'o')
		k.buf = appendStr(k.buf, v.group)
		k.buf = appendStr(k.buf, v.topic)
		k.buf = append(k.buf, byte(v.partition), byte(v.partition>>8), byte(v.partition>>16), byte(v.partition>>24))
	case TypeGroupMetadata, TypeGroupTombstone:
		k.buf = append(k.buf, 'g')
		k.buf = appendStr(k.buf, v.group)
	default:
		return nil, false, time.Time{}, fmt.Errorf("%w: unknown record type %d", ErrRecord, r.Type)
	}
	tomb := v.typ == TypeOffsetTombstone || v.typ == TypeGroupTombstone
	return k.buf, tomb, time.UnixMilli(v.time), nil
}
