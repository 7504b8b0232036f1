package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
	"github.com/spf13/cobra"
)

func dumpCommand(e *env) *cobra.Command {
	o := &dumpOpts{}
	c := &cobra.Command{
		Use:     "dump [flags] DIR",
		GroupID: groupRead,
		Short:   "print every record in log order, decoded",
		Long: `Prints every record of the log in log order, one line each: its log index,
where it comes from (from=checkpoint for the records of the newest
checkpoint, which stand at the index the checkpoint covers; from=wal for the
rest), its type (commit, offset-tombstone, group, group-tombstone), key and
value, the time it was written, its size in bytes, the state of its entry's
CRC-32C, and the file and byte offset of its entry.

Damage does not stop the dump: each damaged place gets a line of type
"damage" (or "torn-tail" at the end of the newest segment) naming its file,
byte offset and cause, and the dump resumes at the next valid entry; the
exit status is then 1. --json prints one JSON object per line instead.

It never writes to DIR and works while a node runs on it.`,
		RunE: runOn(e, o.run),
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print one JSON object per line")
	f.Uint64Var(&o.from, "from", 0, "start at log index `N`")
	f.Uint64Var(&o.to, "to", 0, "stop after log index `N`")
	return c
}

type dumpOpts struct {
	json     bool
	from, to uint64
}

type dumpJSON struct {
	Index      uint64  `json:"index"`
	From       string  `json:"from"`
	Type       string  `json:"type"`
	Group      *string `json:"group,omitempty"`
	Topic      *string `json:"topic,omitempty"`
	Partition  *int32  `json:"partition,omitempty"`
	Offset     *int64  `json:"offset,omitempty"`
	Metadata   *string `json:"metadata,omitempty"`
	Generation *int32  `json:"generation,omitempty"`
	Time       string  `json:"time,omitempty"`
	Size       int     `json:"size,omitempty"`
	CRC        string  `json:"crc"`
	Bytes      int64   `json:"bytes,omitempty"`
	Resumes    uint64  `json:"resumes_at_index,omitempty"`
	Error      string  `json:"error,omitempty"`
	File       string  `json:"file"`
	Pos        int64   `json:"pos"`
}

func (o *dumpOpts) run(e *env, dir string) int {
	if !e.checkDir("dump", dir) {
		return exitUsage
	}
	if o.to != 0 && o.from > o.to {
		fmt.Fprintf(e.stderr, "offsets-log dump: --from %d is after --to %d\n", o.from, o.to)
		return exitUsage
	}
	held, _, _ := log.LockHeld(dir)
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	p := dumpPrinter{w: w, dir: dir, json: o.json}
	if o.json {
		p.enc = jsonLines(w)
	}
	var entry log.EntryInfo
	var tail *log.Damage
	var newer error // an entry of a format version this program does not know
	damaged := false
	_, _, err := e.scanLog("dump", dir, log.ScanOptions{
		From: o.from, To: o.to,
		Entry: func(en log.EntryInfo) error {
			entry = en
			return nil
		},
		Record: func(idx uint64, r log.Record) error {
			if !p.record(entry, r) {
				damaged = true
			}
			return nil
		},
		Damage: func(d log.Damage) error {
			if d.Tail {
				dd := d
				tail = &dd
				if held && errors.Is(d.Err, log.ErrTorn) {
					return nil // a write in progress: the note says so
				}
			} else {
				damaged = true
			}
			if errors.Is(d.Err, log.ErrVersion) && newer == nil {
				newer = d.Err
			}
			p.damage(d)
			return nil
		},
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return e.fail("dump", dir, err)
	}
	e.noteTail("dump", dir, held, tail)
	if newer != nil {
		return e.fail("dump", dir, newer)
	}
	if damaged {
		fmt.Fprintf(e.stderr, "offsets-log dump: the log is damaged (see the lines with type=damage or error=); the node refuses to start on it. 'offsets-log verify %s' says more.\n", dir)
		return exitDamaged
	}
	return exitOK
}

type dumpPrinter struct {
	w    io.Writer
	enc  interface{ Encode(any) error }
	dir  string
	json bool
}

// record prints one record and reports whether it decoded.
func (p *dumpPrinter) record(en log.EntryInfo, r log.Record) bool {
	from := "wal"
	if en.Checkpoint {
		from = "checkpoint"
	}
	rec, err := consumeroffsets.DecodeRecord(r)
	j := dumpJSON{Index: en.Index, From: from, Type: typeName(r.Type), Size: r.Size(), CRC: "ok",
		File: rel(p.dir, en.Path), Pos: en.Offset}
	if err != nil {
		j.Error = err.Error()
	} else {
		j.Group = &rec.Key.Group
		j.Time = ms(time.UnixMilli(rec.Time))
		switch r.Type {
		case consumeroffsets.TypeOffsetCommit:
			j.Topic, j.Partition, j.Offset, j.Metadata = &rec.Key.Topic, &rec.Key.Partition, &rec.Value.Offset, &rec.Value.Metadata
		case consumeroffsets.TypeOffsetTombstone:
			j.Topic, j.Partition = &rec.Key.Topic, &rec.Key.Partition
		case consumeroffsets.TypeGroupMetadata:
			j.Generation = &rec.Generation
		}
	}
	if p.json {
		p.enc.Encode(j)
		return err == nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "index=%d from=%s type=%s", j.Index, j.From, j.Type)
	if j.Group != nil {
		fmt.Fprintf(&b, " group=%s", quote(*j.Group))
	}
	if j.Topic != nil {
		fmt.Fprintf(&b, " topic=%s partition=%d", quote(*j.Topic), *j.Partition)
	}
	if j.Offset != nil {
		fmt.Fprintf(&b, " offset=%d metadata=%q", *j.Offset, *j.Metadata)
	}
	if j.Generation != nil {
		fmt.Fprintf(&b, " generation=%d", *j.Generation)
	}
	if j.Time != "" {
		fmt.Fprintf(&b, " time=%s", j.Time)
	}
	if j.Error != "" {
		fmt.Fprintf(&b, " error=%q data=%x", j.Error, r.Data)
	}
	fmt.Fprintf(&b, " size=%d crc=ok file=%s pos=%d\n", j.Size, j.File, j.Pos)
	io.WriteString(p.w, b.String())
	return err == nil
}

func (p *dumpPrinter) damage(d log.Damage) {
	from := "wal"
	if d.Checkpoint {
		from = "checkpoint"
	}
	typ := "damage"
	if d.Tail {
		typ = "torn-tail"
	}
	j := dumpJSON{Index: d.Index, From: from, Type: typ, CRC: crcState(d.Err), Bytes: d.Bytes, Resumes: d.Next,
		Error: relErr(p.dir, d.Err), File: rel(p.dir, d.Path), Pos: d.Offset}
	if p.json {
		p.enc.Encode(j)
		return
	}
	resumes := ""
	if d.Next != 0 {
		resumes = fmt.Sprintf(" resumes_at_index=%d", d.Next)
	}
	fmt.Fprintf(p.w, "index=%d from=%s type=%s bytes=%d%s error=%q crc=%s file=%s pos=%d\n",
		j.Index, j.From, j.Type, j.Bytes, resumes, j.Error, j.CRC, j.File, j.Pos)
}

// crcState names what was wrong with a damaged entry, as dump's crc field.
func crcState(err error) string {
	switch {
	case errors.Is(err, log.ErrChecksum):
		return "bad"
	case errors.Is(err, log.ErrTorn):
		return "torn"
	case errors.Is(err, log.ErrZeroed):
		return "zeroed"
	case errors.Is(err, log.ErrVersion):
		return "unknown-version"
	}
	return "corrupt"
}

// typeName names a record type as dump prints it.
func typeName(t log.RecordType) string {
	switch t {
	case consumeroffsets.TypeOffsetCommit:
		return "commit"
	case consumeroffsets.TypeOffsetTombstone:
		return "offset-tombstone"
	case consumeroffsets.TypeGroupMetadata:
		return "group"
	case consumeroffsets.TypeGroupTombstone:
		return "group-tombstone"
	}
	return fmt.Sprintf("unknown-%d", t)
}
