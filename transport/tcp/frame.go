package tcp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/maelstrom-offsets/offsets/transport"
	"github.com/maelstrom-offsets/offsets/transport/internal/link"
)

// Frame types; see the package doc for their payloads.
const (
	frameHello         byte = 1
	frameMessage       byte = 2
	frameSnapshotBegin byte = 3
	frameSnapshotChunk byte = 4
	frameSnapshotEnd   byte = 5
	frameSnapshotDone  byte = 6
)

// Connection kinds, named in the hello frame.
const (
	kindMessages byte = 1
	kindSnapshot byte = 2
)

const (
	headerSize  = 9 // length, type, CRC-32C
	helloMagic  = "OFRT"
	helloSize   = 4 + 1 + 1 + 8 + 8
	version     = 1
	snapEndSize = 8 + 4
	// readStep bounds how much a frame's buffer grows ahead of the bytes
	// that actually arrived, so that a hostile length within the limit
	// costs memory only as fast as the peer sends data.
	readStep = 1 << 20
)

// appendHeader reserves a frame header at the end of buf; sealFrame fills
// it in once the payload has been appended after it.
func appendHeader(buf []byte) []byte {
	return append(buf, make([]byte, headerSize)...)
}

// sealFrame writes the header of the frame that starts at buf[start:].
func sealFrame(buf []byte, start int, typ byte) {
	h := buf[start : start+headerSize]
	payload := buf[start+headerSize:]
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	h[4] = typ
	crc := crc32.Update(0, link.Castagnoli, h[4:5])
	binary.BigEndian.PutUint32(h[5:9], crc32.Update(crc, link.Castagnoli, payload))
}

// appendFrame appends a whole frame to buf.
func appendFrame(buf []byte, typ byte, payload []byte) []byte {
	start := len(buf)
	buf = append(appendHeader(buf), payload...)
	sealFrame(buf, start, typ)
	return buf
}

// frameHeader encodes the header of a frame whose payload is written
// separately (a snapshot chunk, which is not copied).
func frameHeader(typ byte, payload []byte) [headerSize]byte {
	var h [headerSize]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	h[4] = typ
	crc := crc32.Update(0, link.Castagnoli, h[4:5])
	binary.BigEndian.PutUint32(h[5:9], crc32.Update(crc, link.Castagnoli, payload))
	return h
}

// frameReader reads frames from one connection.
type frameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// next returns the next frame. The payload is valid until the next call.
// A length above the limit is refused before any of the payload is read or
// allocated.
func (fr *frameReader) next() (byte, []byte, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int64(binary.BigEndian.Uint32(h[0:4]))
	if n > int64(fr.max) {
		return 0, nil, fmt.Errorf("frame of %d bytes, limit %d: %w", n, fr.max, transport.ErrFrameTooLarge)
	}
	if cap(fr.buf) > 4*readStep {
		fr.buf = nil // do not keep a one-off large frame's buffer
	}
	fr.buf = fr.buf[:0]
	for int64(len(fr.buf)) < n {
		step := min(n-int64(len(fr.buf)), readStep)
		start := len(fr.buf)
		fr.buf = append(fr.buf, make([]byte, step)...)
		if _, err := io.ReadFull(fr.r, fr.buf[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
	crc := crc32.Update(0, link.Castagnoli, h[4:5])
	if crc32.Update(crc, link.Castagnoli, fr.buf) != binary.BigEndian.Uint32(h[5:9]) {
		return 0, nil, fmt.Errorf("frame type %d of %d bytes: bad CRC-32C: %w", h[4], n, transport.ErrCorrupt)
	}
	return h[4], fr.buf, nil
}

type hello struct {
	kind     byte
	from, to uint64
}

func appendHello(buf []byte, h hello) []byte {
	var p [helloSize]byte
	copy(p[:4], helloMagic)
	p[4] = version
	p[5] = h.kind
	binary.BigEndian.PutUint64(p[6:14], h.from)
	binary.BigEndian.PutUint64(p[14:22], h.to)
	return appendFrame(buf, frameHello, p[:])
}

func parseHello(typ byte, p []byte) (hello, error) {
	if typ != frameHello || len(p) != helloSize || string(p[:4]) != helloMagic {
		return hello{}, fmt.Errorf("connection does not start with a hello frame: %w", transport.ErrCorrupt)
	}
	if p[4] != version {
		return hello{}, fmt.Errorf("hello of version %d, want %d: %w", p[4], version, transport.ErrCorrupt)
	}
	return hello{kind: p[5], from: binary.BigEndian.Uint64(p[6:14]), to: binary.BigEndian.Uint64(p[14:22])}, nil
}
