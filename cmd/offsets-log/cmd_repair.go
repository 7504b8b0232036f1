package main

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/maelstrom-offsets/offsets/log"
	"github.com/spf13/cobra"
)

func repairCommand(e *env) *cobra.Command {
	o := &repairOpts{}
	c := &cobra.Command{
		Use:     "repair [flags] DIR",
		GroupID: groupChange,
		Short:   "cut a torn tail back to the last good entry, keeping the cut bytes",
		Long: `Does now what the node does at its next start: when the newest segment ends
in a torn tail (damage at its very end with no valid entry after it, what a
crash mid-write leaves), it saves the damaged bytes in SEGMENT.broken
(fsynced), then truncates the segment to its last good entry and fsyncs it.
It prints exactly what it dropped: the segment, the byte offset it cut at,
the bytes dropped, the first lost log index, and where the bytes were saved.

It refuses, changing nothing, damage that is not a torn tail (a valid entry
follows it, or the entry was written by a newer version): cutting it would
drop entries the node may have acknowledged. It takes the directory's lock,
so it refuses while a node runs on DIR. Like the node's start it looks at the
newest segment only: run 'offsets-log verify' to check the rest.`,
		RunE: runOn(e, o.run),
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print what it did as one JSON object")
	return c
}

type repairOpts struct{ json bool }

type repairJSON struct {
	Dir         string `json:"dir"`
	Repaired    bool   `json:"repaired"`
	Segment     string `json:"segment,omitempty"`
	Offset      int64  `json:"offset,omitempty"`
	Dropped     int64  `json:"bytes_dropped,omitempty"`
	FirstLost   uint64 `json:"first_lost_index,omitempty"`
	EntriesKept uint64 `json:"entries_kept,omitempty"`
	SavedTo     string `json:"saved_to,omitempty"`
	Cause       string `json:"cause,omitempty"`
}

func (o *repairOpts) run(e *env, dir string) int {
	if !e.checkDir("repair", dir) {
		return exitUsage
	}
	rep, err := log.Repair(dir)
	var ce *log.CorruptionError
	if errors.As(err, &ce) && !errors.Is(err, log.ErrVersion) {
		fmt.Fprintf(e.stderr, "offsets-log repair: refusing to cut: %s.\nCutting there would drop the entries after it, which the node may have acknowledged. Nothing was changed. Run 'offsets-log verify %s' to list every damaged place; restore the directory from a replica or a backup.\n",
			relErr(dir, err), dir)
		return exitDamaged
	}
	if err != nil {
		return e.fail("repair", dir, err)
	}
	out := repairJSON{Dir: dir, Repaired: rep != nil}
	if rep != nil {
		out.Segment, out.Offset, out.Dropped, out.FirstLost = rel(dir, rep.Segment), rep.Offset, rep.Dropped, rep.FirstLost
		out.EntriesKept, out.SavedTo, out.Cause = rep.EntriesKept, rel(dir, rep.BrokenFile), relErr(dir, rep.Cause)
	}
	w := bufio.NewWriter(e.stdout)
	switch {
	case o.json:
		jsonLines(w).Encode(out)
	case rep == nil:
		fmt.Fprintf(w, "nothing to repair: the newest segment of %s has no torn tail\n", dir)
	default:
		fmt.Fprintf(w, "cut the torn tail off %s at byte %d\n", out.Segment, rep.Offset)
		fmt.Fprintf(w, "dropped     %d bytes: entry %d on (%s)\n", rep.Dropped, rep.FirstLost, out.Cause)
		fmt.Fprintf(w, "kept        %d entries in the segment, through index %d\n", rep.EntriesKept, rep.FirstLost-1)
		fmt.Fprintf(w, "saved to    %s\n", out.SavedTo)
	}
	if err := w.Flush(); err != nil {
		return e.fail("repair", dir, err)
	}
	return exitOK
}
