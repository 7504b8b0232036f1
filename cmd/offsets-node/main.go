// Command offsets-node is a Maelstrom node that stores Kafka-style consumer
// group offsets durably. It reads JSON messages on stdin, answers on stdout
// and logs on stderr.
//
// Usage:
//
//	offsets-node [--data-dir DIR] [--sync=fsync|none] [--max-batch N]
//
// With --data-dir the log lives in DIR/<node_id>/ and survives restarts.
// Without it the log goes to a fresh temporary directory that is removed at
// exit, so that separate runs never see each other's state.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/metrics"
	"github.com/maelstrom-offsets/offsets/node"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("offsets-node", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "keep the log in `DIR`/<node_id>/ (default: a temporary directory removed at exit)")
	syncMode := fs.String("sync", "fsync", "`mode`: fsync (reply after the log is on disk) or none (UNSAFE: a machine crash loses acknowledged commits)")
	maxBatch := fs.Int("max-batch", 4096, "most requests covered by one fsync (group commit)")
	segmentSize := fs.Int("segment-size", 4<<20, "log segment size in bytes; tidwall/wal keeps the newest segment in memory")
	dirtyRatio := fs.Float64("compact-dirty-ratio", consumeroffsets.DefaultCompactDirtyRatio,
		"compact in the background when superseded bytes reach this share of the log (Kafka's min.cleanable.dirty.ratio)")
	minBytes := fs.Int64("compact-min-bytes", consumeroffsets.DefaultCompactMinBytes,
		"do not compact a log smaller than this many bytes; negative turns background compaction off")
	retention := fs.Duration("tombstone-retention", consumeroffsets.DefaultTombstoneRetention,
		"how long compaction keeps a delete's tombstone (Kafka's delete.retention.ms)")
	offsetsRetention := fs.Duration("offsets-retention", consumeroffsets.DefaultOffsetsRetention,
		"expire the offsets of a group whose newest commit is older than this (Kafka's offsets.retention.minutes); 0 turns expiry off")
	retentionCheck := fs.Duration("retention-check-interval", time.Minute, "how often offset retention is checked while running")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics (port 0: any free port, logged at start)")
	maxKeys := fs.Int("max-keys", consumeroffsets.DefaultMaxKeys, "most live offset keys; a commit of a new key past it is refused with error 14")
	maxGroups := fs.Int("max-groups", consumeroffsets.DefaultMaxGroups, "most groups; a commit to a new group past it is refused with error 14")
	maxNameBytes := fs.Int("max-name-bytes", consumeroffsets.DefaultMaxNameBytes, "longest group or topic name in a commit, in bytes; longer is refused with error 14")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "offsets-node: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *dirtyRatio <= 0 || *dirtyRatio >= 1 {
		fmt.Fprintf(os.Stderr, "offsets-node: --compact-dirty-ratio must be in (0, 1), not %v\n", *dirtyRatio)
		return 2
	}
	if *offsetsRetention < 0 || *retentionCheck <= 0 {
		fmt.Fprintf(os.Stderr, "offsets-node: --offsets-retention must be >= 0 and --retention-check-interval > 0\n")
		return 2
	}
	if *retention <= 0 {
		fmt.Fprintf(os.Stderr, "offsets-node: --tombstone-retention must be positive, not %v\n", *retention)
		return 2
	}
	if *maxKeys <= 0 || *maxGroups <= 0 || *maxNameBytes <= 0 {
		fmt.Fprintf(os.Stderr, "offsets-node: --max-keys, --max-groups and --max-name-bytes must be positive\n")
		return 2
	}
	if *syncMode != "fsync" && *syncMode != "none" {
		fmt.Fprintf(os.Stderr, "offsets-node: --sync must be fsync or none, not %q\n", *syncMode)
		return 2
	}
	root := *dataDir
	if root == "" {
		tmp, err := os.MkdirTemp("", "offsets-node-")
		if err != nil {
			logger.Error("cannot create a temporary data directory", "err", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	noSync := *syncMode == "none"
	logger.Info("starting", "data_dir", root, "temporary", *dataDir == "", "sync", *syncMode, "max_batch", *maxBatch)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			logger.Error("cannot start the CPU profile", "err", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	var observer *metrics.Node // nil when metrics are off: the hooks cost nothing then
	if *metricsAddr != "" {
		observer = metrics.New()
		observer.SetLimits(*maxKeys, *maxGroups, *maxNameBytes)
		srv, err := observer.Listen(*metricsAddr)
		if err != nil {
			logger.Error("cannot serve metrics", "addr", *metricsAddr, "err", err)
			return 1
		}
		defer srv.Close()
		logger.Info("serving metrics", "addr", srv.Addr().String(), "path", "/metrics")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg := node.Config{
		Logger:      logger,
		MaxBatch:    *maxBatch,
		ExpireEvery: expireEvery(*offsetsRetention, *retentionCheck),
		Observer:    nodeObserver(observer),
		Open: func(nodeID string) (node.Offsets, error) {
			dir := filepath.Join(root, nodeID)
			s, rs, err := consumeroffsets.Open(dir, consumeroffsets.Options{
				NoSync: noSync, SegmentSize: *segmentSize, Logger: logger,
				CompactDirtyRatio: *dirtyRatio, CompactMinBytes: *minBytes, TombstoneRetention: *retention,
				OffsetsRetention: *offsetsRetention,
				MaxKeys:          *maxKeys, MaxGroups: *maxGroups, MaxNameBytes: *maxNameBytes,
				Observer: storeObserver(observer),
			})
			if err != nil {
				return nil, err
			}
			logger.Info("recovered", "dir", dir, "records", rs.Records, "entries", rs.Entries,
				"bytes", rs.Bytes, "keys", rs.Keys, "duration", rs.Duration.Round(time.Microsecond))
			return s, nil
		},
	}
	if err := node.Run(ctx, os.Stdin, os.Stdout, cfg); err != nil {
		logger.Error("stopping on error", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// expireEvery is how often the node checks offset retention: never when
// retention is off.
func expireEvery(retention, interval time.Duration) time.Duration {
	if retention == 0 {
		return 0
	}
	return interval
}

// storeObserver and nodeObserver turn a nil *metrics.Node into nil
// interfaces, which the hooks test for.
func storeObserver(m *metrics.Node) consumeroffsets.Observer {
	if m == nil {
		return nil
	}
	return m
}

func nodeObserver(m *metrics.Node) node.Observer {
	if m == nil {
		return nil
	}
	return m
}
