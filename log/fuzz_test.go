package log

import (
	"bytes"
	"testing"
)

// FuzzDecodeEntry checks that no input makes the decoder panic or hand out
// a record that does not lie inside the entry, and that every entry it
// accepts re-encodes to the same bytes.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeEntry(1, Record{Type: 1, Data: []byte("hello")}))
	f.Add(EncodeEntry(9, Record{Type: 1, Data: nil}, Record{Type: 255, Data: bytes.Repeat([]byte{0}, 300)}))
	f.Add(make([]byte, 17))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, entry []byte) {
		var recs []Record
		idx, err := DecodeEntry(entry, func(r Record) error {
			recs = append(recs, Record{Type: r.Type, Data: append([]byte(nil), r.Data...)})
			return nil
		})
		if err != nil {
			if len(recs) != 0 {
				t.Fatalf("records handed out for a damaged entry: %v", err)
			}
			return
		}
		if again := EncodeEntry(idx, recs...); !bytes.Equal(again, entry) {
			t.Fatalf("accepted entry does not re-encode to itself:\n in %x\nout %x", entry, again)
		}
	})
}

// FuzzPlanRepair checks that any newest-segment content is either accepted
// whole, cut at an entry boundary that leaves only good entries, or refused.
func FuzzPlanRepair(f *testing.F) {
	seg := func(entries ...[]byte) []byte {
		var b []byte
		for _, e := range entries {
			b = append(b, byte(len(e)))
			b = append(b, e...)
		}
		return b
	}
	e1 := EncodeEntry(1, Record{Type: 1, Data: []byte("a")})
	e2 := EncodeEntry(2, Record{Type: 2, Data: []byte("bb")})
	f.Add(seg(e1, e2))
	f.Add(append(seg(e1), 0, 0, 0, 0))
	f.Add(append(seg(e1, e2), seg(e1)[:5]...))
	f.Add(append(seg(e1), append([]byte{0xff}, seg(e2)...)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := planRepair(segmentFile{index: 1, path: "fuzz"}, data)
		if err != nil || rep == nil {
			return
		}
		good, n, cause := validPrefix(data[:rep.Offset], 1)
		if cause != nil || int64(good) != rep.Offset || n != rep.EntriesKept {
			t.Fatalf("repair keeps a prefix that is not all good: %v", cause)
		}
		if rep.Dropped != int64(len(data))-rep.Offset || rep.Dropped == 0 {
			t.Fatalf("repair drops %d of %d bytes from offset %d", rep.Dropped, len(data), rep.Offset)
		}
	})
}
