package main

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets/offsetstest"
	"github.com/maelstrom-offsets/offsets/log"
)

// logSpec names a log the suite builds: Records commits over Keys keys,
// each commit to a key drawn uniformly at random.
type logSpec struct {
	Records, Keys int
}

func (s logSpec) String() string {
	return "records=" + exp10(s.Records) + " keys=" + exp10(s.Keys)
}

// exp10 writes n as 1e5 when it is a power of ten, else in full.
func exp10(n int) string {
	if n > 0 {
		e := int(math.Round(math.Log10(float64(n))))
		if int(math.Pow10(e)) == n {
			return "1e" + strconv.Itoa(e)
		}
	}
	return strconv.Itoa(n)
}

// fixtures builds each log once and hands out copies.
type fixtures struct {
	root  string
	built map[logSpec]fixture
}

// fixture is a built log: Root is a --data-dir for the node, with the log in
// Root/n1.
type fixture struct {
	Root   string
	Bytes  int64
	Build  time.Duration
	Spec   logSpec
	Record float64 // mean bytes per record
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// get returns the fixture for spec, building it the first time, in process,
// through consumeroffsets (no fsync, no automatic compaction, batches of
// 4096 commits: the same records the node writes, without the protocol).
func (f *fixtures) get(spec logSpec) (fixture, error) {
	if fx, ok := f.built[spec]; ok {
		return fx, nil
	}
	if f.built == nil {
		f.built = map[logSpec]fixture{}
	}
	root := filepath.Join(f.root, fmt.Sprintf("fixture-%d-%d", spec.Records, spec.Keys))
	dir := filepath.Join(root, "n1")
	start := time.Now()
	progress("building log %s...", spec)
	if err := buildLog(dir, spec); err != nil {
		return fixture{}, fmt.Errorf("build log %s: %w", spec, err)
	}
	size, err := log.Size(dir)
	if err != nil {
		return fixture{}, err
	}
	fx := fixture{Root: root, Bytes: size, Build: time.Since(start), Spec: spec, Record: float64(size) / float64(spec.Records)}
	f.built[spec] = fx
	return fx, nil
}

func buildLog(dir string, spec logSpec) error {
	return offsetstest.WriteLog(dir, spec.Records, spec.Keys, func(k int) ([]byte, []byte, int32) {
		group, topic, partition := keyFields(k)
		return []byte(group), []byte(topic), int32(partition)
	})
}

// copyTree copies the directories and regular files under src to dst, which
// must not exist yet.
func copyTree(dst, src string) error { return offsetstest.CopyDir(dst, src) }

// treeSize returns the sum of the sizes of the regular files under dir (what
// du --apparent-size counts). Files that vanish while it walks are skipped:
// the node may be deleting segments.
func treeSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
