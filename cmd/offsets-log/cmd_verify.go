package main

import (
	"bufio"
	"errors"
	"fmt"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
	"github.com/spf13/cobra"
)

func verifyCommand(e *env) *cobra.Command {
	o := &verifyOpts{}
	c := &cobra.Command{
		Use:     "verify [flags] DIR",
		GroupID: groupRead,
		Short:   "check every entry and record; report every damaged place",
		Long: `Checks the whole log, the newest checkpoint and every wal segment: each
entry's framing, CRC-32C, format version and log index (entries in order,
segments without gaps), and that each record decodes under its type's
schema. A checkpoint must match its seal (its SEAL file, which records its
entries, records, size and a checksum): one cut short, emptied, missing a
segment or without its seal is damage, which the node refuses and never
cuts. A checkpoint written before seals existed is read with a warning
that its completeness cannot be checked. Unlike the node, which stops at
the first damage, it reports every damaged place it finds, with its file
and byte offset: after a bad entry it searches the rest of the file for the
next valid one and carries on from there, and then with the next file.

It then says what the node will do with this log at its next start: start
cleanly, cut a torn tail (damage at the very end of the newest segment with
no valid entry after it: what a crash mid-write leaves) and start, or refuse
to start (damage anywhere else, which a cut would not remove without losing
entries after it). On a directory a running node holds, an entry cut short
at the end of the newest segment is a write in progress, not damage.

It changes nothing.`,
		RunE: runOn(e, o.run),
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

type verifyOpts struct{ json bool }

type finding struct {
	File    string `json:"file"`
	Pos     int64  `json:"pos"`
	Index   uint64 `json:"index"`
	Record  int    `json:"record,omitempty"` // 1-based record of the entry, for record damage
	Bytes   int64  `json:"bytes"`
	Resumes uint64 `json:"resumes_at_index,omitempty"`
	Kind    string `json:"kind"` // damage, torn-tail, record, unknown-version, in-progress
	Error   string `json:"error"`
	// NodeCuts marks the torn tail that the node cuts at its next start.
	NodeCuts bool `json:"node_cuts"`

	err        error
	checkpoint bool // the damage is in the checkpoint, which is never cut
}

type verifyJSON struct {
	Dir        string `json:"dir"`
	OK         bool   `json:"ok"`
	Checkpoint uint64 `json:"checkpoint,omitempty"`
	// Unsealed marks a checkpoint written before seals existed, whose
	// completeness cannot be checked.
	Unsealed bool      `json:"checkpoint_unsealed,omitempty"`
	Segments int       `json:"segments"`
	Entries  uint64    `json:"entries"`
	Records  uint64    `json:"records"`
	Bytes    int64     `json:"bytes"`
	Findings []finding `json:"findings"`
	Node     string    `json:"node"` // running, starts, cuts-torn-tail, refuses
	Verdict  string    `json:"verdict"`
}

func (o *verifyOpts) run(e *env, dir string) int {
	if !e.checkDir("verify", dir) {
		return exitUsage
	}
	var entry log.EntryInfo
	var recNo int
	var found []finding
	held, _, _ := log.LockHeld(dir)
	st, _, err := e.scanLog("verify", dir, log.ScanOptions{
		Entry: func(en log.EntryInfo) error {
			entry, recNo = en, 0
			return nil
		},
		Record: func(idx uint64, r log.Record) error {
			recNo++
			if _, err := consumeroffsets.DecodeRecord(r); err != nil {
				found = append(found, finding{File: rel(dir, entry.Path), Pos: entry.Offset, Index: idx, Record: recNo,
					Bytes: int64(entry.Size), Kind: "record", Error: fmt.Sprintf("record %d of %d: %v", recNo, entry.Records, err), err: err})
			}
			return nil
		},
		Damage: func(d log.Damage) error {
			f := finding{File: rel(dir, d.Path), Pos: d.Offset, Index: d.Index, Bytes: d.Bytes, Resumes: d.Next,
				Kind: "damage", Error: relErr(dir, d.Err), err: d.Err, checkpoint: d.Checkpoint}
			if errors.Is(d.Err, log.ErrVersion) {
				f.Kind = "unknown-version"
			} else if d.Tail {
				f.Kind = "torn-tail"
				if held && errors.Is(d.Err, log.ErrTorn) {
					f.Kind = "in-progress"
				}
			}
			found = append(found, f)
			return nil
		},
	})
	if err != nil {
		return e.fail("verify", dir, err)
	}
	rep, refusal := log.PlanRepair(dir)

	out := verifyJSON{Dir: dir, Checkpoint: st.Checkpoint, Unsealed: st.Checkpoint != 0 && !st.Sealed,
		Segments: st.Segments, Entries: st.Entries, Records: st.Records, Bytes: st.Bytes, Findings: found}
	var damaged, newer int
	var firstBad *finding
	for i := range found {
		f := &found[i]
		switch {
		case f.Kind == "in-progress":
			continue
		case f.Kind == "torn-tail" && rep != nil && f.File == rel(dir, rep.Segment) && f.Pos == rep.Offset:
			f.NodeCuts = true
		case errors.Is(f.err, log.ErrVersion):
			newer++
		}
		if !f.NodeCuts && firstBad == nil {
			firstBad = f
		}
		damaged++
	}
	out.OK = damaged == 0
	switch {
	case firstBad != nil && newer == damaged:
		out.Node = "refuses"
		out.Verdict = fmt.Sprintf("this version of the node refuses to start on this log: a newer version of offsets wrote entries in a format this program does not know (the first at %s byte %d). Use the programs of that version.", firstBad.File, firstBad.Pos)
	case firstBad != nil && firstBad.checkpoint:
		out.Node = "refuses"
		out.Verdict = fmt.Sprintf("the node refuses to start on this log: the checkpoint is damaged at %s, and a checkpoint is never cut or repaired (older checkpoints are kept). Restore the directory from a replica or a backup.", firstBad.File)
		if damaged, older, ok, _ := log.OlderCheckpoint(dir); ok {
			out.Verdict = fmt.Sprintf("the node refuses to start on this log: the checkpoint is damaged at %s, and a checkpoint is never cut or repaired. %s and the wal after it hold the whole log (they were checked): moving %s out of %s lets the node start on them.",
				firstBad.File, rel(dir, older), rel(dir, damaged), dir)
		}
	case firstBad != nil:
		out.Node = "refuses"
		out.Verdict = fmt.Sprintf("the node refuses to start on this log: the damage at %s byte %d cannot be cut off without losing the entries after it. Restore the directory from a replica or a backup; 'offsets-log repair' only cuts a torn tail.", firstBad.File, firstBad.Pos)
		if rep != nil {
			out.Verdict = fmt.Sprintf("at its next start the node cuts the torn tail at %s byte %d, then refuses to start: the damage at %s byte %d cannot be cut off without losing the entries after it. Restore the directory from a replica or a backup.",
				rel(dir, rep.Segment), rep.Offset, firstBad.File, firstBad.Pos)
		}
	case held:
		out.Node = "running"
		out.Verdict = "a node is running on this log."
		if damaged > 0 && rep != nil {
			out.Verdict = fmt.Sprintf("a node is running on this log; at its next start it cuts the torn tail: %d bytes of %s from byte %d.", rep.Dropped, rel(dir, rep.Segment), rep.Offset)
		}
	case rep != nil:
		out.Node = "cuts-torn-tail"
		out.Verdict = fmt.Sprintf("the node cuts the torn tail at its next start: %d bytes of %s from byte %d, entries from %d on, kept in %s; 'offsets-log repair %s' does the same now.",
			rep.Dropped, rel(dir, rep.Segment), rep.Offset, rep.FirstLost, rel(dir, rep.BrokenFile), dir)
	case refusal != nil:
		// Scan found nothing that Open refuses; they must agree.
		out.OK = false
		out.Node = "refuses"
		out.Verdict = fmt.Sprintf("the node refuses to start on this log: %s", relErr(dir, refusal))
	default:
		out.Node = "starts"
		out.Verdict = "the node starts on this log."
	}

	w := bufio.NewWriter(e.stdout)
	if o.json {
		if out.Findings == nil {
			out.Findings = []finding{}
		}
		jsonLines(w).Encode(out)
	} else {
		for _, f := range found {
			if f.Index == 0 { // a whole file, not an entry: a checkpoint's seal
				fmt.Fprintf(w, "%s: %s: %s\n", f.Kind, f.File, f.Error)
				continue
			}
			fmt.Fprintf(w, "%s: %s byte %d, entry %d: %s", f.Kind, f.File, f.Pos, f.Index, f.Error)
			switch {
			case f.Kind == "record":
			case f.Resumes != 0 && f.Bytes > 0:
				fmt.Fprintf(w, " (%d bytes up to entry %d at byte %d)", f.Bytes, f.Resumes, f.Pos+f.Bytes)
			case f.Resumes != 0:
				fmt.Fprintf(w, " (entries %d to %d are missing)", f.Index, f.Resumes-1)
			case f.Bytes == 0:
			default:
				fmt.Fprintf(w, " (%d bytes to the end of the file)", f.Bytes)
			}
			fmt.Fprintln(w)
		}
		what := fmt.Sprintf("%s, %s, %s", plural(st.Segments, "segment", "segments"),
			plural(int(st.Entries), "entry", "entries"), plural(int(st.Records), "record", "records"))
		if st.Checkpoint != 0 {
			what += fmt.Sprintf(", checkpoint %d included", st.Checkpoint)
		}
		if out.Unsealed {
			fmt.Fprintf(w, "warning: checkpoint %d has no seal (written by an older version): it cannot be verified for completeness; the node starts on it with a WARN line and its next compaction writes a sealed one\n", st.Checkpoint)
		}
		switch {
		case out.OK:
			fmt.Fprintf(w, "ok: read %s; no damage; %s\n", what, out.Verdict)
		case newer > 0 && newer == damaged:
			fmt.Fprintf(w, "CANNOT CHECK: %s in a newer format; read %s. %s\n", plural(newer, "entry", "entries"), what, capitalize(out.Verdict))
		default:
			fmt.Fprintf(w, "DAMAGED: %s; read %s. %s\n", plural(damaged, "damaged place", "damaged places"), what, capitalize(out.Verdict))
		}
	}
	if err := w.Flush(); err != nil {
		return e.fail("verify", dir, err)
	}
	switch {
	case out.OK:
		return exitOK
	case newer > 0 && newer == damaged:
		return exitUsage // not damage: a format this program cannot check
	}
	return exitDamaged
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
