package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/log"
)

// compactionRun is one compaction of a copy of a fixture log, with the
// node's restart time on that copy before and after.
type compactionRun struct {
	Spec logSpec
	Run  int

	BytesBefore, BytesAfter     int64 // log.Size of the store directory
	RecordsBefore, RecordsAfter uint64
	Seconds                     float64 // compactor.Stats.Duration
	PauseMicros                 float64 // compactor.Stats.Pause: the log held from appends for the release
	SnapMicros                  float64 // compactor.Stats.Snapshot: the pause to take the snapshot written

	Before, After restart
}

// restart is one start of the node on an existing log.
type restart struct {
	Seconds       float64 // process start to the init_ok reply (the log is opened on init)
	ReplaySeconds float64 // the duration= of the node's msg=recovered line
	Records       float64 // the records= of that line
	Bytes         int64   // log.Size of the log it opened
}

// inMBps returns the compaction's input rate in MB/s (10^6 bytes).
func (r compactionRun) inMBps() float64 { return float64(r.BytesBefore) / 1e6 / r.Seconds }

// retiredPerSecond returns the records of history the compaction retired
// per second: records in the log before / time.
func (r compactionRun) retiredPerSecond() float64 { return float64(r.RecordsBefore) / r.Seconds }

// replayPerSecond returns the records the restart replayed per second of
// replay (the duration= of msg=recovered), or 0 if it was not measured.
func (r restart) replayPerSecond() float64 {
	if r.ReplaySeconds <= 0 {
		return 0
	}
	return r.Records / r.ReplaySeconds
}

// outMBps returns the rate it wrote its checkpoint at, in MB/s.
func (r compactionRun) outMBps() float64 { return float64(r.BytesAfter) / 1e6 / r.Seconds }

// measureCompaction copies fixture fx, restarts the node on the copy,
// compacts it in process with consumeroffsets.CompactDir, and restarts the node
// again. The copy is removed afterwards.
func measureCompaction(nodeBin string, fx fixture, run int, workDir string) (compactionRun, error) {
	res := compactionRun{Spec: fx.Spec, Run: run}
	root := filepath.Join(workDir, fmt.Sprintf("compact-%d-%d-run%d", fx.Spec.Records, fx.Spec.Keys, run))
	defer os.RemoveAll(root)
	if err := copyTree(root, fx.Root); err != nil {
		return res, err
	}
	dir := filepath.Join(root, "n1")
	var err error
	if res.Before, err = measureRestart(nodeBin, root, filepath.Join(workDir, fmt.Sprintf("restart-%d-%d-run%d-before.stderr", fx.Spec.Records, fx.Spec.Keys, run))); err != nil {
		return res, err
	}
	st, err := consumeroffsets.CompactDir(dir, consumeroffsets.DefaultTombstoneRetention, consumeroffsets.Options{})
	if err != nil {
		return res, fmt.Errorf("compact %s: %w", fx.Spec, err)
	}
	res.RecordsBefore, res.RecordsAfter = st.RecordsBefore, st.RecordsKept
	res.Seconds = st.Duration.Seconds()
	res.PauseMicros = micros(st.Pause)
	res.SnapMicros = micros(st.Snapshot)
	res.BytesBefore = res.Before.Bytes
	if res.BytesAfter, err = log.Size(dir); err != nil {
		return res, err
	}
	if res.After, err = measureRestart(nodeBin, root, filepath.Join(workDir, fmt.Sprintf("restart-%d-%d-run%d-after.stderr", fx.Spec.Records, fx.Spec.Keys, run))); err != nil {
		return res, err
	}
	return res, nil
}

// measureRestart starts the node on the data directory root, sends init
// (which opens and replays the log) and stops it once init_ok is back. The
// node runs with fsync on and background compaction off.
func measureRestart(nodeBin, root, stderrPath string) (restart, error) {
	var res restart
	size, err := log.Size(filepath.Join(root, "n1"))
	if err != nil {
		return res, err
	}
	res.Bytes = size
	p, err := startNode(nodeBin, []string{"--sync=fsync", "--compact-min-bytes=-1", "--data-dir", root}, stderrPath)
	if err != nil {
		return res, err
	}
	if err := p.init(); err != nil {
		p.cmd.Process.Kill()
		p.stop(5 * time.Second)
		return res, fmt.Errorf("restart on %s: %w", root, err)
	}
	res.Seconds = time.Since(p.started).Seconds()
	if err := p.stop(time.Minute); err != nil {
		return res, err
	}
	if ev := p.eventsOf("recovered"); len(ev) > 0 {
		res.ReplaySeconds = ev[0].Fields.duration("duration").Seconds()
		res.Records = ev[0].Fields.number("records")
	}
	return res, nil
}
