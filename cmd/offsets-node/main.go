// Command offsets-node is a Maelstrom node that stores Kafka-style consumer
// group offsets durably. It reads JSON messages on stdin, answers on stdout
// and logs on stderr.
//
// Usage:
//
//	offsets-node [--data-dir DIR] [--sync fsync|none] [--max-batch N] [flags] < requests > replies
//
// With --data-dir the log lives in DIR/<node_id>/ and survives restarts.
// Without it the log goes to a fresh temporary directory that is removed at
// exit, so that separate runs never see each other's state; an empty
// --data-dir (an unset shell variable) is an error, not a temporary
// directory. `offsets-node --help` lists every flag.
//
// On SIGTERM or SIGINT the node reads no more input, answers every request
// it has read, closes the log and exits 0. If stdout takes no reply for
// --stop-timeout (the client stopped reading), it exits 3 instead, with a
// WARN line counting the replies it could not write. A second signal kills
// it at once.
//
// Exit status: 0 stopped cleanly (EOF on stdin or a signal); 1 an error (the
// log could not be opened or written, stdout failed); 2 bad flags; 3 stopped
// on a signal with stdout blocked.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/metrics"
	"github.com/maelstrom-offsets/offsets/node"
)

// minSegmentSize is the smallest --segment-size: smaller segments only
// multiply files and fsyncs.
const minSegmentSize = 64 << 10

// Exit statuses.
const (
	exitOK            = 0
	exitError         = 1
	exitUsage         = 2
	exitOutputBlocked = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the node with the command-line arguments args, on standard
// input and the given stdout and stderr, and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("offsets-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, to stdout for --help
	dataDir := fs.String("data-dir", "", "keep the log in `DIR`/<node_id>/, where a restart finds it (default: a new temporary directory, removed at exit)")
	syncMode := fs.String("sync", "fsync", "fsync: reply only once the log is on disk; none: never fsync (UNSAFE: a machine crash loses acknowledged commits; for benchmarks)")
	maxBatch := fs.Int("max-batch", 4096, "most requests covered by one fsync (group commit), >= 1")
	segmentSize := fs.Int("segment-size", 4<<20, "log segment size in `BYTES`, >= 64 KiB; tidwall/wal keeps the newest segment in memory")
	dirtyRatio := fs.Float64("compact-dirty-ratio", consumeroffsets.DefaultCompactDirtyRatio,
		"compact in the background when superseded bytes reach this share `R` of the log, in (0, 1) (Kafka's min.cleanable.dirty.ratio)")
	minBytes := fs.Int64("compact-min-bytes", consumeroffsets.DefaultCompactMinBytes,
		"do not compact a log smaller than this many `BYTES`; negative turns background compaction off")
	retention := fs.Duration("tombstone-retention", consumeroffsets.DefaultTombstoneRetention,
		"compaction keeps a delete's tombstone for `D`, > 0 (Kafka's delete.retention.ms)")
	offsetsRetention := fs.Duration("offsets-retention", consumeroffsets.DefaultOffsetsRetention,
		"expire the offsets of a group whose newest commit is older than `D` (Kafka's offsets.retention.minutes); 0 turns expiry off")
	retentionCheck := fs.Duration("retention-check-interval", time.Minute, "check offset retention every `D` while running, > 0")
	stopTimeout := fs.Duration("stop-timeout", node.DefaultStopTimeout,
		"after SIGTERM or SIGINT, wait at most `D` in total for stdout to take the last replies, then exit 3; > 0")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics (port 0: any free port, logged at start)")
	maxKeys := fs.Int("max-keys", consumeroffsets.DefaultMaxKeys, "most live offset keys; a commit of a new key past it is refused with error 14")
	maxGroups := fs.Int("max-groups", consumeroffsets.DefaultMaxGroups, "most groups; a commit to a new group past it is refused with error 14")
	maxNameBytes := fs.Int("max-name-bytes", consumeroffsets.DefaultMaxNameBytes, "longest group or topic name in a commit, in `BYTES`; longer is refused with error 14")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	cf := addClusterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return exitOK
		}
		fmt.Fprintln(stderr, "Run offsets-node --help for the flags.")
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "offsets-node: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case set["data-dir"] && *dataDir == "":
		return usageErr("--data-dir is empty (an unset shell variable?): give a directory, or leave the flag out for a temporary one")
	case *syncMode != "fsync" && *syncMode != "none":
		return usageErr("--sync must be fsync or none, not %q", *syncMode)
	case *maxBatch < 1:
		return usageErr("--max-batch must be at least 1, not %d", *maxBatch)
	case *segmentSize < minSegmentSize:
		return usageErr("--segment-size must be at least %d (64 KiB), not %d", minSegmentSize, *segmentSize)
	case !(*dirtyRatio > 0 && *dirtyRatio < 1): // NaN too
		return usageErr("--compact-dirty-ratio must be in (0, 1), not %v", *dirtyRatio)
	case *retention <= 0:
		return usageErr("--tombstone-retention must be positive, not %v", *retention)
	case *offsetsRetention < 0:
		return usageErr("--offsets-retention must be 0 (off) or positive, not %v", *offsetsRetention)
	case *retentionCheck <= 0:
		return usageErr("--retention-check-interval must be positive, not %v", *retentionCheck)
	case *stopTimeout <= 0:
		return usageErr("--stop-timeout must be positive, not %v", *stopTimeout)
	case *maxKeys <= 0:
		return usageErr("--max-keys must be positive, not %d", *maxKeys)
	case *maxGroups <= 0:
		return usageErr("--max-groups must be positive, not %d", *maxGroups)
	case *maxNameBytes <= 0:
		return usageErr("--max-name-bytes must be positive, not %d", *maxNameBytes)
	case cf.check() != "":
		return usageErr("%s", cf.check())
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	root := *dataDir
	startMsg := "starting"
	if !set["data-dir"] {
		tmp, err := os.MkdirTemp("", "offsets-node-")
		if err != nil {
			logger.Error("cannot create a temporary data directory", "err", err)
			return exitError
		}
		defer os.RemoveAll(tmp)
		root = tmp
		startMsg = "starting on a temporary data directory, removed at exit: nothing survives a restart (no --data-dir)"
	}
	noSync := *syncMode == "none"
	logger.Info(startMsg, "data_dir", root, "sync", *syncMode, "max_batch", *maxBatch)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			logger.Error("cannot start the CPU profile", "err", err)
			return exitError
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
	// A second signal kills the node at once, as a crash would: what was
	// acknowledged is durable all the same.
	// (Deferred after stop, this runs before it: stop cancels ctx too.)
	defer context.AfterFunc(ctx, func() {
		stop()
		logger.Info("stopping on a signal: reading no more input, answering what was read; a second signal kills the node")
	})()
	cfg := node.Config{
		Logger:      logger,
		MaxBatch:    *maxBatch,
		StopTimeout: *stopTimeout,
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
	out := cf.wire(&cfg, stdout, root, noSync, *segmentSize, consumeroffsets.Options{
		NoSync: noSync, SegmentSize: *segmentSize, Logger: logger,
		CompactDirtyRatio: *dirtyRatio, CompactMinBytes: *minBytes, TombstoneRetention: *retention,
		OffsetsRetention: *offsetsRetention,
		MaxKeys:          *maxKeys, MaxGroups: *maxGroups, MaxNameBytes: *maxNameBytes,
		Observer: storeObserver(observer),
	}, logger, observer)
	in, restore := openStdin()
	err := node.Run(ctx, in, out, cfg)
	restore()
	switch {
	case errors.Is(err, node.ErrOutputBlocked):
		return exitOutputBlocked // node logged why
	case err != nil:
		logger.Error("stopping on error", "err", err)
		return exitError
	}
	logger.Info("stopped")
	return exitOK
}

// argNames names the argument of flags whose usage cannot.
var argNames = map[string]string{"sync": "fsync|none"}

// printUsage prints the help: each flag as --name ARG with its default, and
// its text wrapped below it.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: offsets-node [flags] < requests > replies

A Maelstrom node that keeps Kafka consumer group offsets in a durable log:
JSON requests on stdin, one reply per line on stdout, logs on stderr.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if a, ok := argNames[f.Name]; ok {
			arg = a
		}
		switch arg {
		case "float", "int", "duration", "string":
			arg = map[string]string{"float": "R", "int": "N", "duration": "D", "string": "S"}[arg]
		}
		head := "  --" + f.Name + " " + arg
		if def := showDefault(f, arg); def != "" {
			head += " (default " + def + ")"
		}
		fmt.Fprintln(w, head)
		fmt.Fprint(w, wrap(text, "      ", 78))
	})
	fmt.Fprint(w, `
On SIGTERM or SIGINT the node reads no more input, answers every request it
has read, closes the log and exits 0; if stdout takes no reply for
--stop-timeout it exits 3 with a WARN line.

Exit status: 0 stopped cleanly; 1 error (the log could not be opened or
written, stdout failed); 2 bad flags; 3 stopped with stdout blocked.
`)
}

// showDefault formats a flag's default for the help, or "" for none.
func showDefault(f *flag.Flag, arg string) string {
	d := f.DefValue
	if d == "" {
		return ""
	}
	if arg == "D" { // 24h0m0s -> 24h, 1m0s -> 1m
		if strings.HasSuffix(d, "h0m0s") {
			return strings.TrimSuffix(d, "0m0s")
		}
		if strings.HasSuffix(d, "m0s") {
			return strings.TrimSuffix(d, "0s")
		}
	}
	if n, err := strconv.ParseInt(d, 10, 64); err == nil && arg == "BYTES" && n >= 1<<10 && n%(1<<10) == 0 {
		switch {
		case n%(1<<20) == 0:
			return fmt.Sprintf("%d MiB", n>>20)
		default:
			return fmt.Sprintf("%d KiB", n>>10)
		}
	}
	return d
}

// wrap breaks text into lines of at most width columns, each prefixed.
func wrap(text, prefix string, width int) string {
	var b strings.Builder
	line := prefix
	for _, word := range strings.Fields(text) {
		if len(line) > len(prefix) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = prefix
		}
		if len(line) > len(prefix) {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
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
