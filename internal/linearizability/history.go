package linearizability

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// ErrBadReply means a reply was neither the request's _ok nor an error, or
// lacked a value the request's _ok must carry.
var ErrBadReply = errors.New("linearizability: unexpected reply")

// Request types the model knows.
const (
	CommitOffset  = "commit_offset"
	CommitOffsets = "commit_offsets"
	FetchOffset   = "fetch_offset"
	DeleteOffsets = "delete_offsets"
	DeleteGroup   = "delete_group"
)

// Key names one offset.
type Key struct {
	Group, Topic string
	Partition    int32
}

func (k Key) String() string { return fmt.Sprintf("%s/%s/%d", k.Group, k.Topic, k.Partition) }

// Entry is one offset of a commit_offsets.
type Entry struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Request is one request a client sends, as the model sees it.
type Request struct {
	Type  string // CommitOffset, CommitOffsets, FetchOffset, DeleteOffsets or DeleteGroup
	Group string
	// Topic and Partition name the key of commit_offset and fetch_offset;
	// Topic the topic of delete_offsets.
	Topic     string
	Partition int32
	Offset    int64 // commit_offset's offset
	// HasGeneration says the commit carries Generation.
	HasGeneration bool
	Generation    int32
	Entries       []Entry // commit_offsets' offsets
	// Partitions are delete_offsets' partitions; nil deletes the whole topic.
	Partitions []int32
}

// Commit returns a commit_offset request without a generation.
func Commit(group, topic string, partition int32, offset int64) Request {
	return Request{Type: CommitOffset, Group: group, Topic: topic, Partition: partition, Offset: offset}
}

// Fetch returns a fetch_offset request.
func Fetch(group, topic string, partition int32) Request {
	return Request{Type: FetchOffset, Group: group, Topic: topic, Partition: partition}
}

// CommitBatch returns a commit_offsets request without a generation.
func CommitBatch(group string, entries ...Entry) Request {
	return Request{Type: CommitOffsets, Group: group, Entries: entries}
}

// DeleteTopic returns a delete_offsets request for partitions of topic, or
// for the whole topic when partitions is nil.
func DeleteTopic(group, topic string, partitions []int32) Request {
	return Request{Type: DeleteOffsets, Group: group, Topic: topic, Partitions: partitions}
}

// DeleteWholeGroup returns a delete_group request.
func DeleteWholeGroup(group string) Request {
	return Request{Type: DeleteGroup, Group: group}
}

// WithGeneration returns the commit with generation gen.
func (q Request) WithGeneration(gen int32) Request {
	q.HasGeneration, q.Generation = true, gen
	return q
}

// Key returns the key of a commit_offset or fetch_offset.
func (q Request) Key() Key { return Key{q.Group, q.Topic, q.Partition} }

// Body returns the request's Maelstrom body, without msg_id, ready for
// json.Marshal (clustertest's Send and Call take it as it is).
func (q Request) Body() map[string]any {
	b := map[string]any{"type": q.Type, "group": q.Group}
	switch q.Type {
	case CommitOffset:
		b["topic"], b["partition"], b["offset"] = q.Topic, q.Partition, q.Offset
	case FetchOffset:
		b["topic"], b["partition"] = q.Topic, q.Partition
	case CommitOffsets:
		offs := make([]map[string]any, len(q.Entries))
		for i, e := range q.Entries {
			offs[i] = map[string]any{"topic": e.Topic, "partition": e.Partition, "offset": e.Offset}
		}
		b["offsets"] = offs
	case DeleteOffsets:
		b["topic"] = q.Topic
		if q.Partitions != nil {
			b["partitions"] = q.Partitions
		}
	}
	if q.HasGeneration {
		b["generation"] = q.Generation
	}
	return b
}

// Kind is an operation's outcome.
type Kind int

// The outcomes; see the package doc.
const (
	Unknown Kind = iota
	OK
	Failed
)

func (k Kind) String() string {
	switch k {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Outcome is what a client learned of its request.
type Outcome struct {
	Kind    Kind
	Offset  int64 // fetch_offset_ok's offset
	Deleted int64 // delete_offsets_ok's and delete_group_ok's deleted
	Code    int   // the error's code, when the reply was an error; -1: never sent (Recorder.Call)
	Text    string
}

// Definite reports whether error code means that nothing of the request
// was applied (see the package doc for each code).
func Definite(code int) bool {
	switch code {
	case 1, 10, 11, 12, 14, 20, 21, 22, 23:
		return true
	}
	return false
}

// ParseReply returns the outcome a reply body means for a request of type
// typ. A body that is no reply to it returns ErrBadReply and an Unknown
// outcome.
func ParseReply(typ string, body []byte) (Outcome, error) {
	var r struct {
		Type    string `json:"type"`
		Code    *int   `json:"code"`
		Text    string `json:"text"`
		Offset  *int64 `json:"offset"`
		Deleted *int64 `json:"deleted"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Outcome{}, fmt.Errorf("%w to %s: %v: %s", ErrBadReply, typ, err, body)
	}
	switch {
	case r.Type == "error" && r.Code != nil:
		o := Outcome{Kind: Unknown, Code: *r.Code, Text: r.Text}
		if Definite(*r.Code) {
			o.Kind = Failed
		}
		return o, nil
	case r.Type != typ+"_ok":
	case typ == FetchOffset && r.Offset == nil:
	case (typ == DeleteOffsets || typ == DeleteGroup) && r.Deleted == nil:
	default:
		o := Outcome{Kind: OK}
		if r.Offset != nil {
			o.Offset = *r.Offset
		}
		if r.Deleted != nil {
			o.Deleted = *r.Deleted
		}
		return o, nil
	}
	return Outcome{}, fmt.Errorf("%w to %s: %s", ErrBadReply, typ, body)
}

// A Recorder collects a history from concurrent clients. Times are read
// from the monotonic clock, in nanoseconds since NewRecorder.
type Recorder struct {
	start time.Time

	mu  sync.Mutex
	ops []*Op
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

// Op is one operation of a history, from its invocation on.
type Op struct {
	r       *Recorder
	client  int
	req     Request
	call    int64
	ret     int64
	outcome Outcome
	done    bool
}

// Invoke records that client (a small integer, one per concurrent client:
// the visualization draws one line per client) invokes req now. Call it
// before the request is written, so that the invocation cannot follow the
// moment the store acts on it.
// It panics on a request type the model does not know.
func (r *Recorder) Invoke(client int, req Request) *Op {
	switch req.Type {
	case CommitOffset, CommitOffsets, FetchOffset, DeleteOffsets, DeleteGroup:
	default:
		panic("linearizability: the model does not know request type " + req.Type)
	}
	op := &Op{r: r, client: client, req: req, call: r.now()}
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	return op
}

// Reply records the reply's body (the Maelstrom message's "body") as the
// operation's outcome, with the return time now: call it as soon as the
// reply is read. A body that is no reply to the request is recorded as
// Unknown and returns ErrBadReply. Only the first Reply or Unknown counts.
func (o *Op) Reply(body []byte) error {
	ret := o.r.now()
	out, err := ParseReply(o.req.Type, body)
	o.finish(ret, out)
	return err
}

// Unknown records that the operation's outcome will not be known: no
// reply came before the test gave up on it. An operation that has neither
// Reply nor Unknown when the history is taken is Unknown too.
func (o *Op) Unknown() { o.finish(math.MaxInt64, Outcome{Kind: Unknown}) }

func (o *Op) finish(ret int64, out Outcome) {
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	if o.done {
		return
	}
	o.done = true
	if out.Kind == Unknown {
		ret = math.MaxInt64
	}
	o.ret, o.outcome = ret, out
}

// Outcome returns the recorded outcome (Unknown until Reply).
func (o *Op) Outcome() Outcome {
	o.r.mu.Lock()
	defer o.r.mu.Unlock()
	return o.outcome
}

// Operations returns the history as porcupine operations: Input is a
// Request, Output an Outcome, times in nanoseconds since NewRecorder, and
// an operation not yet finished is Unknown (returns at math.MaxInt64).
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := make([]porcupine.Operation, len(r.ops))
	for i, o := range r.ops {
		ret, out := o.ret, o.outcome
		if !o.done {
			ret, out = math.MaxInt64, Outcome{Kind: Unknown}
		}
		ops[i] = porcupine.Operation{ClientId: o.client, Input: o.req, Call: o.call, Output: out, Return: ret}
	}
	return ops
}
