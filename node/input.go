package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// MaxMessageBytes bounds one input message, counting every byte of it from
// its first to its last. A larger message is skipped whole.
const MaxMessageBytes = 64 << 20

// maxDepth is how deeply objects and arrays may nest: fastjson's limit, so
// that every text the scanner accepts, fastjson parses too (the tests hold
// the parser to a fastjson reference).
const maxDepth = 300

// Framing rules. The input is a stream of JSON texts (RFC 8259), each one
// value, delimited by a scan that knows strings, escapes and nesting, never
// by line starts: a value may span lines, and two values may share a line.
// Whitespace between values (space, tab, CR, LF) is skipped, and the last
// value may lack its newline. The same scan validates the text strictly:
// the input must be UTF-8, strings may hold no raw control character and
// only the escapes of RFC 8259, numbers follow its grammar (no leading
// zeros, "+", "1." or ".5", no NaN), and there are no trailing commas.
//
// A text that is not valid JSON is skipped whole, with one log line naming
// the line it started on and why. Framing then resumes at the first line
// that can start a new message, a line whose first character other than
// space, tab or CR is "{": the line where the error was found when the
// error is that very "{" (a message cut short, then the next message),
// otherwise the first such line after it. Lines that were read as part of
// the broken text are never taken back, so a nested object alone on a line
// inside a broken message never runs as a request of its own.
//
// A message longer than MaxMessageBytes is scanned to its end, without
// keeping it, and skipped whole.

// framer splits the input stream into JSON texts.
type framer struct {
	r   *bufio.Reader
	max int // MaxMessageBytes, smaller in tests
	sc  scanner
	// line is the number (from 1) of the line holding the next unread byte.
	line int
	// The message being read: its line, its bytes so far when it spans
	// reads (only a preview once it is over the limit), and its size.
	inMsg bool
	start int
	acc   []byte
	size  int
	// tailBlank: the message's bytes before the current read hold only
	// space, tab or CR after their last newline (kept even once acc is only
	// a preview, for onlySpaceBefore).
	tailBlank bool
	// resync: skipping input after an error, until a line starting with
	// "{"; atLineStart: only space, tab or CR seen on the current line.
	resync      bool
	atLineStart bool

	// msgLine and lone describe the message next returned last: the line
	// it started on, and whether it holds a lone surrogate escape.
	msgLine int
	lone    bool

	skipped func(reason string, line int, text []byte)
}

func newFramer(r io.Reader, skipped func(reason string, line int, text []byte)) *framer {
	return &framer{r: bufio.NewReaderSize(r, 1<<20), max: MaxMessageBytes, line: 1, skipped: skipped}
}

func peekAll(r *bufio.Reader) []byte {
	b, _ := r.Peek(r.Buffered())
	return b
}

// previewBytes is how much of a skipped message is kept for its log line.
const previewBytes = 200

// next returns the next JSON text, a valid one, with f.msgLine and f.lone
// set. It is valid until the next call. Invalid or oversized texts are
// reported to f.skipped and skipped.
func (f *framer) next() ([]byte, error) {
	for {
		b := peekAll(f.r)
		if len(b) == 0 {
			if _, err := f.r.Peek(1); err != nil {
				if f.inMsg {
					f.inMsg = false
					if err == io.EOF && f.sc.complete() {
						// A number at the very end of the input.
						if msg, ok := f.finish(nil); ok {
							return msg, nil
						}
					} else if err == io.EOF {
						f.skipped("input ended inside a value", f.start, f.acc)
					}
				}
				return nil, err
			}
			continue
		}
		if f.resync {
			n := f.skipLines(b)
			f.r.Discard(n)
			if f.resync {
				continue
			}
			b = b[n:]
		}
		if !f.inMsg {
			i := 0
			for i < len(b) && isSpace(b[i]) {
				if b[i] == '\n' {
					f.line++
				}
				i++
			}
			f.r.Discard(i)
			if i == len(b) {
				continue
			}
			b = b[i:]
			if cap(f.acc) > 4<<20 {
				f.acc = nil // do not keep a huge message's buffer for good
			}
			f.inMsg, f.start, f.acc, f.size, f.tailBlank = true, f.line, f.acc[:0], 0, false
			f.sc.reset()
		}
		n, st := f.sc.scan(b)
		switch st {
		case scanMore:
			f.keep(b)
			f.r.Discard(len(b))
		case scanDone:
			f.r.Discard(n)
			f.inMsg = false
			if msg, ok := f.finish(b[:n]); ok {
				return msg, nil
			}
		case scanError:
			f.inMsg = false
			f.fail(b, n)
		}
	}
}

// keep adds part of the message to f.acc, or only counts it once the
// message is over the limit.
func (f *framer) keep(b []byte) {
	f.size += len(b)
	f.tailBlank = blankAfterNewline(b, f.tailBlank)
	if f.size <= f.max {
		f.acc = append(f.acc, b...)
	} else if len(f.acc) < previewBytes {
		f.acc = append(f.acc, b[:min(len(b), previewBytes-len(f.acc))]...)
	}
}

// finish completes the message whose last part is tail, and reports
// whether it is to be returned rather than skipped.
func (f *framer) finish(tail []byte) ([]byte, bool) {
	f.line = f.start + f.sc.lines
	msg := tail
	if len(f.acc) > 0 || f.size > 0 {
		f.keep(tail)
		msg = f.acc
	} else {
		f.size = len(tail)
	}
	if f.size > f.max {
		f.skipped(fmt.Sprintf("message of %d bytes, over the limit of %d", f.size, f.max), f.start, f.acc)
		return nil, false
	}
	f.msgLine, f.lone = f.start, f.sc.lone
	return msg, true
}

// fail reports the invalid message whose error is at b[n], and sets up
// resynchronisation.
func (f *framer) fail(b []byte, n int) {
	// The preview: the text up to the error, and the rest of its line.
	end := len(b)
	if j := bytes.IndexByte(b[n:], '\n'); j >= 0 {
		end = n + j
	}
	text := b[:min(end, previewBytes)]
	if len(f.acc) > 0 {
		text = append(f.acc[:min(len(f.acc), previewBytes):min(len(f.acc), previewBytes)], b[:min(end, previewBytes)]...)
	}
	f.skipped("invalid JSON: "+f.sc.reason(b[n]), f.start, text)
	f.line = f.start + f.sc.lines
	switch {
	case b[n] == '{' && f.onlySpaceBefore(b[:n]):
		// The broken text ended before this line, which starts the next
		// message.
		f.r.Discard(n)
	case b[n] == '\n':
		f.r.Discard(n + 1)
		f.line++
		f.resync, f.atLineStart = true, true
	default:
		f.r.Discard(n)
		f.resync, f.atLineStart = true, false
	}
}

// onlySpaceBefore reports whether the current line holds only space, tab or
// CR before the byte that follows head (and the message's bytes from
// earlier reads, even when only a preview of them is kept).
func (f *framer) onlySpaceBefore(head []byte) bool {
	return blankAfterNewline(head, f.size > 0 && f.tailBlank)
}

// blankAfterNewline reports whether a text ending with b holds only space,
// tab or CR after its last newline; before b, the text did when blank.
func blankAfterNewline(b []byte, blank bool) bool {
	for i := len(b) - 1; i >= 0; i-- {
		switch b[i] {
		case '\n':
			return true
		case ' ', '\t', '\r':
		default:
			return false
		}
	}
	return blank
}

// skipLines skips input up to a line that starts with "{", clearing
// f.resync when it finds one, and returns how many bytes of b it skipped.
func (f *framer) skipLines(b []byte) int {
	i := 0
	for i < len(b) {
		if f.atLineStart {
			switch b[i] {
			case ' ', '\t', '\r':
				i++
				continue
			case '\n':
				f.line++
				i++
				continue
			case '{':
				f.resync = false
				return i
			}
			f.atLineStart = false
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return len(b)
		}
		i += j + 1
		f.line++
		f.atLineStart = true
	}
	return i
}

func isSpace(c byte) bool { return space[c] }

// space marks JSON's whitespace.
var space = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}

// scanStatus is what scanner.scan found.
type scanStatus uint8

const (
	scanMore  scanStatus = iota // the value goes on past the bytes given
	scanDone                    // the value ended
	scanError                   // the bytes are not JSON
)

// scanState is where the scanner is in the grammar.
type scanState uint8

const (
	stValue      scanState = iota // a value must start (at the top, after ':' or an array's ',')
	stArrayFirst                  // after '[': a value or ']'
	stObjFirst                    // after '{': a key or '}'
	stKey                         // after an object's ',': a key
	stColon                       // after a key
	stAfter                       // after a value inside an object or array
	stString
	stEscape
	stHex  // in the four digits of a \u escape
	stUTF8 // in the continuation bytes of a multi-byte UTF-8 sequence
	stMinus
	stZero
	stInt
	stDot
	stFrac
	stE
	stESign
	stExp
	stLiteral
	stDone
)

// scanErr says what made a text invalid.
type scanErr uint8

const (
	errValue scanErr = iota + 1
	errKey
	errColon
	errAfterMember
	errAfterElement
	errTrailingComma
	errControl
	errEscape
	errHex
	errUTF8
	errNumber
	errLeadingZero
	errLiteral
	errDepth
)

// scanner is a resumable scanner of one JSON value, validating RFC 8259
// strictly as it goes (the grammar, UTF-8, escapes) in a single pass, so
// that the framer both finds a value's end and knows it is JSON.
type scanner struct {
	state scanState
	key   bool   // the string being scanned is an object key
	stack []byte // the open objects and arrays: '{' or '['
	lines int    // newlines seen inside the value
	err   scanErr
	// A \u escape: digits left and value so far; whether the last escape
	// was a high surrogate that a low one must follow; whether a lone
	// surrogate was seen anywhere.
	hexLeft uint8
	hex     uint16
	hi      bool
	lone    bool
	// A UTF-8 sequence: continuation bytes left and the range of the next.
	need   uint8
	lo, up byte
	// A literal: what is left of it.
	lit string
}

func (s *scanner) reset() {
	s.state, s.stack, s.lines, s.err, s.hi, s.lone = stValue, s.stack[:0], 0, 0, false, false
}

// complete reports whether the value is whole at the end of the input: a
// number at the top level ends there.
func (s *scanner) complete() bool {
	if len(s.stack) > 0 {
		return false
	}
	switch s.state {
	case stZero, stInt, stFrac, stExp, stDone:
		return true
	}
	return false
}

// reason returns a short human text for the error, found at byte c.
func (s *scanner) reason(c byte) string {
	at := quoteByte(c)
	switch s.err {
	case errValue:
		return at + " where a value should start"
	case errKey:
		return at + " where a quoted key should start"
	case errColon:
		return at + " after a key, where ':' should be"
	case errAfterMember:
		return at + " after a value in an object, where ',' or '}' should be"
	case errAfterElement:
		return at + " after a value in an array, where ',' or ']' should be"
	case errTrailingComma:
		return "a trailing comma before " + at
	case errControl:
		return "a raw control character (" + at + ") inside a string; it must be escaped"
	case errEscape:
		return "a backslash then " + at + ", not a JSON escape"
	case errHex:
		return at + " in a \\u escape, where a hex digit should be"
	case errUTF8:
		return "not UTF-8 (byte " + at + ")"
	case errNumber:
		return at + " in a number"
	case errLeadingZero:
		return "a number with a leading zero"
	case errLiteral:
		return at + " in true, false or null"
	case errDepth:
		return fmt.Sprintf("nested deeper than %d levels", maxDepth)
	}
	return "invalid"
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("0x%02x", c)
}

// utf8Lead sets up the continuation bytes a UTF-8 lead byte c needs, and
// reports whether c can lead a sequence (shortest form, no surrogates,
// nothing above U+10FFFF).
func (s *scanner) utf8Lead(c byte) bool {
	s.lo, s.up = 0x80, 0xBF
	switch {
	case c >= 0xC2 && c <= 0xDF:
		s.need = 1
	case c == 0xE0:
		s.need, s.lo = 2, 0xA0
	case c == 0xED:
		s.need, s.up = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		s.need = 2
	case c == 0xF0:
		s.need, s.lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		s.need = 3
	case c == 0xF4:
		s.need, s.up = 3, 0x8F
	default:
		return false
	}
	return true
}

// strPlain marks the bytes a string holds as they are: printable ASCII
// other than '"' and '\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scan advances over b. It returns scanMore and len(b) when the value goes
// on; scanDone and the length of the value's last part in b when it ended
// (a number ends before the byte that ends it); scanError and the index of
// the offending byte.
func (s *scanner) scan(b []byte) (int, scanStatus) {
	// The state lives in a local while scanning: a field would be loaded
	// and stored at every byte.
	state := s.state
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch state {
		case stString:
			if s.hi && c != '\\' {
				s.hi, s.lone = false, true
			}
			for strPlain[c] {
				i++
				if i == len(b) {
					s.state = state
					return i, scanMore
				}
				c = b[i]
			}
			switch {
			case c == '"':
				if s.key {
					state = stColon
					// The usual `":"` and `":` + `"`, in one step: each trip
					// through the switch costs an indirect jump.
					if i+2 < len(b) && b[i+1] == ':' {
						state = stValue
						i++
						if n := b[i+1]; n == '"' {
							state, s.key = stString, false
							i++
						} else if n >= '1' && n <= '9' {
							state = stInt
							i++
						}
					}
				} else if state = s.after(); state == stDone {
					s.state = state
					return i + 1, scanDone
				} else if i+2 < len(b) && b[i+1] == ',' && b[i+2] == '"' && s.stack[len(s.stack)-1] == '{' {
					state, s.key = stString, true // `","`: the next key, in one step
					i += 2
				}
			case c == '\\':
				state = stEscape
			case c < 0x20:
				return s.fail(i, errControl)
			default:
				if !s.utf8Lead(c) {
					return s.fail(i, errUTF8)
				}
				state = stUTF8
			}
		case stUTF8:
			if c < s.lo || c > s.up {
				return s.fail(i, errUTF8)
			}
			s.lo, s.up = 0x80, 0xBF
			if s.need--; s.need == 0 {
				state = stString
			}
		case stEscape:
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				state = stString
			case 'u':
				state, s.hexLeft, s.hex = stHex, 4, 0
				continue
			default:
				return s.fail(i, errEscape)
			}
			if s.hi {
				s.hi, s.lone = false, true
			}
		case stHex:
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				return s.fail(i, errHex)
			}
			s.hex = s.hex<<4 | uint16(d)
			if s.hexLeft--; s.hexLeft > 0 {
				continue
			}
			state = stString
			isHi := s.hex >= 0xD800 && s.hex <= 0xDBFF
			isLo := s.hex >= 0xDC00 && s.hex <= 0xDFFF
			if s.hi {
				s.hi = false
				if isLo {
					continue
				}
				s.lone = true
			} else if isLo {
				s.lone = true
			}
			s.hi = isHi
		case stValue, stArrayFirst:
			if isSpace(c) {
				if c == '\n' {
					s.lines++
				}
				continue
			}
			if c == ']' && len(s.stack) > 0 && s.stack[len(s.stack)-1] == '[' {
				if state == stValue {
					return s.fail(i, errTrailingComma)
				}
				s.stack = s.stack[:len(s.stack)-1]
				if state = s.after(); state == stDone {
					s.state = state
					return i + 1, scanDone
				}
				continue
			}
			var ok bool
			if state, ok = s.begin(c); !ok {
				return i, scanError
			}
		case stObjFirst, stKey:
			if isSpace(c) {
				if c == '\n' {
					s.lines++
				}
				continue
			}
			switch {
			case c == '"':
				state, s.key = stString, true
			case c == '}' && state == stObjFirst:
				s.stack = s.stack[:len(s.stack)-1]
				if state = s.after(); state == stDone {
					s.state = state
					return i + 1, scanDone
				}
			case c == '}':
				return s.fail(i, errTrailingComma)
			default:
				return s.fail(i, errKey)
			}
		case stColon:
			if isSpace(c) {
				if c == '\n' {
					s.lines++
				}
				continue
			}
			if c != ':' {
				return s.fail(i, errColon)
			}
			state = stValue
		case stAfter:
			if isSpace(c) {
				if c == '\n' {
					s.lines++
				}
				continue
			}
			top := s.stack[len(s.stack)-1]
			switch {
			case c == ',' && top == '{':
				state = stKey
				if i+1 < len(b) && b[i+1] == '"' {
					state, s.key = stString, true
					i++
				}
			case c == ',':
				state = stValue
			case c == '}' && top == '{', c == ']' && top == '[':
				s.stack = s.stack[:len(s.stack)-1]
				if state = s.after(); state == stDone {
					s.state = state
					return i + 1, scanDone
				}
			case top == '{':
				return s.fail(i, errAfterMember)
			default:
				return s.fail(i, errAfterElement)
			}
		case stMinus:
			switch {
			case c == '0':
				state = stZero
			case c >= '1' && c <= '9':
				state = stInt
			default:
				return s.fail(i, errNumber)
			}
		case stZero, stInt, stFrac, stExp:
			if state != stZero {
				for c >= '0' && c <= '9' {
					i++
					if i == len(b) {
						s.state = state
						return i, scanMore
					}
					c = b[i]
				}
			}
			switch {
			case c == '.' && (state == stZero || state == stInt):
				state = stDot
			case (c == 'e' || c == 'E') && state != stExp:
				state = stE
			case c >= '0' && c <= '9': // after a leading zero
				return s.fail(i, errLeadingZero)
			default:
				// The byte after the number: not part of it.
				if state = s.after(); state == stDone {
					s.state = state
					return i, scanDone
				}
				if c == ',' && i+1 < len(b) && b[i+1] == '"' && s.stack[len(s.stack)-1] == '{' {
					state, s.key = stString, true // `,"`: the next key, in one step
					i++
				} else {
					i-- // c again, after the value
				}
			}
		case stDot:
			if c < '0' || c > '9' {
				return s.fail(i, errNumber)
			}
			state = stFrac
		case stE:
			switch {
			case c == '+' || c == '-':
				state = stESign
			case c >= '0' && c <= '9':
				state = stExp
			default:
				return s.fail(i, errNumber)
			}
		case stESign:
			if c < '0' || c > '9' {
				return s.fail(i, errNumber)
			}
			state = stExp
		case stLiteral:
			if c != s.lit[0] {
				return s.fail(i, errLiteral)
			}
			if s.lit = s.lit[1:]; s.lit == "" {
				if state = s.after(); state == stDone {
					s.state = state
					return i + 1, scanDone
				}
			}
		case stDone:
			s.state = state
			return i, scanDone
		}
	}
	s.state = state
	return len(b), scanMore
}

// begin starts a value at byte c and returns the state it leads to, or
// false when c cannot start a value.
func (s *scanner) begin(c byte) (scanState, bool) {
	switch {
	case c == '"':
		s.key = false
		return stString, true
	case c == '{' || c == '[':
		if len(s.stack) == maxDepth {
			s.err = errDepth
			return stValue, false
		}
		s.stack = append(s.stack, c)
		if c == '[' {
			return stArrayFirst, true
		}
		return stObjFirst, true
	case c >= '1' && c <= '9':
		return stInt, true
	case c == '0':
		return stZero, true
	case c == '-':
		return stMinus, true
	case c == 't':
		s.lit = "rue"
	case c == 'f':
		s.lit = "alse"
	case c == 'n':
		s.lit = "ull"
	default:
		s.err = errValue
		return stValue, false
	}
	return stLiteral, true
}

// after returns the state after a finished value: stDone for the top-level
// one.
func (s *scanner) after() scanState {
	if len(s.stack) == 0 {
		return stDone
	}
	return stAfter
}

func (s *scanner) fail(i int, e scanErr) (int, scanStatus) {
	s.err = e
	return i, scanError
}
