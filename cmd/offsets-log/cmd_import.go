package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
)

func importCommand(e *env) *cobra.Command {
	o := &importOpts{}
	c := &cobra.Command{
		Use:     "import --node-id ID [flags] [FILE]",
		GroupID: groupPipe,
		Short:   "turn export's or reset-plan's requests into a node's input",
		Long: `Reads commit_offsets requests, as export and reset-plan print them, from FILE
(or stdin when FILE is absent or -) and prints a node's whole input: an
init for node ID, then the requests addressed to ID and numbered after it.
Pipe it into offsets-node:

  offsets-log export /var/lib/offsets/n1 > n1.jsonl
  offsets-log import --node-id n1 n1.jsonl | offsets-node --data-dir /srv/offsets

The node answers each request with a commit_offsets_ok, or an error that
names what it refused (error 22: a generation lower than the one the
target already has); 'grep -v commit_offsets_ok' on its output shows
anything but success. Each request is applied all or nothing.

It checks the whole input before printing anything: a line that is not a
commit_offsets request is named with its line number and nothing is
printed. It reads no log and writes no file.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(fmt.Sprintf("offsets-log import: want one FILE at most, got %d arguments %q; run 'offsets-log import --help'", len(args), args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if code := o.run(e, args); code != exitOK {
				return exitCode(code)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.nodeID, "node-id", "", "node_id `ID` of the node the requests go to (required)")
	f.StringSliceVar(&o.nodeIDs, "node-ids", nil, "node_ids `IDS` of the init, comma-separated (default: --node-id alone)")
	return c
}

type initBody struct {
	Type    string   `json:"type"`
	MsgID   int      `json:"msg_id"`
	NodeID  string   `json:"node_id"`
	NodeIDs []string `json:"node_ids"`
}

type importOpts struct {
	nodeID  string
	nodeIDs []string
}

func (o *importOpts) run(e *env, args []string) int {
	if o.nodeID == "" {
		fmt.Fprintln(e.stderr, "offsets-log import: --node-id is required: the node_id of the node the requests go to (the last element of its directory, e.g. n1)")
		return exitUsage
	}
	ids := o.nodeIDs
	if len(ids) == 0 {
		ids = []string{o.nodeID}
	} else if !slices.Contains(ids, o.nodeID) {
		fmt.Fprintf(e.stderr, "offsets-log import: --node-ids %v does not hold --node-id %s\n", ids, o.nodeID)
		return exitUsage
	}
	name, in := "stdin", io.Reader(os.Stdin)
	if e.stdin != nil {
		in = e.stdin
	}
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintf(e.stderr, "offsets-log import: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		name, in = args[0], f
	}
	reqs, err := readRequests(name, in)
	if err != nil {
		fmt.Fprintf(e.stderr, "offsets-log import: %v\n", err)
		return exitUsage
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	enc := jsonLines(w)
	enc.Encode(message{Src: requestSrc, Dest: o.nodeID, Body: initBody{"init", 1, o.nodeID, ids}})
	dest, _ := json.Marshal(o.nodeID)
	for i, r := range reqs {
		r.body["msg_id"] = json.RawMessage(fmt.Sprint(i + 2))
		enc.Encode(struct {
			Src  json.RawMessage            `json:"src"`
			Dest json.RawMessage            `json:"dest"`
			Body map[string]json.RawMessage `json:"body"`
		}{r.src, dest, r.body})
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "offsets-log import: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "offsets-log import: an init for %s and %s\n", o.nodeID, plural(len(reqs), "commit_offsets request", "commit_offsets requests"))
	return exitOK
}
