package main

import (
	"bufio"
	"fmt"
	"math"
	"text/tabwriter"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
	"github.com/spf13/cobra"
)

func statsCommand(e *env) *cobra.Command {
	o := &statsOpts{}
	c := &cobra.Command{
		Use:     "stats [flags] DIR",
		GroupID: groupRead,
		Short:   "sizes, counts, live keys, groups, dirty ratio",
		Long: `Replays the log and prints what it holds: segment files and bytes read
(the newest checkpoint's included), entries and records by type, live keys
(committed offsets a replay keeps), groups (with live offsets or a
generation), tombstones, the dirty ratio, the commit times of the oldest
and newest live offsets, the log index the newest checkpoint covers, and
the last index. --groups adds one line per group: its live offsets,
generation and newest commit.

The dirty ratio is the node's compaction trigger (consumeroffsets'
State.DirtyRatio): 1 - (live records + live tombstones) / all record
bytes, the share of the log a compaction now would drop. Live records are
the latest commit of each live key and the latest group metadata of each
group that has a generation; a live tombstone is the latest record of its
key, which a compaction keeps for the tombstone retention.

It never writes to DIR and works while a node runs on it.`,
		RunE: runOn(e, o.run),
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.BoolVar(&o.groups, "groups", false, "list every group with its live offsets, generation and newest commit")
	return c
}

type statsOpts struct{ json, groups bool }

type statsJSON struct {
	Dir                  string      `json:"dir"`
	Segments             int         `json:"segments"`
	Bytes                int64       `json:"bytes"`
	Entries              uint64      `json:"entries"`
	Records              uint64      `json:"records"`
	Commits              uint64      `json:"commits"`
	OffsetTombstones     uint64      `json:"offset_tombstones"`
	GroupMetadata        uint64      `json:"group_metadata"`
	GroupTombstones      uint64      `json:"group_tombstones"`
	LiveKeys             int         `json:"live_keys"`
	Groups               int         `json:"groups"`
	GroupsWithGeneration int         `json:"groups_with_generation"`
	Tombstones           uint64      `json:"tombstones"`
	TombstoneBytes       int64       `json:"tombstone_bytes"`
	RecordBytes          int64       `json:"record_bytes"`
	LiveRecordBytes      int64       `json:"live_record_bytes"`
	DirtyRatio           float64     `json:"dirty_ratio"`
	OldestCommit         string      `json:"oldest_commit,omitempty"`
	NewestCommit         string      `json:"newest_commit,omitempty"`
	Checkpoint           *uint64     `json:"checkpoint"`
	LastIndex            uint64      `json:"last_index"`
	GroupList            []groupJSON `json:"group_list,omitempty"`
}

type groupJSON struct {
	Group        string `json:"group"`
	Offsets      int    `json:"offsets"`
	Generation   *int32 `json:"generation"`
	NewestCommit string `json:"newest_commit,omitempty"`
}

func (o *statsOpts) run(e *env, dir string) int {
	if !e.checkDir("stats", dir) {
		return exitUsage
	}
	state := consumeroffsets.NewState()
	rp := state.Replayer()
	st, held, err := e.scanLog("stats", dir, log.ScanOptions{Record: rp.Apply})
	rp.Done()
	if err != nil {
		return e.fail("stats", dir, err)
	}
	c := state.Counts()
	oldest, newest := state.CommitTimes()
	e.noteTail("stats", dir, held, st.Tail)

	out := statsJSON{Dir: dir, Segments: st.Segments, Bytes: st.Bytes, Entries: st.Entries, Records: c.Records,
		Commits: c.Commits, OffsetTombstones: c.OffsetTombstones, GroupMetadata: c.GroupMetadata, GroupTombstones: c.GroupTombstones,
		LiveKeys: c.LiveKeys, Groups: c.Groups, GroupsWithGeneration: c.Generations,
		Tombstones: c.OffsetTombstones + c.GroupTombstones, TombstoneBytes: c.TombstoneRecordBytes, RecordBytes: c.RecordBytes,
		LiveRecordBytes: c.KeptBytes(), DirtyRatio: math.Round(c.DirtyRatio()*1e4) / 1e4, LastIndex: st.Last}
	if !oldest.IsZero() {
		out.OldestCommit, out.NewestCommit = ms(oldest), ms(newest)
	}
	if st.Checkpoint != 0 {
		out.Checkpoint = &st.Checkpoint
	}
	if o.groups {
		for _, g := range state.GroupInfos() {
			gj := groupJSON{Group: g.Name, Offsets: g.Offsets}
			if g.HasGeneration {
				gen := g.Generation
				gj.Generation = &gen
			}
			if !g.NewestCommit.IsZero() {
				gj.NewestCommit = ms(g.NewestCommit)
			}
			out.GroupList = append(out.GroupList, gj)
		}
	}

	w := bufio.NewWriter(e.stdout)
	if o.json {
		jsonLines(w).Encode(out)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		ck := "none"
		if out.Checkpoint != nil {
			ck = fmt.Sprintf("covers index %d", st.Checkpoint)
		}
		fmt.Fprintf(tw, "directory\t%s\n", dir)
		fmt.Fprintf(tw, "segments\t%d\n", out.Segments)
		fmt.Fprintf(tw, "bytes\t%d\n", out.Bytes)
		fmt.Fprintf(tw, "entries\t%d\n", out.Entries)
		fmt.Fprintf(tw, "records\t%d (%d commit, %d offset-tombstone, %d group, %d group-tombstone)\n",
			out.Records, out.Commits, out.OffsetTombstones, out.GroupMetadata, out.GroupTombstones)
		fmt.Fprintf(tw, "live keys\t%d\n", out.LiveKeys)
		fmt.Fprintf(tw, "groups\t%d (%d with a generation)\n", out.Groups, out.GroupsWithGeneration)
		fmt.Fprintf(tw, "tombstones\t%d (%d record bytes)\n", out.Tombstones, out.TombstoneBytes)
		fmt.Fprintf(tw, "dirty ratio\t%.4f (%d of %d record bytes live)\n", out.DirtyRatio, out.LiveRecordBytes, out.RecordBytes)
		fmt.Fprintf(tw, "oldest commit\t%s\n", ms(oldest))
		fmt.Fprintf(tw, "newest commit\t%s\n", ms(newest))
		fmt.Fprintf(tw, "checkpoint\t%s\n", ck)
		fmt.Fprintf(tw, "last index\t%d\n", out.LastIndex)
		tw.Flush()
		if o.groups {
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tOFFSETS\tGENERATION\tNEWEST_COMMIT")
			for _, g := range out.GroupList {
				gen := "-"
				if g.Generation != nil {
					gen = fmt.Sprint(*g.Generation)
				}
				nc := g.NewestCommit
				if nc == "" {
					nc = "-"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", quote(g.Group), g.Offsets, gen, nc)
			}
			tw.Flush()
		}
	}
	if err := w.Flush(); err != nil {
		return e.fail("stats", dir, err)
	}
	return exitOK
}
