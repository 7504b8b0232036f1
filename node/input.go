package node

import (
	"bufio"
	"bytes"
	"io"
)

// MaxMessageBytes bounds one input message. Larger input is skipped.
const MaxMessageBytes = 64 << 20

// framer splits the input stream into JSON texts: normally one per line,
// but an object pretty-printed over several lines is joined back together.
// Blank lines are skipped; the last line may lack its newline.
type framer struct {
	r       *bufio.Reader
	line    []byte // assembled long line
	pending []byte // an unfinished multi-line object
	held    []byte // a line read while joining that starts a new message
	skipped func(reason string, text []byte)
}

func newFramer(r io.Reader, skipped func(string, []byte)) *framer {
	return &framer{r: bufio.NewReaderSize(r, 1<<20), skipped: skipped}
}

// readLine returns the next line without its line ending, or io.EOF.
// The result is valid until the next call.
func (f *framer) readLine() ([]byte, error) {
	if f.held != nil {
		l := f.held
		f.held = nil
		return l, nil
	}
	b, err := f.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		f.line = append(f.line[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = f.r.ReadSlice('\n')
			if len(f.line) <= MaxMessageBytes {
				f.line = append(f.line, b...)
			}
		}
		b = f.line
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == io.EOF && len(b) == 0 {
		return nil, io.EOF
	}
	if len(b) > MaxMessageBytes {
		f.skipped("message larger than the limit", b[:200])
		return []byte{}, nil
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// next returns the next JSON text to parse. It is valid until the next call.
func (f *framer) next() ([]byte, error) {
	for {
		l, err := f.readLine()
		if err == io.EOF && f.pending != nil {
			f.skipped("input ended inside an object", f.pending)
			f.pending = nil
		}
		if err != nil {
			return nil, err
		}
		t := bytes.TrimSpace(l)
		if f.pending == nil {
			if len(t) == 0 {
				continue
			}
			if t[0] != '{' || t[len(t)-1] == '}' || depth(t) <= 0 {
				return t, nil // complete, or not an object: the parser decides
			}
			f.pending = append(f.pending[:0], t...)
			continue
		}
		if len(t) > 0 && t[0] == '{' && depth(t) == 0 {
			// A whole object on one line while joining: the joined text
			// was a broken message, and this line starts the next one.
			f.skipped("unterminated object", f.pending)
			f.pending = nil
			f.held = append([]byte(nil), t...)
			continue
		}
		f.pending = append(f.pending, '\n')
		f.pending = append(f.pending, t...)
		if len(f.pending) > MaxMessageBytes {
			f.skipped("message larger than the limit", f.pending[:200])
			f.pending = nil
			continue
		}
		if depth(f.pending) <= 0 {
			msg := f.pending
			f.pending = nil
			return msg, nil
		}
	}
}

// depth returns how many objects and arrays are left open at the end of b,
// outside strings: 0 for a balanced text, negative for excess closers.
func depth(b []byte) int {
	d := 0
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			d++
		case '}', ']':
			d--
		}
	}
	return d
}
