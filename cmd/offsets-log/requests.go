package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
)

// The requests export and reset-plan print, and import reads, are the
// node's own commit_offsets requests as Maelstrom messages, one per line:
//
//	{"src":"offsets-log","dest":"n1","body":{"type":"commit_offsets","msg_id":1,
//	 "group":"g","generation":3,"offsets":[{"topic":"t","partition":0,"offset":42,"metadata":""}]}}
//
// A node applies each one all or nothing and stamps its own commit time.

// requestSrc is the src of the requests this tool prints.
const requestSrc = "offsets-log"

// commitEntry is one entry of a commit_offsets request.
type commitEntry struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Metadata  string `json:"metadata"`
}

// commitBody is the body of a commit_offsets request; Generation is left
// out when nil, so the commit is not fenced.
type commitBody struct {
	Type       string        `json:"type"`
	MsgID      int           `json:"msg_id"`
	Group      string        `json:"group"`
	Generation *int32        `json:"generation,omitempty"`
	Offsets    []commitEntry `json:"offsets"`
}

type message struct {
	Src  string `json:"src"`
	Dest string `json:"dest"`
	Body any    `json:"body"`
}

// nodeID is the node_id of the node whose directory dir is: its last
// element, as the node names DATA_DIR/<node_id>.
func nodeID(dir string) string { return filepath.Base(filepath.Clean(dir)) }

// writeCommit writes one commit_offsets request line to w.
func writeCommit(w io.Writer, dest string, msgID int, group string, generation *int32, entries []commitEntry) error {
	if entries == nil {
		entries = []commitEntry{} // "offsets": [], as the node wants an array
	}
	return jsonLines(w).Encode(message{Src: requestSrc, Dest: dest,
		Body: commitBody{Type: "commit_offsets", MsgID: msgID, Group: group, Generation: generation, Offsets: entries}})
}

// inRequest is one line import read: a Maelstrom message whose body is a
// commit_offsets request, kept as raw JSON so that its values pass through
// exactly.
type inRequest struct {
	src  json.RawMessage
	body map[string]json.RawMessage
}

// readRequests reads the commit_offsets requests of r, one JSON object per
// line (blank lines skipped), and refuses the whole input, naming the line,
// when one of them is not such a request: nothing should reach a node from
// an input that is cut or mixed up.
func readRequests(name string, r io.Reader) ([]inRequest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<30)
	var out []inRequest
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return usageError(fmt.Sprintf("%s:%d: %s; nothing was printed", name, line, fmt.Sprintf(format, args...)))
		}
		var msg struct {
			Src  json.RawMessage            `json:"src"`
			Body map[string]json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(text, &msg); err != nil {
			return nil, bad("not a JSON object (%v)", jsonReason(err))
		}
		if msg.Body == nil {
			return nil, bad(`no "body" object: not a Maelstrom message`)
		}
		var typ string
		if err := json.Unmarshal(msg.Body["type"], &typ); err != nil || typ != "commit_offsets" {
			return nil, bad(`the body's "type" is %s, not "commit_offsets": import passes on only the requests export and reset-plan print`, rawOr(msg.Body["type"], "missing"))
		}
		var group string
		if err := json.Unmarshal(msg.Body["group"], &group); err != nil || group == "" {
			return nil, bad(`the body's "group" is %s, not a non-empty string`, rawOr(msg.Body["group"], "missing"))
		}
		var entries []json.RawMessage
		if err := json.Unmarshal(msg.Body["offsets"], &entries); err != nil || msg.Body["offsets"] == nil || string(msg.Body["offsets"]) == "null" {
			return nil, bad(`the body's "offsets" is %s, not an array`, rawOr(msg.Body["offsets"], "missing"))
		}
		if msg.Src == nil {
			msg.Src = json.RawMessage(`"` + requestSrc + `"`)
		}
		out = append(out, inRequest{src: msg.Src, body: msg.Body})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// jsonReason is a JSON error without Go's type names.
func jsonReason(err error) string {
	if _, ok := err.(*json.UnmarshalTypeError); ok {
		return "a JSON value of the wrong kind"
	}
	return err.Error()
}

func rawOr(v json.RawMessage, missing string) string {
	if v == nil {
		return missing
	}
	if len(v) > 40 {
		return string(v[:40]) + "..."
	}
	return string(v)
}
