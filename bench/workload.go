package main

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
)

// workloadSpec says which workload to generate. The same spec always yields
// the same bytes, and a spec with fewer requests yields a prefix of one with
// more, because every request draws the same random numbers whatever comes
// after it.
type workloadSpec struct {
	Requests int    // requests after the init line
	Keys     int    // distinct (group, topic, partition) keys
	Seed     uint64 // seed of the random choices
}

// workload describes a generated workload file.
type workload struct {
	Path     string
	Requests int // requests after the init line; the node sends Requests+1 replies
	Commits  int
	Fetches  int
	// LastReply is the expected reply to the last request, up to but not
	// including its "msg_id" field. msg_id is left out so that a node that
	// sends replies out of request order still matches.
	LastReply string
}

// commitPercent is the share of commit_offset among the requests; the rest
// are fetch_offset.
const commitPercent = 80

const initLine = `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n"

// keyFields returns the group, topic and partition of key i. Every i maps to
// a distinct triple: 100 groups, then 10 topics, then as many partitions as
// needed.
func keyFields(i int) (group, topic string, partition int) {
	return "g" + strconv.Itoa(i%100), "t" + strconv.Itoa(i/100%10), i / 1000
}

// writeWorkload writes the init line and spec.Requests requests to w, one
// compact JSON message per line. Requests come from c1 with msg_id 2, 3, ...;
// each commit moves its key's offset forward by 1 to 16.
func writeWorkload(w io.Writer, spec workloadSpec) (workload, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(initLine)

	wl := workload{Requests: spec.Requests}
	line := make([]byte, 0, 256)
	eachRequest(spec, func(i int, commit bool, k int, offset int64) {
		msgID := int64(i + 2)
		group, topic, partition := keyFields(k)

		line = line[:0]
		if commit {
			line = append(line, `{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":`...)
			wl.Commits++
		} else {
			line = append(line, `{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":`...)
			wl.Fetches++
		}
		line = strconv.AppendInt(line, msgID, 10)
		line = append(line, `,"group":"`...)
		line = append(line, group...)
		line = append(line, `","topic":"`...)
		line = append(line, topic...)
		line = append(line, `","partition":`...)
		line = strconv.AppendInt(line, int64(partition), 10)
		if commit {
			line = append(line, `,"offset":`...)
			line = strconv.AppendInt(line, offset, 10)
		}
		line = append(line, "}}\n"...)
		bw.Write(line)

		if i == spec.Requests-1 {
			wl.LastReply = expectedReplyPrefix(commit, msgID, offset)
		}
	})
	if spec.Requests == 0 {
		wl.LastReply = `{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, `
	}
	return wl, bw.Flush()
}

// eachRequest calls fn for each request of the workload, in order: whether
// it is a commit, its key, and the key's offset after it (the offset a
// fetch reads, for a fetch). The node's workload file and the Redis
// comparison both come from it, so they send the same requests.
func eachRequest(spec workloadSpec, fn func(i int, commit bool, key int, offset int64)) {
	keys := max(spec.Keys, 1)
	rng := rand.New(rand.NewPCG(spec.Seed, 0x6f6666736574))
	offsets := make([]int64, keys)
	for i := 0; i < spec.Requests; i++ {
		commit := rng.IntN(100) < commitPercent
		k := rng.IntN(keys)
		if commit {
			offsets[k] += 1 + int64(rng.IntN(16))
		}
		fn(i, commit, k, offsets[k])
	}
}

// expectedReplyPrefix returns the reply offsets-node sends to request msgID,
// up to and including the ", " before "msg_id". offset is only used for
// fetch_offset.
func expectedReplyPrefix(commit bool, msgID, offset int64) string {
	if commit {
		return `{"src": "n1", "dest": "c1", "body": {"type": "commit_offset_ok", "in_reply_to": ` +
			strconv.FormatInt(msgID, 10) + `, `
	}
	return `{"src": "n1", "dest": "c1", "body": {"type": "fetch_offset_ok", "in_reply_to": ` +
		strconv.FormatInt(msgID, 10) + `, "offset": ` + strconv.FormatInt(offset, 10) + `, `
}
