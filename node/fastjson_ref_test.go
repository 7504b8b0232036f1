package node

// The parser the node used before parser read the text in one pass: it
// parses the text with fastjson, then reads the fields from its tree. It is
// kept here as the reference that TestParseMatchesFastjson and FuzzParse
// hold parser to.

import (
	"fmt"
	"math"

	"github.com/valyala/fastjson"
)

// fastjsonParser turns one JSON text into a request, as parser does. It is not safe for concurrent
// use; the arena it appends to belongs to the caller.
type fastjsonParser struct {
	p fastjson.Parser
	// Visit callbacks, made once: a closure made per message would be a
	// heap allocation per message.
	env       fjEnvFields
	body      fjBodyFields
	visitEnv  func([]byte, *fastjson.Value)
	visitBody func([]byte, *fastjson.Value)
	num       []byte // scratch for number literals
}

// fjEnvFields collects the envelope fields.
type fjEnvFields struct {
	src, dest, body *fastjson.Value
}

func (e *fjEnvFields) set(k []byte, v *fastjson.Value) {
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
// be a text the framer's scanner accepted (strict RFC 8259 JSON), which
// fastjson, lenient about escapes and numbers, then decodes exactly; lone
// says whether it holds a lone surrogate escape. A non-nil error means the
// input is to be skipped with a log line; a request that deserves an error
// reply comes back as kindInvalid with a nil error.
func (ps *fastjsonParser) parse(msg []byte, lone bool, r *request, arena *[]byte) error {
	*r = request{}
	if ps.visitEnv == nil {
		ps.visitEnv, ps.visitBody = ps.env.set, ps.body.set
	}
	v, err := ps.p.ParseBytes(msg)
	if err != nil {
		// Not reached for a text the scanner accepted.
		return fmt.Errorf("%w: not JSON", errSkip)
	}
	env, err := v.Object()
	if err != nil {
		return fmt.Errorf("%w: a %s, not an object", errSkip, v.Type())
	}
	ps.env = fjEnvFields{}
	env.Visit(ps.visitEnv) // a later duplicate key wins, as in Python
	src, dest, body := ps.env.src, ps.env.dest, ps.env.body
	if src == nil || src.Type() != fastjson.TypeString {
		return fmt.Errorf("%w: no string src", errSkip)
	}
	if dest == nil || dest.Type() != fastjson.TypeString {
		return fmt.Errorf("%w: no string dest", errSkip)
	}
	if body == nil || body.Type() != fastjson.TypeObject {
		return fmt.Errorf("%w: no object body", errSkip)
	}
	fields, _ := body.Object()
	ps.body = fjBodyFields{}
	fields.Visit(ps.visitBody)
	f := &ps.body
	if f.msgID == nil {
		return fmt.Errorf("%w: body has no msg_id", errSkip)
	}
	ps.num = ps.num[:0]
	id, ok := fjInteger(f.msgID, math.MinInt64, math.MaxInt64, &ps.num)
	if !ok && !isIntegerLiteral(ps.num) {
		return fmt.Errorf("%w: msg_id is not an integer", errSkip)
	}
	r.src = fjKeep(arena, src)
	r.dest = fjKeep(arena, dest)
	if lone && (mayHoldSurrogateEscape(r.src) || mayHoldSurrogateEscape(r.dest)) {
		// fastjson keeps a lone surrogate escape as its six characters, so
		// a reply could not name src as it was sent.
		return fmt.Errorf("%w: src or dest holds a lone UTF-16 surrogate escape", errSkip)
	}
	if !ok {
		// An integer out of range: answered, with in_reply_to the literal.
		r.msgIDText = keepBytes(arena, ps.num)
		r.invalid(CodeMalformedRequest, `field "msg_id" must be an integer in [-9223372036854775808, 9223372036854775807]`)
		return nil
	}
	r.msgID = id
	if lone {
		r.invalid(CodeMalformedRequest, "strings must not contain lone UTF-16 surrogate escapes")
		return nil
	}

	if f.typ == nil {
		r.invalid(CodeMalformedRequest, `missing required field "type"`)
		return nil
	}
	if f.typ.Type() != fastjson.TypeString {
		r.invalid(CodeMalformedRequest, `field "type" must be a string`)
		return nil
	}
	r.typ = fjKeep(arena, f.typ)
	switch string(r.typ) {
	case "init":
		r.kind = kindInit
		r.nodeID = f.str(r, arena, "node_id", f.nodeID)
	case "commit_offset":
		r.kind = kindCommit
		r.group = f.str(r, arena, "group", f.group)
		r.topic = f.str(r, arena, "topic", f.topic)
		r.partition = int32(ps.int(r, "partition", f.partition, math.MaxInt32))
		r.offset = ps.int(r, "offset", f.offset, math.MaxInt64)
		r.metadata = ps.metadata(r, arena, "metadata", f.metadata)
		r.generation, r.hasGen = ps.generation(r, f.generation)
	case "fetch_offset":
		r.kind = kindFetch
		r.group = f.str(r, arena, "group", f.group)
		r.topic = f.str(r, arena, "topic", f.topic)
		r.partition = int32(ps.int(r, "partition", f.partition, math.MaxInt32))
	case "commit_offsets":
		r.kind = kindCommitBatch
		r.group = f.str(r, arena, "group", f.group)
		r.generation, r.hasGen = ps.generation(r, f.generation)
		r.entries = ps.commitEntries(r, arena, f.offsets)
	case "fetch_offsets":
		r.kind = kindFetchGroup
		r.group = f.str(r, arena, "group", f.group)
		r.topics = ps.topicList(r, arena, f.topics)
	case "list_groups":
		r.kind = kindListGroups
	case "delete_offsets":
		r.kind = kindDeleteOffsets
		r.group = f.str(r, arena, "group", f.group)
		r.topic = f.str(r, arena, "topic", f.topic)
		r.partitions = ps.partitionList(r, f.partitions)
	case "delete_group":
		r.kind = kindDeleteGroup
		r.group = f.str(r, arena, "group", f.group)
	case "cluster_status":
		r.kind = kindClusterStatus
	default:
		r.invalid(CodeNotSupported, fmt.Sprintf("unknown message type %q", truncate(r.typ, 200)))
	}
	return nil
}

// fjBodyFields collects the body fields the node reads.
type fjBodyFields struct {
	typ, msgID, nodeID, group, topic, partition, offset *fastjson.Value
	metadata, generation, offsets, topics, partitions   *fastjson.Value
}

func (f *fjBodyFields) set(k []byte, v *fastjson.Value) {
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

// fjAbsent reports whether an optional field is missing or null.
func fjAbsent(v *fastjson.Value) bool { return v == nil || v.Type() == fastjson.TypeNull }

// metadata returns an optional metadata string ("" when absent or null) of
// at most maxMetadataBytes UTF-8 bytes.
func (ps *fastjsonParser) metadata(r *request, arena *[]byte, name string, v *fastjson.Value) []byte {
	if r.kind == kindInvalid || fjAbsent(v) {
		return nil
	}
	b, err := v.StringBytes()
	// The text is UTF-8 and has no lone surrogate escape (the scanner and
	// parse checked), so the decoded string is UTF-8.
	if err != nil || len(b) > maxMetadataBytes {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be a string of at most %d bytes in UTF-8", name, maxMetadataBytes))
		return nil
	}
	return keepBytes(arena, b)
}

// generation returns an optional generation, and whether it was given.
func (ps *fastjsonParser) generation(r *request, v *fastjson.Value) (int32, bool) {
	if r.kind == kindInvalid || fjAbsent(v) {
		return 0, false
	}
	return int32(ps.int(r, "generation", v, math.MaxInt32)), r.kind != kindInvalid
}

// fjArray returns a required array field's elements, or marks r invalid.
func fjArray(r *request, name string, v *fastjson.Value) ([]*fastjson.Value, bool) {
	if r.kind == kindInvalid {
		return nil, false
	}
	if v == nil {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("missing required field %q", name))
		return nil, false
	}
	a, err := v.Array()
	if err != nil {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be an array", name))
		return nil, false
	}
	return a, true
}

// commitEntries parses commit_offsets' offsets: every entry must be valid,
// or the whole request is refused, naming the first bad entry.
func (ps *fastjsonParser) commitEntries(r *request, arena *[]byte, v *fastjson.Value) []commitEntry {
	items, ok := fjArray(r, "offsets", v)
	if !ok {
		return nil
	}
	entries := make([]commitEntry, 0, len(items))
	for i, item := range items {
		o, err := item.Object()
		if err != nil {
			r.invalid(CodeMalformedRequest, fmt.Sprintf("field \"offsets[%d]\" must be an object", i))
			return nil
		}
		var f fjBodyFields
		o.Visit(f.set)
		at := func(field string) string { return fmt.Sprintf("offsets[%d].%s", i, field) }
		e := commitEntry{
			topic:     f.str(r, arena, at("topic"), f.topic),
			partition: int32(ps.int(r, at("partition"), f.partition, math.MaxInt32)),
			offset:    ps.int(r, at("offset"), f.offset, math.MaxInt64),
		}
		e.metadata = ps.metadata(r, arena, at("metadata"), f.metadata)
		if r.kind == kindInvalid {
			return nil
		}
		entries = append(entries, e)
	}
	return entries
}

// topicList parses an optional array of topic names; nil means all topics.
func (ps *fastjsonParser) topicList(r *request, arena *[]byte, v *fastjson.Value) [][]byte {
	if r.kind == kindInvalid || fjAbsent(v) {
		return nil
	}
	items, ok := fjArray(r, "topics", v)
	if !ok {
		return nil
	}
	topics := make([][]byte, 0, len(items))
	var f fjBodyFields
	for i, item := range items {
		t := f.str(r, arena, fmt.Sprintf("topics[%d]", i), item)
		if r.kind == kindInvalid {
			return nil
		}
		topics = append(topics, t)
	}
	return topics
}

// partitionList parses an optional array of partitions; nil means all.
func (ps *fastjsonParser) partitionList(r *request, v *fastjson.Value) []int32 {
	if r.kind == kindInvalid || fjAbsent(v) {
		return nil
	}
	items, ok := fjArray(r, "partitions", v)
	if !ok {
		return nil
	}
	parts := make([]int32, 0, len(items))
	for i, item := range items {
		p := int32(ps.int(r, fmt.Sprintf("partitions[%d]", i), item, math.MaxInt32))
		if r.kind == kindInvalid {
			return nil
		}
		parts = append(parts, p)
	}
	return parts
}

// str returns a required non-empty UTF-8 string field, or marks r invalid
// (keeping the first error) and returns nil.
func (f *fjBodyFields) str(r *request, arena *[]byte, name string, v *fastjson.Value) []byte {
	if r.kind == kindInvalid {
		return nil
	}
	if v == nil {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("missing required field %q", name))
		return nil
	}
	b, err := v.StringBytes()
	if err != nil || len(b) == 0 { // UTF-8: see metadata

		r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be a non-empty string", name))
		return nil
	}
	return keepBytes(arena, b)
}

// int returns a required integer field in [0, max], or marks r invalid.
func (ps *fastjsonParser) int(r *request, name string, v *fastjson.Value, max int64) int64 {
	if r.kind == kindInvalid {
		return 0
	}
	if v == nil {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("missing required field %q", name))
		return 0
	}
	n, ok := fjInteger(v, 0, max, &ps.num)
	if !ok {
		r.invalid(CodeMalformedRequest, fmt.Sprintf("field %q must be an integer in [0, %d]", name, max))
	}
	return n
}

// fjInteger reads a JSON number written as an integer literal (no fraction, no
// exponent) within [min, max], exactly: nothing goes through float64.
func fjInteger(v *fastjson.Value, min, max int64, scratch *[]byte) (int64, bool) {
	if v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	// A number marshals as its literal text, into the caller's scratch.
	*scratch = v.MarshalTo((*scratch)[:0])
	raw := *scratch
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

// fjKeep copies a string value into the arena and returns the copy.
func fjKeep(arena *[]byte, v *fastjson.Value) []byte {
	b, _ := v.StringBytes()
	return keepBytes(arena, b)
}
