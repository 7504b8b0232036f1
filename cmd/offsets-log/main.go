// Command offsets-log replays, dumps, verifies, exports, compacts and
// repairs an offsets log and plans offset resets from the command line: for this project's log what
// kafka-dump-log.sh --offsets-decoder and kafka-consumer-groups.sh are for
// Kafka's __consumer_offsets.
//
// Usage:
//
//	offsets-log replay     [--json] [--group G] [--topic T] [--at-index N | --at-time T] DIR
//	offsets-log dump       [--json] [--from N] [--to N] DIR
//	offsets-log verify     [--json] DIR
//	offsets-log stats      [--json] [--groups] DIR
//	offsets-log export     [--group G] DIR
//	offsets-log reset-plan --group G (--to-time T | --shift-by N | --from-file F) DIR
//	offsets-log compact    [--json] [--tombstone-retention D] DIR
//	offsets-log repair     [--json] DIR
//	offsets-log import     --node-id ID [--node-ids IDS] [FILE]
//
// DIR is a node's directory, DATA_DIR/<node_id>/, the one holding LOCK,
// wal/ and checkpoint.N.sealed/. replay, dump, verify, stats, export and
// reset-plan never write to it and work while a node runs on it; compact
// and repair change it and refuse while a node holds it. export and
// reset-plan print commit_offsets requests, which import turns into a
// node's input (an init, then the requests). Run "offsets-log help" for
// the rest.
package main

import (
	"os"

	"golang.org/x/term"
)

func main() {
	os.Exit(run(os.Args[1:], &env{
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		terminal: term.IsTerminal(int(os.Stderr.Fd())),
	}))
}
