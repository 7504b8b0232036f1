package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// redisResult is the Redis comparison: the same requests as the throughput
// workload sent to redis-server with its append-only file fsynced before
// every reply (appendfsync always), then a BGREWRITEAOF and a restart.
type redisResult struct {
	Note        string  // why it was skipped, or what ran
	Version     string  // redis-server --version
	Requests    int     // requests sent, pipelined
	PerSecond   float64 // requests per second
	AOFBefore   int64   // bytes of the append-only file(s) before the rewrite
	AOFAfter    int64   // and after
	RewriteSecs float64 // BGREWRITEAOF until it reported done
	ReloadSecs  float64 // restart until the server answers with the data loaded
	Keys        int64   // DBSIZE after the reload
}

// redisComparison runs the comparison when redis-server is on the PATH and
// says why not otherwise. It talks to the server on loopback only.
func redisComparison(spec workloadSpec, workDir string) redisResult {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return redisResult{Note: "redis-server not found on PATH: skipped (the suite never installs it)"}
	}
	r, err := measureRedis(path, spec, filepath.Join(workDir, "redis"))
	if err != nil {
		return redisResult{Note: "redis-server found at " + path + ", but the comparison failed: " + err.Error()}
	}
	r.Note = "redis-server at " + path
	return r
}

func measureRedis(path string, spec workloadSpec, dir string) (redisResult, error) {
	r := redisResult{Requests: spec.Requests}
	if out, err := exec.Command(path, "--version").Output(); err == nil {
		r.Version = strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	srv, conn, err := startRedis(path, dir)
	if err != nil {
		return r, err
	}
	defer func() { srv.stop() }()

	progress("redis: %d pipelined requests (appendfsync always)...", spec.Requests)
	start := time.Now()
	if err := redisWorkload(conn, spec); err != nil {
		return r, err
	}
	r.PerSecond = float64(spec.Requests) / time.Since(start).Seconds()

	if r.AOFBefore, err = treeBytes(dir); err != nil {
		return r, err
	}
	progress("redis: BGREWRITEAOF...")
	start = time.Now()
	if _, err := conn.do("BGREWRITEAOF"); err != nil {
		return r, err
	}
	if err := waitInfo(conn, 5*time.Minute, "aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0"); err != nil {
		return r, err
	}
	r.RewriteSecs = time.Since(start).Seconds()
	if err := waitInfo(conn, 10*time.Second, "aof_last_bgrewrite_status:ok"); err != nil {
		return r, err
	}
	if r.AOFAfter, err = treeBytes(dir); err != nil {
		return r, err
	}

	progress("redis: restart on the rewritten file...")
	srv.stop()
	start = time.Now()
	srv, conn, err = startRedis(path, dir)
	if err != nil {
		return r, err
	}
	if err := waitInfo(conn, 5*time.Minute, "loading:0"); err != nil {
		return r, err
	}
	r.ReloadSecs = time.Since(start).Seconds()
	n, err := conn.do("DBSIZE")
	if err != nil {
		return r, err
	}
	r.Keys, _ = strconv.ParseInt(n, 10, 64)
	return r, nil
}

// redisWorkload sends the throughput workload's requests as SET (commit)
// and GET (fetch) of key "group/topic/partition", pipelined: one goroutine
// writes them all while this one reads the replies.
func redisWorkload(c *respConn, spec workloadSpec) error {
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(c.conn, 1<<20)
		var buf []byte
		eachRequest(spec, func(_ int, commit bool, k int, offset int64) {
			g, t, p := keyFields(k)
			key := g + "/" + t + "/" + strconv.Itoa(p)
			if commit {
				buf = appendCommand(buf[:0], "SET", key, strconv.FormatInt(offset, 10))
			} else {
				buf = appendCommand(buf[:0], "GET", key)
			}
			w.Write(buf)
		})
		werr <- w.Flush()
	}()
	for i := 0; i < spec.Requests; i++ {
		if _, err := c.reply(); err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
	}
	return <-werr
}

// redisServer is a redis-server process of the comparison.
type redisServer struct{ cmd *exec.Cmd }

func (s *redisServer) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt) // a clean shutdown: the AOF is flushed
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.cmd.Process = nil
}

// startRedis starts redis-server on a free loopback port with its data in
// dir and returns it with a connection that has answered PING.
func startRedis(path, dir string) (*redisServer, *respConn, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
		"--protected-mode", "yes", "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	srv := &redisServer{cmd: cmd}
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c := newRESPConn(conn)
			if _, err = c.do("PING"); err == nil || strings.Contains(err.Error(), "LOADING") {
				return srv, c, nil
			}
			conn.Close()
		}
		if time.Now().After(deadline) {
			srv.stop()
			return nil, nil, fmt.Errorf("redis-server did not answer on port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitInfo polls INFO persistence until every want line is in it.
func waitInfo(c *respConn, limit time.Duration, want ...string) error {
	deadline := time.Now().Add(limit)
	for {
		info, err := c.do("INFO", "persistence")
		if err != nil && !strings.Contains(err.Error(), "LOADING") {
			return err
		}
		ok := err == nil
		for _, w := range want {
			ok = ok && strings.Contains(info, w)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis: no %v after %v", want, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// treeBytes sums the sizes of the regular files under dir, its logs left out.
func treeBytes(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && !strings.HasSuffix(path, ".log") {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// respConn is the least of a Redis client this comparison needs: commands
// as RESP arrays of bulk strings, and replies read one at a time.
type respConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func newRESPConn(conn net.Conn) *respConn {
	return &respConn{conn: conn, r: bufio.NewReaderSize(conn, 1<<20)}
}

// appendCommand appends a command in RESP: *N then $len/arg for each part.
func appendCommand(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, "\r\n"...)
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, "\r\n"...)
		dst = append(dst, a...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// do sends one command and reads its reply.
func (c *respConn) do(args ...string) (string, error) {
	if _, err := c.conn.Write(appendCommand(nil, args...)); err != nil {
		return "", err
	}
	return c.reply()
}

// errRedis is a Redis error reply.
var errRedis = errors.New("redis error")

// reply reads one reply: a simple string, error, integer or bulk string
// (a nil bulk string is ""). Arrays are not needed here.
func (c *respConn) reply() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("redis: empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("%w: %s", errRedis, line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("redis: bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}
