package node

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
)

// Maelstrom error codes this node sends.
const (
	CodeTemporarilyUnavailable = 11
	CodeMalformedRequest       = 12
	CodeNotSupported           = 10
	CodeCrash                  = 13
	CodePreconditionFailed     = 22
)

// kind is what a request asks for.
type kind uint8

const (
	kindInvalid kind = iota // answered with the error in errCode/errText
	kindInit
	kindCommit
	kindFetch
	kindCommitBatch
	kindFetchGroup
	kindListGroups
	kindDeleteOffsets
	kindDeleteGroup
	kindClusterStatus
)

// maxMetadataBytes is the longest commit metadata, in UTF-8 bytes.
const maxMetadataBytes = consumeroffsets.MaxMetadataBytes

// commitEntry is one entry of a commit_offsets request.
type commitEntry struct {
	topic     []byte
	partition int32
	offset    int64
	metadata  []byte
}

// request is one parsed message. Byte slices point into the arena of the
// chunk that holds it.
type request struct {
	src, dest []byte
	msgID     int64
	msgIDText []byte // a msg_id integer out of int64's range, as sent
	kind      kind
	typ       []byte // the message's type, for error texts

	nodeID    []byte // init
	group     []byte // commit_offset, fetch_offset
	topic     []byte
	partition int32
	offset    int64
	metadata  []byte // commit_offset; "" when absent

	generation int32 // commit_offset, commit_offsets
	hasGen     bool

	entries    []commitEntry // commit_offsets
	topics     [][]byte      // fetch_offsets; nil means all
	partitions []int32       // delete_offsets; nil means all

	errCode int // kindInvalid
	errText string
}

// errSkip marks input that is not a message at all: it gets no reply.
var errSkip = errors.New("not a Maelstrom message")

// parser turns one JSON text into a request. It is not safe for concurrent
// use; the arena it appends to belongs to the caller.
//
// It reads the text in one pass, without building a tree: the framer's
// scanner has already checked that the text is RFC 8259 JSON (the
// grammar, UTF-8, escapes, nesting depth), so the parser only finds the
// values of the envelope's and the body's fields and decodes the ones the
// node keeps, straight into the arena.
type parser struct {
	env  envFields
	body bodyFields
	key  []byte // scratch for a key that holds an escape
}

// jsonType is the type of a jsonValue.
type jsonType uint8

const (
	typeAbsent jsonType = iota // the field is not in the object
	typeNull
	typeTrue
	typeFalse
	typeNumber
	typeString
	typeArray
	typeObject
)

func (t jsonType) String() string {
	switch t {
	case typeNull:
		return "null"
	case typeTrue:
		return "true"
	case typeFalse:
		return "false"
	case typeNumber:
		return "number"
	case typeString:
		return "string"
	case typeArray:
		return "array"
	case typeObject:
		return "object"
	}
	return "absent"
}

// jsonValue is a value in a text the scanner accepted.
type jsonValue struct {
	typ jsonType
	esc bool // a string holds a backslash escape
	// raw is a string's bytes between its quotes, escapes as written; a
	// number's literal; an object's or an array's whole text.
	raw []byte
}

// skipSpace returns the index of the first byte from i on that is not JSON
// whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// readValue reads the value starting at b[i], which must be one (the text
// is valid JSON), and returns it and the index after it.
func readValue(b []byte, i int) (jsonValue, int) {
	switch c := b[i]; c {
	case '"':
		return readString(b, i)
	case '{', '[':
		end := skipNested(b, i)
		typ := typeObject
		if c == '[' {
			typ = typeArray
		}
		return jsonValue{typ: typ, raw: b[i:end]}, end
	case 't':
		return jsonValue{typ: typeTrue, raw: b[i : i+4]}, i + 4
	case 'f':
		return jsonValue{typ: typeFalse, raw: b[i : i+5]}, i + 5
	case 'n':
		return jsonValue{typ: typeNull, raw: b[i : i+4]}, i + 4
	}
	j := i + 1
	for j < len(b) && isNumberByte[b[j]] {
		j++
	}
	return jsonValue{typ: typeNumber, raw: b[i:j]}, j
}

// isNumberByte marks the bytes a JSON number is made of.
var isNumberByte = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true,
	'7': true, '8': true, '9': true, '-': true, '+': true, '.': true, 'e': true, 'E': true}

// readString reads the string whose opening quote is b[i].
func readString(b []byte, i int) (jsonValue, int) {
	start := i + 1
	esc := false
	j := start
	for {
		c := b[j]
		if c == '"' {
			break
		}
		if c == '\\' {
			esc = true
			j++ // the escaped byte; a \u escape's digits are plain bytes
		}
		j++
	}
	return jsonValue{typ: typeString, esc: esc, raw: b[start:j]}, j + 1
}

// skipNested returns the index after the object or array that starts at
// b[i].
func skipNested(b []byte, i int) int {
	depth := 0
	for ; ; i++ {
		switch b[i] {
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		case '"':
			_, end := readString(b, i)
			i = end - 1
		}
	}
}

// members iterates over the members of an object: nextKey returns a
// member's key, then value or bodyFields.read reads its value.
type members struct {
	b []byte
	i int // after the object's '{' or a member, or at a member's value
}

// nextKey returns the next member's key, undecoded, leaving m at its value;
// false after the last member, leaving m after the object.
func (m *members) nextKey() (jsonValue, bool) {
	i := skipSpace(m.b, m.i)
	if m.b[i] == '}' {
		m.i = i + 1
		return jsonValue{}, false
	}
	if m.b[i] == ',' {
		i = skipSpace(m.b, i+1)
	}
	key, i := readString(m.b, i)
	m.i = skipSpace(m.b, skipSpace(m.b, i)+1) // after the ':'
	return key, true
}

// value reads the value of the member whose key nextKey returned.
func (m *members) value() jsonValue {
	var v jsonValue
	v, m.i = readValue(m.b, m.i)
	return v
}

// elements iterates over the elements of an array: next says whether
// there is one more, then value or bodyFields.read reads it.
type elements struct {
	b []byte
	i int // after the array's '[' or an element, or at an element
}

// next reports whether there is another element, leaving e at it.
func (e *elements) next() bool {
	i := skipSpace(e.b, e.i)
	if e.b[i] == ']' {
		e.i = i + 1
		return false
	}
	if e.b[i] == ',' {
		i = skipSpace(e.b, i+1)
	}
	e.i = i
	return true
}

// value reads the element next found.
func (e *elements) value() jsonValue {
	var v jsonValue
	v, e.i = readValue(e.b, e.i)
	return v
}

// decodeKey returns the key's decoded bytes, in ps.key when it holds an
// escape.
func (ps *parser) decodeKey(k jsonValue) []byte {
	if !k.esc {
		return k.raw
	}
	ps.key = appendUnescaped(ps.key[:0], k.raw)
	return ps.key
}

// appendUnescaped appends the string s, the bytes between the quotes of a
// JSON string the scanner accepted, decoded. A surrogate escape decodes as
// fastjson decodes it: one followed by another \u escape decodes with it
// as a UTF-16 pair (U+FFFD when they are not one), one not followed by a
// \u escape stays as its six characters.
func appendUnescaped(dst, s []byte) []byte {
	for {
		n := bytes.IndexByte(s, '\\')
		if n < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:n]...)
		c := s[n+1]
		s = s[n+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			x := rune(hex4(s))
			xs := s[:4]
			s = s[4:]
			switch {
			case !utf16.IsSurrogate(x):
				dst = utf8.AppendRune(dst, x)
			case len(s) < 6 || s[0] != '\\' || s[1] != 'u':
				dst = append(append(dst, `\u`...), xs...)
			default:
				dst = utf8.AppendRune(dst, utf16.DecodeRune(x, rune(hex4(s[2:]))))
				s = s[6:]
			}
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
}

// hex4 returns the value of the four hex digits that start h.
func hex4(h []byte) uint16 {
	var x uint16
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		x = x<<4 | uint16(c)
	}
	return x
}

// envFields collects the envelope fields.
type envFields struct {
	src, dest, body jsonValue
}

func (e *envFields) set(k []byte, v jsonValue) {
	switch string(k) {
	case "src":
		e.src = v
	case "dest":
		e.dest = v
	case "body":
		e.body = v
	}
}

// parse parses msg into r, appending the bytes r keeps to *arena. msg must
// be a text the framer's scanner accepted (strict RFC 8259 JSON); lone
// says whether it holds a lone surrogate escape. A non-nil error means the
// input is to be skipped with a log line; a request that deserves an error
// reply comes back as kindInvalid with a nil error.
func (ps *parser) parse(msg []byte, lone bool, r *request, arena *[]byte) error {
	*r = request{}
	i := skipSpace(msg, 0)
	if msg[i] != '{' {
		v, _ := readValue(msg, i)
		return fmt.Errorf("%w: a %s, not an object", errSkip, v.typ)
	}
	// The body's fields are read where the body is, in the one pass over
	// the envelope; a later duplicate key wins, as in Python.
	ps.env = envFields{}
	for m := (members{b: msg, i: i + 1}); ; {
		k, ok := m.nextKey()
		if !ok {
			break
		}
		key := ps.decodeKey(k)
		if string(key) == "body" && m.b[m.i] == '{' {
			ps.env.body = jsonValue{typ: typeObject}
			m.i = ps.body.read(ps, m.b, m.i)
			continue
		}
		ps.env.set(key, m.value())
	}
	src, dest, body := ps.env.src, ps.env.dest, ps.env.body
	if src.typ != typeString {
		return fmt.Errorf("%w: no string src", errSkip)
	}
	if dest.typ != typeString {
		return fmt.Errorf("%w: no string dest", errSkip)
	}
	if body.typ != typeObject {
		return fmt.Errorf("%w: no object body", errSkip)
	}
	f := &ps.body
	if f.msgID.typ == typeAbsent {
		return fmt.Errorf("%w: body has no msg_id", errSkip)
	}
	id, ok := integer(f.msgID, math.MinInt64, math.MaxInt64)
	if !ok && !(f.msgID.typ == typeNumber && isIntegerLiteral(f.msgID.raw)) {
		return fmt.Errorf("%w: msg_id is not an integer", errSkip)
	}
	r.src = keep(arena, src)
	r.dest = keep(arena, dest)
	if lone && (mayHoldSurrogateEscape(r.src) || mayHoldSurrogateEscape(r.dest)) {
		// A lone surrogate escape decodes as its six characters, so a
		// reply could not name src as it was sent.
		return fmt.Errorf("%w: src or dest holds a lone UTF-16 surrogate escape", errSkip)
	}
	if !ok {
		// An integer out of range: answered, with in_reply_to the literal.
		r.msgIDText = keepBytes(arena, f.msgID.raw)
		r.invalid(CodeMalformedRequest, `field "msg_id" must be an integer in [-9223372036854775808, 9223372036854775807]`)
		return nil
	}
	r.msgID = id
	if lone {
		r.invalid(CodeMalformedRequest, "strings must not contain lone UTF-16 surrogate escapes")
		return nil
	}

	if f.typ.typ == typeAbsent {
		r.invalid(CodeMalformedRequest, `missing required field "type"`)
		return nil
	}
	if f.typ.typ != typeString {
		r.invalid(CodeMalformedRequest, `field "type" must be a string`)
		return nil
	}
	r.typ = keep(arena, f.typ)
	switch string(r.typ) {
	case "init":
		r.kind = kindInit
		r.nodeID = str(r, arena, "node_id", f.nodeID)
	case "commit_offset":
		r.kind = kindCommit
		r.group = str(r, arena, "group", f.group)
		r.topic = str(r, arena, "topic", f.topic)
		r.partition = int32(intField(r, "partition", f.partition, math.MaxInt32))
		r.offset = intField(r, "offset", f.offset, math.MaxInt64)
		r.metadata = metadata(r, arena, "metadata", f.metadata)
		r.generation, r.hasGen = generation(r, f.generation)
	case "fetch_offset":
		r.kind = kindFetch
		r.group = str(r, arena, "group", f.group)
		r.topic = str(r, arena, "topic", f.topic)
		r.partition = int32(intField(r, "partition", f.partition, math.MaxInt32))
	case "commit_offsets":
		r.kind = kindCommitBatch
		r.group = str(r, arena, "group", f.group)
		r.generation, r.hasGen = generation(r, f.generation)
		r.entries = ps.commitEntries(r, arena, f.offsets)
	case "fetch_offsets":
		r.kind = kindFetchGroup
		r.group = str(r, arena, "group", f.group)
		r.topics = topicList(r, arena, f.topics)
	case "list_groups":
		r.kind = kindListGroups
	case "delete_offsets":
		r.kind = kindDeleteOffsets
		r.group = str(r, arena, "group", f.group)
		r.topic = str(r, arena, "topic", f.topic)
		r.partitions = partitionList(r, f.partitions)
	case "delete_group":
		r.kind = kindDeleteGroup
		r.group = str(r, arena, "group", f.group)
	case "cluster_status":
		r.kind = kindClusterStatus
	default:
		r.invalid(CodeNotSupported, fmt.Sprintf("unknown message type %q", truncate(r.typ, 200)))
	}
	return nil
}

// bodyFields collects the body fields the node reads.
type bodyFields struct {
	typ, msgID, nodeID, group, topic, partition, offset jsonValue
	metadata, generation, offsets, topics, partitions   jsonValue
}

// read sets f from the members of the object that starts at b[i] (a later
// duplicate key wins), and returns the index after the object.
func (f *bodyFields) read(ps *parser, b []byte, i int) int {
	*f = bodyFields{}
	m := members{b: b, i: i + 1}
	for {
		k, ok := m.nextKey()
		if !ok {
			return m.i
		}
		f.set(ps.decodeKey(k), m.value())
	}
}

func (f *bodyFields) set(k []byte, v jsonValue) {
	switch string(k) {
	case "type":
		f.typ = v
	case "msg_id":
		f.msgID = v
	case "node_id":
		f.nodeID = v
	case "group":
		f.group = v
	case "topic":
		f.topic = v
	case "partition":
		f.partition = v
	case "offset":
		f.offset = v
	case "metadata":
		f.metadata = v
	case "generation":
		f.generation = v
	case "offsets":
		f.offsets = v
	case "topics":
		f.topics = v
	case "partitions":
		f.partitions = v
	}
}

// absent reports whether an optional field is missing or null.
func absent(v jsonValue) bool { return v.typ == typeAbsent || v.typ == typeNull }

// metadata returns an optional metadata string ("" when absent or null) of
// at most maxMetadataBytes UTF-8 bytes.
func metadata(r *request, arena *[]byte, name string, v jsonValue) []byte {
	if r.kind == kindInvalid || absent(v) {
		return nil
	}
	// The text is UTF-8 and has no lone surrogate escape (the scanner and
	// parse checked), so the decoded string is UTF-8.
	if v.typ == typeString {
		n := len(*arena)
		if b := keep(arena, v); len(b) <= maxMetadataBytes {
			return b
		}
		*arena = (*arena)[:n]
	}
	r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be a string of at most %d bytes in UTF-8", name, maxMetadataBytes))
	return nil
}

// generation returns an optional generation, and whether it was given.
func generation(r *request, v jsonValue) (int32, bool) {
	if r.kind == kindInvalid || absent(v) {
		return 0, false
	}
	return int32(intField(r, "generation", v, math.MaxInt32)), r.kind != kindInvalid
}

// array returns the elements of a required array field, or marks r
// invalid.
func array(r *request, name string, v jsonValue) (elements, bool) {
	if r.kind == kindInvalid {
		return elements{}, false
	}
	if v.typ == typeAbsent {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("missing required field %q", name))
		return elements{}, false
	}
	if v.typ != typeArray {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be an array", name))
		return elements{}, false
	}
	return elements{b: v.raw, i: 1}, true
}

// commitEntries parses commit_offsets' offsets: every entry must be valid,
// or the whole request is refused, naming the first bad entry.
func (ps *parser) commitEntries(r *request, arena *[]byte, v jsonValue) []commitEntry {
	items, ok := array(r, "offsets", v)
	if !ok {
		return nil
	}
	entries := make([]commitEntry, 0, 8)
	var f bodyFields
	for i := 0; items.next(); i++ {
		if items.b[items.i] != '{' {
			r.invalid(CodeMalformedRequest, fmt.Sprintf("field \"offsets[%d]\" must be an object", i))
			return nil
		}
		items.i = f.read(ps, items.b, items.i)
		at := func(field string) string { return fmt.Sprintf("offsets[%d].%s", i, field) }
		e := commitEntry{
			topic:     str(r, arena, at("topic"), f.topic),
			partition: int32(intField(r, at("partition"), f.partition, math.MaxInt32)),
			offset:    intField(r, at("offset"), f.offset, math.MaxInt64),
		}
		e.metadata = metadata(r, arena, at("metadata"), f.metadata)
		if r.kind == kindInvalid {
			return nil
		}
		entries = append(entries, e)
	}
	return entries
}

// topicList parses an optional array of topic names; nil means all topics.
func topicList(r *request, arena *[]byte, v jsonValue) [][]byte {
	if r.kind == kindInvalid || absent(v) {
		return nil
	}
	items, ok := array(r, "topics", v)
	if !ok {
		return nil
	}
	topics := make([][]byte, 0, 8)
	for i := 0; items.next(); i++ {
		t := str(r, arena, fmt.Sprintf("topics[%d]", i), items.value())
		if r.kind == kindInvalid {
			return nil
		}
		topics = append(topics, t)
	}
	return topics
}

// partitionList parses an optional array of partitions; nil means all.
func partitionList(r *request, v jsonValue) []int32 {
	if r.kind == kindInvalid || absent(v) {
		return nil
	}
	items, ok := array(r, "partitions", v)
	if !ok {
		return nil
	}
	parts := make([]int32, 0, 8)
	for i := 0; items.next(); i++ {
		p := int32(intField(r, fmt.Sprintf("partitions[%d]", i), items.value(), math.MaxInt32))
		if r.kind == kindInvalid {
			return nil
		}
		parts = append(parts, p)
	}
	return parts
}

// str returns a required non-empty UTF-8 string field, or marks r invalid
// (keeping the first error) and returns nil.
func str(r *request, arena *[]byte, name string, v jsonValue) []byte {
	if r.kind == kindInvalid {
		return nil
	}
	if v.typ == typeAbsent {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("missing required field %q", name))
		return nil
	}
	if v.typ == typeString && len(v.raw) > 0 { // UTF-8: see metadata
		// An escape decodes to at least one byte, so a string with bytes
		// between its quotes is not empty.
		return keep(arena, v)
	}
	r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be a non-empty string", name))
	return nil
}

// intField returns a required integer field in [0, max], or marks r
// invalid.
func intField(r *request, name string, v jsonValue, max int64) int64 {
	if r.kind == kindInvalid {
		return 0
	}
	if v.typ == typeAbsent {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("missing required field %q", name))
		return 0
	}
	n, ok := integer(v, 0, max)
	if !ok {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be an integer in [0, %d]", name, max))
	}
	return n
}

func (r *request) invalid(code int, text string) {
	r.kind = kindInvalid
	r.errCode = code
	r.errText = text
}

// integer reads a JSON number written as an integer literal (no fraction, no
// exponent) within [min, max], exactly: nothing goes through float64.
func integer(v jsonValue, min, max int64) (int64, bool) {
	if v.typ != typeNumber {
		return 0, false
	}
	raw := v.raw
	neg := len(raw) > 0 && raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	if len(digits) == 0 || len(digits) > 19 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	var u uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	if neg {
		if u > uint64(math.MaxInt64)+1 {
			return 0, false
		}
		n := -int64(u-1) - 1 // -u without overflow at MinInt64; -0 is 0
		return n, n >= min && n <= max
	}
	if u > uint64(max) {
		return 0, false
	}
	return int64(u), true
}

// keep decodes a string value into the arena and returns the copy.
func keep(arena *[]byte, v jsonValue) []byte {
	a := *arena
	n := len(a)
	if v.esc {
		a = appendUnescaped(a, v.raw)
	} else {
		a = append(a, v.raw...)
	}
	*arena = a
	return a[n:len(a):len(a)]
}

// keepBytes copies b into the arena and returns the copy.
func keepBytes(arena *[]byte, b []byte) []byte {
	*arena = append(*arena, b...)
	a := *arena
	return a[len(a)-len(b) : len(a) : len(a)]
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// isIntegerLiteral reports whether a number's literal text is an integer
// (no fraction, no exponent); integer has left it in its scratch.
func isIntegerLiteral(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	if len(raw) == 0 {
		return false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// mayHoldSurrogateEscape reports whether a string fastjson decoded may hold
// a lone surrogate escape it kept as text: a backslash, 'u', then a hex
// number in D800-DFFF. (It cannot tell that from the same six characters
// written with an escaped backslash, so it may answer true for those.)
func mayHoldSurrogateEscape(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 || len(b) < i+6 {
			return false
		}
		d := b[i+2]
		e := b[i+3] | 0x20
		if (d == 'd' || d == 'D') && e >= '8' && e <= 'f' && (e <= '9' || e >= 'a') {
			return true
		}
		b = b[i+2:]
	}
}
