package main

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"
)

func exportCommand(e *env) *cobra.Command {
	o := &exportOpts{}
	c := &cobra.Command{
		Use:     "export [flags] DIR",
		GroupID: groupRead,
		Short:   "print the live offsets as commit_offsets requests (migration, backup)",
		Long: `Replays the log and prints its live offsets as the node's own requests,
one commit_offsets request per group, one per line, in group order:

  {"src": "offsets-log", "dest": "n1", "body": {"type": "commit_offsets",
   "msg_id": 1, "group": "g", "generation": 3, "offsets": [{"topic": "t",
   "partition": 0, "offset": 42, "metadata": ""}]}}

(on one line). Each carries the group's offsets with their metadata and,
when the group has one, its generation, so the node that takes them fences
the same old consumers; a group with a generation but no offsets gets a
request with an empty offsets list. dest is DIR's node_id (its last
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
	offsets, _ := ld.state.Offsets()
	groups, _ := ld.state.Groups()
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	dest := nodeID(dir)
	// Offsets and groups are both sorted by group name: walk them together.
	i, n, msgs := 0, 0, 0
	for _, g := range groups {
		var entries []commitEntry
		for ; i < len(offsets) && offsets[i].Group == g.Name; i++ {
			off := offsets[i]
			entries = append(entries, commitEntry{off.Topic, off.Partition, off.Offset, off.Metadata})
		}
		if o.group != "" && g.Name != o.group {
			continue
		}
		var gen *int32
		if g.HasGeneration {
			gen = &g.Generation
		}
		msgs++
		n += len(entries)
		if err := writeCommit(w, dest, msgs, g.Name, gen, entries); err != nil {
			return e.fail("export", dir, err)
		}
	}
	if err := w.Flush(); err != nil {
		return e.fail("export", dir, err)
	}
	if o.group != "" && msgs == 0 {
		fmt.Fprintf(e.stderr, "offsets-log export: group %s has no offsets and no generation in %s\n", quote(o.group), dir)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "offsets-log export: %s with %s through index %d; pipe them through 'offsets-log import --node-id %s' into a node\n",
		plural(msgs, "group", "groups"), plural(n, "offset", "offsets"), ld.last, dest)
	return exitOK
}
