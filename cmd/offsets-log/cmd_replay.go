package main

import (
	"bufio"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/spf13/cobra"
)

func replayCommand(e *env) *cobra.Command {
	o := &replayOpts{}
	c := &cobra.Command{
		Use:     "replay [flags] DIR",
		GroupID: groupRead,
		Short:   "print the committed offsets a replay of the log rebuilds",
		Long: `Replays the log as the node does at start and prints the committed offsets
it rebuilds, sorted by group, topic (byte order) and partition: a table, or
with --json one object per line:

  {"group": "g", "topic": "t", "partition": 0, "offset": 42, "metadata": "",
   "commit_time": "2026-01-02T03:04:05.000Z"}

(commit_time in RFC 3339 with milliseconds, UTC). It replays as the node
does: an offset commit sets its key (group, topic, partition), an offset
tombstone removes it; group records set and remove generations, which stats
--groups shows (a deleted group's offsets each have their own tombstone).
--at-index and --at-time replay a prefix of the log: the offsets as they
were then, as far back as the newest checkpoint.
A line on stderr ends the run: records replayed, time taken, records per
second.

It never writes to DIR and works while a node runs on it.`,
		RunE: runOn(e, o.run),
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print one JSON object per line")
	f.StringVar(&o.group, "group", "", "print only the offsets of group `G`")
	f.StringVar(&o.topic, "topic", "", "print only the offsets of topic `T`")
	f.Uint64Var(&o.atIndex, "at-index", 0, "stop after the entry at log index `N`")
	f.StringVar(&o.atTime, "at-time", "", "stop before the first record written after `TIME` (RFC 3339, e.g. 2026-01-02T03:04:05Z, or YYYY-MM-DDTHH:mm:SS.sss in UTC)")
	return c
}

type replayOpts struct {
	json         bool
	group, topic string
	atIndex      uint64
	atTime       string
}

func (o *replayOpts) run(e *env, dir string) int {
	p := point{atIndex: o.atIndex, flag: fmt.Sprintf("--at-index %d", o.atIndex)}
	if o.atTime != "" {
		t, err := parseTime("--at-time", o.atTime)
		if err != nil {
			fmt.Fprintf(e.stderr, "offsets-log replay: %v\n", err)
			return exitUsage
		}
		p.until, p.flag = t, "--at-time "+o.atTime
	}
	ld, code := e.loadState("replay", dir, p)
	if code != exitOK {
		return code
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	var line func(group, topic string, partition int32, v consumeroffsets.OffsetValue)
	var tw *tabwriter.Writer
	if o.json {
		enc := jsonLines(w)
		line = func(group, topic string, partition int32, v consumeroffsets.OffsetValue) {
			enc.Encode(offsetJSON{group, topic, partition, v.Offset, v.Metadata, ms(commitTime(v))})
		}
	} else {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tOFFSET\tMETADATA\tCOMMIT_TIME")
		line = func(group, topic string, partition int32, v consumeroffsets.OffsetValue) {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", quote(group), quote(topic), partition, v.Offset,
				fmt.Sprintf("%q", v.Metadata), ms(commitTime(v)))
		}
	}
	if o.group != "" {
		var topics [][]byte
		if o.topic != "" {
			topics = [][]byte{[]byte(o.topic)}
		}
		ld.state.FetchGroup([]byte(o.group), topics, func(topic string, partition int32, v consumeroffsets.OffsetValue) {
			line(o.group, topic, partition, v)
		})
	} else {
		ld.state.Offsets(func(k consumeroffsets.OffsetKey, v consumeroffsets.OffsetValue) bool {
			if o.topic == "" || k.Topic == o.topic {
				line(k.Group, k.Topic, k.Partition, v)
			}
			return true
		})
	}
	if tw != nil {
		tw.Flush()
	}
	if err := w.Flush(); err != nil {
		return e.fail("replay", dir, err)
	}
	c := ld.state.Counts()
	fmt.Fprintf(e.stderr, "offsets-log replay: replayed %d records through index %d in %s: %s records/s\n",
		c.Records, ld.last, ld.took.Round(time.Microsecond), rate(c.Records, ld.took))
	return exitOK
}

// commitTime is an offset's commit time as a time.Time.
func commitTime(v consumeroffsets.OffsetValue) time.Time { return time.UnixMilli(v.CommitTime).UTC() }

type offsetJSON struct {
	Group      string `json:"group"`
	Topic      string `json:"topic"`
	Partition  int32  `json:"partition"`
	Offset     int64  `json:"offset"`
	Metadata   string `json:"metadata"`
	CommitTime string `json:"commit_time"`
}
