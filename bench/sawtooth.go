package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// sawtoothSpec configures the log-size-over-time run.
type sawtoothSpec struct {
	Duration time.Duration
	Rate     int // commits per second, sent in slices every 10 ms
	Keys     int
	Args     []string // node flags (small compaction thresholds)
	Every    time.Duration
}

// sizeSample is the data directory's size at a moment of the run.
type sizeSample struct {
	At    float64 // seconds after the node started
	Bytes int64
}

// sawtoothResult is what the run saw.
type sawtoothResult struct {
	Spec        sawtoothSpec
	Samples     []sizeSample
	Compactions []compactionEvent
	Commits     int64 // replies received
}

// runSawtooth runs the node under sustained, paced, pipelined commits to a
// fixed key set for spec.Duration, sampling the size of its data directory
// (every file, as du --apparent-size counts) every spec.Every.
func runSawtooth(nodeBin string, spec sawtoothSpec, workDir string) (sawtoothResult, error) {
	res := sawtoothResult{Spec: spec}
	dataDir, err := os.MkdirTemp(workDir, "sawtooth-data-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dataDir)
	args := append(append([]string(nil), spec.Args...), "--data-dir", dataDir)
	p, err := startNode(nodeBin, args, filepath.Join(workDir, "sawtooth.stderr"))
	if err != nil {
		return res, err
	}
	if err := p.init(); err != nil {
		p.cmd.Process.Kill()
		p.stop(5 * time.Second)
		return res, err
	}
	origin := p.started

	// Replies are only counted and checked for their type.
	var replies atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		for {
			line, err := p.stdout.ReadSlice('\n')
			if err != nil {
				readErr <- nil // EOF after stop
				return
			}
			if !bytes.Contains(line, []byte(`"type": "commit_offset_ok"`)) {
				readErr <- fmt.Errorf("%w: %s", errReply, line)
				return
			}
			replies.Add(1)
		}
	}()

	stopSampling := make(chan struct{})
	sampled := make(chan []sizeSample)
	go func() {
		var out []sizeSample
		tick := time.NewTicker(spec.Every)
		defer tick.Stop()
		for {
			out = append(out, sizeSample{At: time.Since(origin).Seconds(), Bytes: treeSize(dataDir)})
			select {
			case <-tick.C:
			case <-stopSampling:
				sampled <- out
				return
			}
		}
	}()

	const slice = 10 * time.Millisecond
	perSlice := max(1, spec.Rate*int(slice)/int(time.Second))
	var buf []byte
	msgID := int64(2)
	offsets := make([]int64, spec.Keys)
	key := 0
	start := time.Now()
	var sendErr error
	for n := 0; time.Since(start) < spec.Duration; n++ {
		buf = buf[:0]
		for range perSlice {
			key = (key + 7919) % spec.Keys // 7919 is prime: the walk visits every key in turn (unless Keys is a multiple of it)
			offsets[key]++
			buf = appendCommit(buf, msgID, key, offsets[key])
			msgID++
		}
		if sendErr = p.send(buf); sendErr != nil {
			break
		}
		if d := time.Until(start.Add(time.Duration(n+1) * slice)); d > 0 {
			time.Sleep(d)
		}
	}
	// EOF on stdin makes the node finish and exit; the reader owns stdout
	// until it sees EOF there, and only then may stop drain it.
	p.stdin.Close()
	var rerr error
	select {
	case rerr = <-readErr:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		rerr = <-readErr
	}
	stopErr := p.stop(time.Minute)
	close(stopSampling)
	res.Samples = <-sampled
	res.Commits = replies.Load()
	if rerr != nil {
		return res, rerr
	}
	if sendErr != nil {
		return res, fmt.Errorf("sawtooth: write: %w", sendErr)
	}
	if stopErr != nil {
		return res, stopErr
	}
	for _, ev := range p.eventsOf("compacted") {
		res.Compactions = append(res.Compactions, toCompactionEvent(ev, origin, "sawtooth", 1))
	}
	return res, nil
}

// sawtoothArgs returns the node flags of the run.
func sawtoothArgs(segment, minBytes int, ratio float64) []string {
	return []string{"--sync=fsync", "--segment-size=" + strconv.Itoa(segment),
		"--compact-min-bytes=" + strconv.Itoa(minBytes), "--compact-dirty-ratio=" + strconv.FormatFloat(ratio, 'f', -1, 64)}
}
