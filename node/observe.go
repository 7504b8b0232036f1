package node

import (
	"errors"
	"strings"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
)

// CodeAbort is Maelstrom's definite catch-all error, "abort": the request
// was not applied. The node sends it when a request would take the store
// past one of its limits.
const CodeAbort = 14

// Observer receives the node's request counts; the metrics package
// implements it. Config.Observer may be nil.
type Observer interface {
	// Batch is called on the serving goroutine once per batch, after the
	// batch's Flush and before its replies are written, with the batch's requests counted by
	// type and outcome. c is reused after Batch returns.
	Batch(c *Counts)
}

// maxCode is the largest error code counted as itself; larger ones count
// as maxCode. Maelstrom's codes end at 30.
const maxCode = 31

// Counts is the number of requests of one batch by type and outcome. The
// node counts with plain increments and hands the table over once per
// batch, so that the hot path pays no atomic operation per request.
type Counts struct {
	n     [len(kindNames)][maxCode + 1]uint32
	total int
}

// kindNames are the request types, as in the protocol, by kind; requests
// without a known type count as "unknown".
var kindNames = [...]string{
	kindInvalid:       "unknown",
	kindInit:          "init",
	kindCommit:        "commit_offset",
	kindFetch:         "fetch_offset",
	kindCommitBatch:   "commit_offsets",
	kindFetchGroup:    "fetch_offsets",
	kindListGroups:    "list_groups",
	kindDeleteOffsets: "delete_offsets",
	kindDeleteGroup:   "delete_group",
	kindClusterStatus: "cluster_status",
}

// Requests is the number of requests counted.
func (c *Counts) Requests() int { return c.total }

// Each calls fn for every type and outcome with a nonzero count; code 0
// means the request was answered without an error.
func (c *Counts) Each(fn func(typ string, code int, n int)) {
	for k := range c.n {
		for code, v := range c.n[k] {
			if v != 0 {
				fn(kindNames[k], code, int(v))
			}
		}
	}
}

func (c *Counts) add(r *request, code int) {
	k := r.kind
	if k == kindInvalid {
		k = kindOf(r.typ)
	}
	c.n[k][min(code, maxCode)]++
	c.total++
}

func (c *Counts) reset() {
	if c.total != 0 {
		*c = Counts{}
	}
}

// kindOf maps a request type to its kind, for requests refused before
// their kind was set.
func kindOf(typ []byte) kind {
	for k, name := range kindNames {
		if k != int(kindInvalid) && name == string(typ) {
			return kind(k)
		}
	}
	return kindInvalid
}

// count records the outcome of the request handle just answered.
func (n *Node) count(r *request) { n.counts.add(r, n.out.lastCode) }

// observe hands the batch's counts to the observer.
func (n *Node) observe() {
	if n.cfg.Observer != nil && n.counts.total > 0 {
		n.cfg.Observer.Batch(&n.counts)
	}
	n.counts.reset()
}

// checkLimits refuses, with CodeAbort, a commit that would take the store
// past a limit, before anything of it (its generation included) is
// staged: commit_offsets is checked whole, so it stays all or nothing.
func (n *Node) checkLimits(r *request) (int, string) {
	keys := n.keys[:0]
	if r.kind == kindCommit {
		keys = append(keys, consumeroffsets.Key{Topic: r.topic, Partition: r.partition})
	} else {
		if len(r.entries) == 0 && !r.hasGen {
			return 0, "" // changes nothing
		}
		for _, e := range r.entries {
			keys = append(keys, consumeroffsets.Key{Topic: e.topic, Partition: e.partition})
		}
	}
	n.keys = keys
	err := n.store.CheckCommit(r.group, keys)
	if err == nil {
		return 0, ""
	}
	if errors.Is(err, consumeroffsets.ErrLimit) {
		return CodeAbort, "nothing was applied: " + strings.TrimPrefix(err.Error(), "consumeroffsets: ")
	}
	return CodeCrash, err.Error()
}
