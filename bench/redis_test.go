package main

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
)

// fakeRedis answers each command it reads with the next canned reply.
func fakeRedis(t *testing.T, replies ...string) (*respConn, <-chan []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan []string, len(replies))
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for _, reply := range replies {
			// a command: *N, then N times $len and the argument
			head, err := r.ReadString('\n')
			if err != nil {
				return
			}
			var args []string
			for i := 0; i < int(head[1]-'0'); i++ {
				r.ReadString('\n')
				a, _ := r.ReadString('\n')
				args = append(args, strings.TrimSuffix(a, "\r\n"))
			}
			got <- args
			conn.Write([]byte(reply))
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return newRESPConn(conn), got
}

func TestRESPConn(t *testing.T) {
	c, got := fakeRedis(t, "+PONG\r\n", ":42\r\n", "$5\r\nhe\r\nl\r\n", "$-1\r\n", "-ERR wrong\r\n")
	for _, tc := range []struct {
		args []string
		want string
		err  bool
	}{
		{[]string{"PING"}, "PONG", false},
		{[]string{"DBSIZE"}, "42", false},
		{[]string{"GET", "k"}, "he\r\nl", false}, // bulk strings may hold CRLF
		{[]string{"GET", "missing"}, "", false},
		{[]string{"SET", "k", "v"}, "", true},
	} {
		v, err := c.do(tc.args...)
		if v != tc.want || (err != nil) != tc.err || (tc.err && !errors.Is(err, errRedis)) {
			t.Errorf("%v: %q, %v", tc.args, v, err)
		}
		if sent := <-got; strings.Join(sent, " ") != strings.Join(tc.args, " ") {
			t.Errorf("server read %q, want %q", sent, tc.args)
		}
	}
}

func TestAppendCommand(t *testing.T) {
	if got := string(appendCommand(nil, "SET", "g1/t2/3", "17")); got != "*3\r\n$3\r\nSET\r\n$7\r\ng1/t2/3\r\n$2\r\n17\r\n" {
		t.Errorf("appendCommand = %q", got)
	}
}

func TestRedisReportSection(t *testing.T) {
	s := &suite{Redis: redisResult{Note: "redis-server at /usr/bin/redis-server", Version: "Redis server v=7",
		Requests: 1000, PerSecond: 123456, AOFBefore: 3 << 20, AOFAfter: 1 << 10, RewriteSecs: 0.25, ReloadSecs: 0.05, Keys: 100}}
	var b strings.Builder
	s.writeRedis(&b)
	for _, want := range []string{"## Redis", "123,456", "3.00 MiB", "(100 keys)", "0.250 s", "0.050 s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}
}
