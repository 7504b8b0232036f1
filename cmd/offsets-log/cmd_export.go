package main

import (
	"bufio"
	"encoding/json"
	"fmt"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/spf13/cobra"
)

func exportCommand(e *env) *cobra.Command {
	o := &exportOpts{}
	c := &cobra.Command{
		Use:     "export [flags] DIR",
		GroupID: groupRead,
		Short:   "print the live offsets as commit_offsets requests (migration, backup)",
		Long: `Replays the log and prints its live offsets as the node's own requests,
one commit_offsets request per group, one per line, in group order (a
group whose offsets take more than 16 MiB of JSON goes in several
requests, well under the node's 64 MiB limit on a message):

  {"src":"offsets-log","dest":"n1","body":{"type":"commit_offsets","msg_id":1,
   "group":"g","generation":3,"offsets":[{"topic":"t","partition":0,
   "offset":42,"metadata":""}]}}

(on one line). Each carries the group's offsets with their metadata and,
when the group has one, its generation, so that the node that takes them
fences the same old consumers; a group with a generation but no offsets
gets a request with an empty offsets list. dest is DIR's node_id (its last
element). The requests have no init before them: 'offsets-log import'
adds it, so that a migration is

  offsets-log export /var/lib/offsets/n1 > n1.jsonl
  offsets-log import --node-id n1 n1.jsonl | offsets-node --data-dir /srv/offsets

The node that takes them stamps each offset with its own commit time (the
time of the import), so --offsets-retention counts from the import, not
from the original commit; replay on the source shows the original times.
Offsets deleted in the source are not exported, and the requests only add:
import into a fresh directory to get the same offsets.

It never writes to DIR and works while a node runs on it (it exports the
log as far as the node had written it).`,
		RunE: runOn(e, o.run),
	}
	f := c.Flags()
	f.StringVar(&o.group, "group", "", "export only group `G`")
	return c
}

type exportOpts struct{ group string }

func (o *exportOpts) run(e *env, dir string) int {
	ld, code := e.loadState("export", dir, point{})
	if code != exitOK {
		return code
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	dest := nodeID(dir)
	n, msgs, split, exported := 0, 0, 0, 0
	for _, g := range ld.state.GroupInfos() {
		if o.group != "" && g.Name != o.group {
			continue
		}
		var entries []commitEntry
		ld.state.FetchGroup([]byte(g.Name), nil, func(topic string, partition int32, v consumeroffsets.OffsetValue) {
			entries = append(entries, commitEntry{topic, partition, v.Offset, v.Metadata})
		})
		var gen *int32
		if g.HasGeneration {
			gen = &g.Generation
		}
		n += len(entries)
		exported++
		parts := splitEntries(entries, exportRequestBytes)
		if len(parts) > 1 {
			split++
		}
		for _, part := range parts {
			msgs++
			if err := writeCommit(w, dest, msgs, g.Name, gen, part); err != nil {
				return e.fail("export", dir, err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return e.fail("export", dir, err)
	}
	if o.group != "" && msgs == 0 {
		fmt.Fprintf(e.stderr, "offsets-log export: group %s has no offsets and no generation in %s\n", quote(o.group), dir)
		return exitUsage
	}
	note := ""
	if split > 0 {
		note = fmt.Sprintf(" (%s too large for one request of at most %d MiB went in several)", plural(split, "group", "groups"), exportRequestBytes>>20)
	}
	fmt.Fprintf(e.stderr, "offsets-log export: %s for %s with %s through index %d%s; pipe them through 'offsets-log import --node-id %s' into a node\n",
		plural(msgs, "request", "requests"), plural(exported, "group", "groups"), plural(n, "offset", "offsets"), ld.last, note, dest)
	return exitOK
}

// exportRequestBytes bounds the JSON of one exported request's offsets,
// well under the node's limit on a message (node.MaxMessageBytes, 64 MiB):
// a group with more goes in several requests, each with the generation.
var exportRequestBytes = 16 << 20

// splitEntries cuts entries into runs whose JSON takes at most limit bytes
// each (a single larger entry goes alone); an empty list stays one empty
// request, which carries a generation-only group.
func splitEntries(entries []commitEntry, limit int) [][]commitEntry {
	var parts [][]commitEntry
	start, size := 0, 0
	for i, en := range entries {
		b, _ := json.Marshal(en)
		if i > start && size+len(b)+1 > limit {
			parts = append(parts, entries[start:i])
			start, size = i, 0
		}
		size += len(b) + 1
	}
	return append(parts, entries[start:])
}
