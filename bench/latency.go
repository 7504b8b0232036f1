package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// latencySample is one commit round trip: sent At (seconds after the first
// commit of its run), taking Micros, and whether it overlapped a
// compaction.
type latencySample struct {
	At     float64
	Micros float64
	During bool
}

// span is a time interval in seconds after the first commit of a run.
type span struct{ From, To float64 }

// compactionEvent is one msg=compacted line of the node.
type compactionEvent struct {
	Source        string  // which measurement saw it
	Run           int     // its run
	End           float64 // seconds after the first commit (sawtooth: after start) when the line arrived
	Duration      float64 // seconds
	PauseMicros   float64 // the log held for the release (pause=)
	SnapMicros    float64 // the serving goroutine's snapshot of the state (snapshot=)
	RecordsBefore float64
	RecordsAfter  float64
	BytesBefore   float64
	BytesAfter    float64
}

// span returns the interval the compaction ran in. The node logs the line at
// the first Flush after the compaction finished, so it arrives at most one
// request after the end.
func (e compactionEvent) span() span { return span{e.End - e.Duration, e.End} }

func toCompactionEvent(ev nodeEvent, origin time.Time, source string, run int) compactionEvent {
	return compactionEvent{
		Source: source, Run: run,
		End:           ev.At.Sub(origin).Seconds(),
		Duration:      ev.Fields.duration("duration").Seconds(),
		PauseMicros:   micros(ev.Fields.duration("pause")),
		SnapMicros:    micros(ev.Fields.duration("snapshot")),
		RecordsBefore: ev.Fields.number("records_before"),
		RecordsAfter:  ev.Fields.number("records_after"),
		BytesBefore:   ev.Fields.number("bytes_before"),
		BytesAfter:    ev.Fields.number("bytes_after"),
	}
}

// sequentialRun is what one run of sequential commits against a node saw.
type sequentialRun struct {
	Variant     string
	Run         int
	Samples     []latencySample
	Compactions []compactionEvent
	// PeakRSS is the node's peak resident set size in bytes from just after
	// init (the replay done) to the last commit: VmHWM, reset after init;
	// 0 if /proc could not tell (MemNote says why).
	PeakRSS int64
	MemNote string
}

// micros of the samples.
func (r sequentialRun) micros(filter func(latencySample) bool) []float64 {
	var out []float64
	for _, s := range r.Samples {
		if filter == nil || filter(s) {
			out = append(out, s.Micros)
		}
	}
	return out
}

// sequentialSpec says how to run sequential commits against the node.
type sequentialSpec struct {
	Variant string
	Args    []string // node arguments; --data-dir is added
	DataDir string   // the node's --data-dir, prepared by the caller
	N       int      // commits to time
	Keys    int      // keys they go to, drawn at random
	// UntilCompacted keeps committing after N until a compaction has
	// finished, for at most MaxTime.
	UntilCompacted bool
	MaxTime        time.Duration
}

// runSequential starts the node, sends init, then commits one at a time:
// write one request to the node's stdin pipe, wait for its reply line. Each
// round trip is one sample.
func runSequential(bin string, spec sequentialSpec, run int, workDir string) (sequentialRun, error) {
	res := sequentialRun{Variant: spec.Variant, Run: run}
	args := append(append([]string(nil), spec.Args...), "--data-dir", spec.DataDir)
	stderr := filepath.Join(workDir, fmt.Sprintf("%s-run%d.stderr", spec.Variant, run))
	p, err := startNode(bin, args, stderr)
	if err != nil {
		return res, err
	}
	fail := func(err error) (sequentialRun, error) {
		p.cmd.Process.Kill()
		p.stop(5 * time.Second)
		return res, fmt.Errorf("%s run %d: %w", spec.Variant, run, err)
	}
	if err := p.init(); err != nil {
		return fail(err)
	}
	// The replay's peak is the same with compaction and without: measure
	// from here.
	memErr := p.resetPeakRSS()
	rng := rand.New(rand.NewPCG(uint64(run), 99))
	// Offsets far above any fixture's, so that every commit moves forward.
	base := int64(1) << 40
	var buf []byte
	origin := time.Now()
	deadline := origin.Add(max(spec.MaxTime, time.Minute))
	res.Samples = make([]latencySample, 0, spec.N)
	for i := 0; ; i++ {
		if i >= spec.N {
			if !spec.UntilCompacted || len(p.eventsOf("compacted")) > 0 || time.Now().After(deadline) {
				break
			}
		}
		start := time.Now()
		if buf, err = p.commit(buf, int64(i+2), rng.IntN(spec.Keys), base+int64(i)); err != nil {
			return fail(err)
		}
		res.Samples = append(res.Samples, latencySample{At: start.Sub(origin).Seconds(), Micros: micros(time.Since(start))})
	}
	if memErr == nil {
		res.PeakRSS, memErr = p.peakRSS()
	}
	if memErr != nil {
		res.PeakRSS, res.MemNote = 0, "peak RSS not measured: "+memErr.Error()
	}
	if err := p.stop(2 * time.Minute); err != nil {
		return res, fmt.Errorf("%s run %d: %w", spec.Variant, run, err)
	}
	for _, ev := range p.eventsOf("compacted") {
		res.Compactions = append(res.Compactions, toCompactionEvent(ev, origin, spec.Variant, run))
	}
	markDuring(res.Samples, res.Compactions)
	os.RemoveAll(spec.DataDir)
	return res, nil
}

// markDuring sets During on every sample whose round trip overlaps the
// span of one of the compactions.
func markDuring(samples []latencySample, compactions []compactionEvent) {
	for i, s := range samples {
		end := s.At + s.Micros/1e6
		samples[i].During = false
		for _, c := range compactions {
			if sp := c.span(); end >= sp.From && s.At <= sp.To {
				samples[i].During = true
				break
			}
		}
	}
}
