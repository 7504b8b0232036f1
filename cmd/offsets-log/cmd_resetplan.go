package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/spf13/cobra"
)

func resetPlanCommand(e *env) *cobra.Command {
	o := &resetOpts{}
	c := &cobra.Command{
		Use:     "reset-plan --group G (--to-time T | --shift-by N | --from-file F) [flags] DIR",
		GroupID: groupRead,
		Short:   "plan a reset of a group's offsets: the table on stderr, the request on stdout",
		Long: `Plans a reset of group G's committed offsets, as kafka-consumer-groups
--reset-offsets --dry-run does, and changes nothing: it prints the plan as
a table (TOPIC, PARTITION, CURRENT, NEW) on stderr and the one
commit_offsets request that carries it out on stdout. To carry it out,
stop the group's consumers (a running consumer commits over a reset, as in
Kafka, where the group must be inactive) and feed the request to the node:

  offsets-log reset-plan --group g --to-time 2026-01-02T03:04:05Z DIR > reset.jsonl
  offsets-log import --node-id n1 reset.jsonl | offsets-node --data-dir DATA_DIR

One of:

  --to-time T    the offsets the group had committed at time T (RFC 3339,
                 or Kafka's YYYY-MM-DDTHH:mm:SS.sss taken as UTC), read from
                 the history in the log: a replay up to T, as replay
                 --at-time does. A compaction keeps only each key's latest
                 record, so T must not be before the newest record of the
                 newest checkpoint; the error names that earliest time.
                 Partitions the group had no offset for at T are shown
                 with NEW "-" and left as they are (a commit cannot remove
                 an offset; delete_offsets does).
  --shift-by N   every current offset moved by N (negative moves back);
                 a result below 0 is clamped to 0, and the table marks it.
  --from-file F  the offsets in F, a CSV file of topic,partition,offset
                 lines (Kafka's reset file; blank lines and lines starting
                 with # are skipped; a topic holding a comma is quoted as in
                 CSV). A bad line is named as F:LINE and nothing is printed.

Each offset keeps its metadata: the current one (--shift-by,
--from-file; none for a partition without an offset) or the one it had
at T (--to-time). The request carries no generation, so the node does not
fence it; the new node stamps the commit time of the reset.

It never writes to DIR and works while a node runs on it.`,
		RunE: func(c *cobra.Command, args []string) error {
			o.shiftSet = c.Flags().Changed("shift-by")
			return runOn(e, o.run)(c, args)
		},
	}
	f := c.Flags()
	f.StringVar(&o.group, "group", "", "the group `G` to reset (required)")
	f.StringVar(&o.toTime, "to-time", "", "reset to the offsets committed at `TIME`")
	f.Int64Var(&o.shiftBy, "shift-by", 0, "move every offset by `N`")
	f.StringVar(&o.fromFile, "from-file", "", "reset to the offsets in CSV file `F` (topic,partition,offset)")
	return c
}

type resetOpts struct {
	group    string
	toTime   string
	shiftBy  int64
	fromFile string
	shiftSet bool
}

// planRow is one line of a reset plan. has tells whether the partition
// has an offset now (cur) and will have one (next) after the reset.
type planRow struct {
	topic     string
	partition int32
	cur, next consumeroffsets.OffsetValue
	hasCur    bool
	hasNext   bool
	clamped   bool
}

func (o *resetOpts) run(e *env, dir string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(e.stderr, "offsets-log reset-plan: "+format+"\n", args...)
		return exitUsage
	}
	if o.group == "" {
		return fail("--group is required: the group whose offsets to reset")
	}
	modes := 0
	for _, set := range []bool{o.toTime != "", o.shiftSet, o.fromFile != ""} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return fail("give exactly one of --to-time, --shift-by and --from-file")
	}
	var at point
	if o.toTime != "" {
		t, err := parseTime("--to-time", o.toTime)
		if err != nil {
			return fail("%v", err)
		}
		at = point{until: t, flag: "--to-time " + o.toTime, quiet: true}
	}
	var file []fileOffset
	if o.fromFile != "" {
		f, err := os.Open(o.fromFile)
		if err != nil {
			return fail("%v", err)
		}
		file, err = readResetFile(o.fromFile, f)
		f.Close()
		if err != nil {
			return fail("%v", err)
		}
	}

	now, code := e.loadState("reset-plan", dir, point{})
	if code != exitOK {
		return code
	}
	current := groupOffsets(now.state, o.group)
	rows := map[[2]any]*planRow{}
	row := func(topic string, partition int32) *planRow {
		k := [2]any{topic, partition}
		if r := rows[k]; r != nil {
			return r
		}
		r := &planRow{topic: topic, partition: partition}
		rows[k] = r
		return r
	}
	for _, off := range current {
		r := row(off.topic, off.partition)
		r.cur, r.hasCur = off.v, true
	}

	switch {
	case o.toTime != "":
		then, code := e.loadState("reset-plan", dir, at)
		if code != exitOK {
			return code
		}
		for _, off := range groupOffsets(then.state, o.group) {
			r := row(off.topic, off.partition)
			r.next, r.hasNext = off.v, true
		}
		if len(rows) == 0 {
			return fail("group %s has no offsets in %s, now or at %s", quote(o.group), dir, o.toTime)
		}
	case o.shiftSet:
		if len(current) == 0 {
			return fail("group %s has no offsets in %s to shift", quote(o.group), dir)
		}
		for _, r := range rows {
			r.next, r.hasNext = r.cur, true
			r.next.Offset, r.clamped = shift(r.cur.Offset, o.shiftBy)
		}
	default:
		for _, fo := range file {
			r := row(fo.topic, fo.partition)
			r.next, r.hasNext = r.cur, true
			if !r.hasCur {
				r.next = consumeroffsets.OffsetValue{}
			}
			r.next.Offset = fo.offset
		}
	}

	plan := make([]*planRow, 0, len(rows))
	for _, r := range rows {
		plan = append(plan, r)
	}
	slices.SortFunc(plan, func(a, b *planRow) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})

	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT\tNEW\t")
	var entries []commitEntry
	changed, kept, clamped := 0, 0, 0
	why, where := "no offset then", "without an offset at "+o.toTime
	if o.fromFile != "" {
		why, where = "not in "+o.fromFile, "not in "+o.fromFile
	}
	for _, r := range plan {
		cur, next, note := "-", "-", ""
		if r.hasCur {
			cur = strconv.FormatInt(r.cur.Offset, 10)
		}
		if r.hasNext {
			next = strconv.FormatInt(r.next.Offset, 10)
			entries = append(entries, commitEntry{r.topic, r.partition, r.next.Offset, r.next.Metadata})
			if !r.hasCur || r.cur.Offset != r.next.Offset || r.cur.Metadata != r.next.Metadata {
				changed++
			}
		} else {
			kept++
			note = why + ": left as it is"
		}
		if r.clamped {
			clamped++
			note = "clamped at 0"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", quote(r.topic), r.partition, cur, next, note)
	}
	tw.Flush()
	for line := range strings.Lines(table.String()) { // the note column pads rows without a note
		fmt.Fprintln(e.stderr, strings.TrimRight(line, " \n"))
	}

	w := bufio.NewWriter(e.stdout)
	if len(entries) > 0 {
		if err := writeCommit(w, nodeID(dir), 1, o.group, nil, entries); err != nil {
			return e.fail("reset-plan", dir, err)
		}
	}
	if err := w.Flush(); err != nil {
		return e.fail("reset-plan", dir, err)
	}
	summary := fmt.Sprintf("offsets-log reset-plan: group %s: %s, %d of them changed", quote(o.group), plural(len(entries), "offset to commit", "offsets to commit"), changed)
	if clamped > 0 {
		summary += fmt.Sprintf(", %d clamped at 0", clamped)
	}
	if kept > 0 {
		summary += fmt.Sprintf("; %s %s left as it was", plural(kept, "partition", "partitions"), where)
	}
	fmt.Fprintln(e.stderr, summary+". Nothing was changed: this is the plan.")
	if len(entries) == 0 {
		fmt.Fprintln(e.stderr, "offsets-log reset-plan: no request printed: there is nothing to commit")
	}
	return exitOK
}

// groupOffset is one live offset of a group.
type groupOffset struct {
	topic     string
	partition int32
	v         consumeroffsets.OffsetValue
}

// groupOffsets returns the offsets of group in s, sorted by topic and
// partition.
func groupOffsets(s *consumeroffsets.State, group string) []groupOffset {
	var out []groupOffset
	s.FetchGroup([]byte(group), nil, func(topic string, partition int32, v consumeroffsets.OffsetValue) {
		out = append(out, groupOffset{topic, partition, v})
	})
	return out
}

// shift moves off by n, clamped to [0, 2^63-1]; clamped tells whether it
// was.
func shift(off, n int64) (int64, bool) {
	switch {
	case n < 0 && off+n < 0:
		return 0, true
	case n > 0 && off > math.MaxInt64-n:
		return math.MaxInt64, true
	}
	return off + n, false
}

// fileOffset is one line of a --from-file reset file.
type fileOffset struct {
	topic     string
	partition int32
	offset    int64
}

// readResetFile reads a reset file: CSV lines topic,partition,offset, as
// Kafka's kafka-consumer-groups --from-file takes them. Blank lines and
// lines starting with # are skipped. The first bad line ends the read with
// an error naming it.
func readResetFile(name string, r io.Reader) ([]fileOffset, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	var out []fileOffset
	seen := map[[2]any]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: not a CSV line: %v", name, pe.Line, pe.Err)
		} else if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("%s:%d: %d fields, want 3: topic,partition,offset", name, line, len(rec))
		}
		topic := rec[0]
		if topic == "" {
			return nil, fmt.Errorf("%s:%d: the topic is empty", name, line)
		}
		p, err := strconv.ParseInt(strings.TrimSpace(rec[1]), 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("%s:%d: partition %q is not an integer in [0, 2147483647]", name, line, rec[1])
		}
		off, err := strconv.ParseInt(strings.TrimSpace(rec[2]), 10, 64)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("%s:%d: offset %q is not an integer in [0, 9223372036854775807]", name, line, rec[2])
		}
		k := [2]any{topic, int32(p)}
		if first, dup := seen[k]; dup {
			return nil, fmt.Errorf("%s:%d: topic %s partition %d again (first on line %d)", name, line, quote(topic), p, first)
		}
		seen[k] = line
		out = append(out, fileOffset{topic, int32(p), off})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no topic,partition,offset line", name)
	}
	return out, nil
}
