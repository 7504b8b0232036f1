package main

import (
	"strings"
	"testing"
)

// TestLimitsSurviveRestart: the limits are counted from the replayed log.
// A node restarted with a lower --max-keys than its data holds says so,
// serves reads and updates of what it holds, and refuses a new key.
func TestLimitsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	n := apiStart(t, dir)
	n.run("run 1", []apiStep{
		{`"type":"commit_offset","group":"g","topic":"t","partition":0,"offset":1`, apiCommitOK},
		{`"type":"commit_offset","group":"g","topic":"t","partition":1,"offset":1`, apiCommitOK},
		{`"type":"commit_offset","group":"g","topic":"t","partition":2,"offset":1`, apiCommitOK},
	})
	n.stop()

	n = apiStart(t, dir, "--max-keys", "2")
	n.run("run 2", []apiStep{
		{`"type":"fetch_offset","group":"g","topic":"t","partition":2`, `{"type": "fetch_offset_ok", "offset": 1}`},
		{`"type":"commit_offset","group":"g","topic":"t","partition":2,"offset":5`, apiCommitOK},
		{`"type":"commit_offset","group":"g","topic":"t","partition":3,"offset":1`,
			`{"type": "error", "code": 14, "text": "nothing was applied: limit reached: 1 new offset key(s) beyond the 3 held would pass max-keys (2)"}`},
		{`"type":"delete_offsets","group":"g","topic":"t","partitions":[0,1]`, `{"type": "delete_offsets_ok", "deleted": 2}`},
		{`"type":"commit_offset","group":"g","topic":"t","partition":3,"offset":1`, apiCommitOK},
	})
	if stderr := n.stop(); !strings.Contains(stderr, "more offset keys than the limit") {
		t.Errorf("no warning about the lowered limit:\n%s", stderr)
	}
}
