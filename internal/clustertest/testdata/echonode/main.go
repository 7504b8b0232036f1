// Command echonode is a tiny Maelstrom node for testing the clustertest
// harness. Requests: init, echo (echo_ok with the same echo), status
// (status_ok with its pid), garbage (a line that is not JSON, then
// garbage_ok), and forward {to, echo}: the node passes the
// request to node "to", which answers the client itself with forward_ok
// {echo, via}. Without --cluster, peers are reached by writing to stdout
// (Maelstrom routing); with --cluster n1=ADDR,..., by one JSON line per
// message over TCP to the peer's address, where each node listens once
// init has told it its name.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
)

type msg struct {
	Src  string         `json:"src"`
	Dest string         `json:"dest"`
	Body map[string]any `json:"body"`
}

var (
	outMu sync.Mutex
	out   = bufio.NewWriter(os.Stdout)
	self  string
	peers = map[string]string{} // name -> address, in TCP mode
	msgID int
)

func emit(m msg) {
	b, _ := json.Marshal(m)
	outMu.Lock()
	defer outMu.Unlock()
	out.Write(append(b, '\n'))
	out.Flush()
}

func reply(req msg, body map[string]any) {
	outMu.Lock()
	msgID++
	body["msg_id"] = msgID
	outMu.Unlock()
	body["in_reply_to"] = req.Body["msg_id"]
	emit(msg{Src: self, Dest: req.Src, Body: body})
}

// toPeer sends m to a peer: on stdout, or over TCP.
func toPeer(m msg) {
	addr, tcp := peers[m.Dest]
	if !tcp {
		emit(m)
		return
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return
	}
	defer c.Close()
	b, _ := json.Marshal(m)
	c.Write(append(b, '\n'))
}

func listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					var m msg
					if json.Unmarshal(sc.Bytes(), &m) == nil {
						handle(m)
					}
				}
			}()
		}
	}()
}

func handle(m msg) {
	switch m.Body["type"] {
	case "init":
		self, _ = m.Body["node_id"].(string)
		if addr, ok := peers[self]; ok {
			listen(addr)
		}
		reply(m, map[string]any{"type": "init_ok"})
	case "echo":
		reply(m, map[string]any{"type": "echo_ok", "echo": m.Body["echo"]})
	case "garbage":
		outMu.Lock()
		out.WriteString("this is not a message\n")
		out.Flush()
		outMu.Unlock()
		reply(m, map[string]any{"type": "garbage_ok"})
	case "status":
		reply(m, map[string]any{"type": "status_ok", "pid": os.Getpid(), "node": self})
	case "forward":
		to, _ := m.Body["to"].(string)
		toPeer(msg{Src: self, Dest: to, Body: map[string]any{"type": "forwarded",
			"client": m.Src, "client_msg_id": m.Body["msg_id"], "echo": m.Body["echo"]}})
	case "forwarded":
		client, _ := m.Body["client"].(string)
		reply(msg{Src: client, Body: map[string]any{"msg_id": m.Body["client_msg_id"]}},
			map[string]any{"type": "forward_ok", "echo": m.Body["echo"], "via": m.Src})
	default:
		fmt.Fprintln(os.Stderr, "unknown message", m.Body["type"])
	}
}

func main() {
	cluster := flag.String("cluster", "", "n1=ADDR,n2=ADDR,...: reach peers over TCP")
	flag.Parse()
	if *cluster != "" {
		for _, part := range strings.Split(*cluster, ",") {
			name, addr, _ := strings.Cut(part, "=")
			peers[name] = addr
		}
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			fmt.Fprintln(os.Stderr, "bad input:", err)
			continue
		}
		handle(m)
	}
}
