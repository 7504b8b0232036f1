// Naivenode is the baseline the benchmark compares offsets-node against: the
// straightforward design a first version of the service would use.
//
// It decodes every input line with encoding/json, keeps offsets in a map,
// appends every commit as one JSON line to DIR/<node_id>/naive.log and fsyncs
// that file before replying (one fsync per commit), and writes each reply
// straight to stdout without buffering. Replies are byte-identical to
// offsets-node's, so the benchmark can check both the same way.
//
// Usage:
//
//	naivenode [--data-dir DIR] [--sync=fsync|none]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"
)

type message struct {
	Src  string `json:"src"`
	Dest string `json:"dest"`
	Body body   `json:"body"`
}

type body struct {
	Type      string `json:"type"`
	MsgID     int64  `json:"msg_id"`
	NodeID    string `json:"node_id"`
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int64  `json:"partition"`
	Offset    int64  `json:"offset"`
}

type key struct {
	group, topic string
	partition    int64
}

type logEntry struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int64  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func main() {
	dataDir := flag.String("data-dir", "data", "directory for DIR/<node_id>/naive.log")
	syncMode := flag.String("sync", "fsync", "fsync: fsync after every commit; none: never fsync")
	flag.Parse()
	if *syncMode != "fsync" && *syncMode != "none" {
		log.Fatalf("naivenode: --sync must be fsync or none, not %q", *syncMode)
	}
	if err := run(os.Stdin, os.Stdout, *dataDir, *syncMode == "fsync"); err != nil {
		log.Fatalf("naivenode: %v", err)
	}
}

// run serves requests from in until EOF, writing one reply per request to out.
func run(in io.Reader, out io.Writer, dataDir string, fsync bool) error {
	var (
		nodeID  string
		nextID  int64
		offsets = map[key]int64{}
		logFile *os.File
	)
	defer func() {
		if logFile != nil {
			logFile.Close()
		}
	}()

	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("decode %q: %w", sc.Text(), err)
		}
		b := m.Body
		var fields string
		switch b.Type {
		case "init":
			nodeID = b.NodeID
			dir := filepath.Join(dataDir, nodeID)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(filepath.Join(dir, "naive.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			logFile = f
		case "commit_offset":
			if logFile == nil {
				return fmt.Errorf("commit_offset before init")
			}
			line, err := json.Marshal(logEntry{b.Group, b.Topic, b.Partition, b.Offset})
			if err != nil {
				return err
			}
			if _, err := logFile.Write(append(line, '\n')); err != nil {
				return err
			}
			if fsync {
				if err := logFile.Sync(); err != nil {
					return err
				}
			}
			offsets[key{b.Group, b.Topic, b.Partition}] = b.Offset
		case "fetch_offset":
			// A group that never committed starts from offset 0.
			fields = `, "offset": ` + strconv.FormatInt(offsets[key{b.Group, b.Topic, b.Partition}], 10)
		default:
			log.Printf("naivenode: unknown message type %q", b.Type)
			continue
		}
		// Hand-formatted because encoding/json cannot produce the ", " and
		// ": " separators the expected output uses.
		_, err := fmt.Fprintf(out, `{"src": %s, "dest": %s, "body": {"type": %s, "in_reply_to": %d%s, "msg_id": %d}}`+"\n",
			quote(nodeID), quote(m.Src), quote(b.Type+"_ok"), b.MsgID, fields, nextID)
		if err != nil {
			return err
		}
		nextID++
	}
	return sc.Err()
}

func quote(s string) string {
	b, _ := json.Marshal(s) // cannot fail for a string
	return string(b)
}
