package node

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendPyString appends s as a JSON string exactly as Python's json.dumps
// writes it with its defaults (ensure_ascii=True): `"` and `\` escaped, the
// short escapes \n \r \t \b \f, every other control character and U+007F as
// \u00XX, every non-ASCII character as \uXXXX (a surrogate pair above
// U+FFFF), and everything else, `<>&/` included, as is. Bytes that are not
// UTF-8 are written as U+FFFD, as Python would have decoded them.
func appendPyString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendU4(dst, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r >= 0x10000 {
			r -= 0x10000
			dst = appendU4(dst, 0xD800+(r>>10))
			dst = appendU4(dst, 0xDC00+(r&0x3FF))
		} else {
			dst = appendU4(dst, r) // utf8.RuneError for invalid bytes
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// replyWriter builds reply lines in Maelstrom's envelope with the key order
// and separators of Python's json.dumps: src, dest, body; in the body type,
// in_reply_to, the reply's own fields, msg_id.
type replyWriter struct {
	buf      []byte
	msgID    int64 // id of the next message sent
	lastCode int   // code of the last error reply, for counting; reset by the caller
}

// begin starts a reply and writes the body up to and including in_reply_to.
func (w *replyWriter) begin(src, dest []byte, typ string, inReplyTo int64) {
	w.buf = append(w.buf, `{"src": `...)
	w.buf = appendPyString(w.buf, src)
	w.buf = append(w.buf, `, "dest": `...)
	w.buf = appendPyString(w.buf, dest)
	w.buf = append(w.buf, `, "body": {"type": "`...)
	w.buf = append(w.buf, typ...) // reply types are fixed ASCII names
	w.buf = append(w.buf, `", "in_reply_to": `...)
	w.buf = strconv.AppendInt(w.buf, inReplyTo, 10)
}

// intField writes `, "name": v`.
func (w *replyWriter) intField(name string, v int64) {
	w.buf = append(w.buf, `, "`...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, `": `...)
	w.buf = strconv.AppendInt(w.buf, v, 10)
}

// stringField writes `, "name": "v"` with v escaped.
func (w *replyWriter) stringField(name string, v []byte) {
	w.buf = append(w.buf, `, "`...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, `": `...)
	w.buf = appendPyString(w.buf, v)
}

// rawField writes `, "name": v` with v as it is (a JSON literal).
func (w *replyWriter) rawField(name, v string) {
	w.buf = append(w.buf, `, "`...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, `": `...)
	w.buf = append(w.buf, v...)
}

// end writes msg_id, closes the reply and counts it as sent.
func (w *replyWriter) end() {
	w.buf = append(w.buf, `, "msg_id": `...)
	w.buf = strconv.AppendInt(w.buf, w.msgID, 10)
	w.buf = append(w.buf, "}}\n"...)
	w.msgID++
}

// errorReply writes a complete Maelstrom error reply.
func (w *replyWriter) errorReply(src, dest []byte, inReplyTo int64, code int, text string) {
	w.lastCode = code
	w.begin(src, dest, "error", inReplyTo)
	w.intField("code", int64(code))
	w.stringField("text", []byte(text))
	w.end()
}

// errorReplyTo writes an error reply to request r, with in_reply_to its
// msg_id as sent when that is an integer out of int64's range.
func (w *replyWriter) errorReplyTo(src []byte, r *request, code int, text string) {
	if r.msgIDText == nil {
		w.errorReply(src, r.src, r.msgID, code, text)
		return
	}
	w.begin(src, r.src, "error", 0)
	w.buf = append(w.buf[:len(w.buf)-1], r.msgIDText...) // a JSON integer literal, as Python prints it
	w.intField("code", int64(code))
	w.stringField("text", []byte(text))
	w.end()
}

// openArray writes `, "name": [`.
func (w *replyWriter) openArray(name string) {
	w.buf = append(w.buf, `, "`...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, `": [`...)
}

func (w *replyWriter) closeArray() { w.buf = append(w.buf, ']') }

// arrayString writes one string element of an open array.
func (w *replyWriter) arrayString(first bool, s string) {
	if !first {
		w.buf = append(w.buf, ", "...)
	}
	w.buf = appendPyString(w.buf, []byte(s))
}

// offsetObject writes one element of fetch_offsets' array.
func (w *replyWriter) offsetObject(first bool, topic string, partition int32, offset int64, metadata string) {
	if !first {
		w.buf = append(w.buf, ", "...)
	}
	w.buf = append(w.buf, `{"topic": `...)
	w.buf = appendPyString(w.buf, []byte(topic))
	w.buf = append(w.buf, `, "partition": `...)
	w.buf = strconv.AppendInt(w.buf, int64(partition), 10)
	w.buf = append(w.buf, `, "offset": `...)
	w.buf = strconv.AppendInt(w.buf, offset, 10)
	w.buf = append(w.buf, `, "metadata": `...)
	w.buf = appendPyString(w.buf, []byte(metadata))
	w.buf = append(w.buf, '}')
}
