package main

import (
	"bytes"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  []string
		json bool
		n    uint64
	}{
		{[]string{"DIR"}, []string{"DIR"}, false, 0},
		{[]string{"--json", "DIR"}, []string{"DIR"}, true, 0},
		{[]string{"DIR", "--json", "--to", "5"}, []string{"DIR"}, true, 5},
		{[]string{"-to=5", "DIR", "-json"}, []string{"DIR"}, true, 5},
		{[]string{"--json", "--", "--to"}, []string{"--to"}, true, 0},
		{[]string{"A", "B"}, []string{"A", "B"}, false, 0},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		j := fs.Bool("json", false, "")
		n := fs.Uint64("to", 0, "")
		pos, err := parseInterspersed(fs, c.args)
		if err != nil || !reflect.DeepEqual(pos, c.pos) || *j != c.json || *n != c.n {
			t.Errorf("%q: %q json=%v to=%d %v", c.args, pos, *j, *n, err)
		}
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	quiet := (&env{stderr: &b}).newProgress("replay", 100)
	quiet.start = time.Now().Add(-2 * time.Second)
	quiet.set(50)
	if b.Len() != 0 {
		t.Fatalf("a progress bar on a stderr that is not a terminal: %q", b.String())
	}
	p := (&env{stderr: &b, terminal: true}).newProgress("replay", 100<<20)
	p.set(10 << 20)
	if b.Len() != 0 {
		t.Fatal("a progress bar before a second has passed")
	}
	p.start = time.Now().Add(-2 * time.Second)
	p.set(50 << 20)
	if got := b.String(); !strings.Contains(got, "replay [===============>") || !strings.Contains(got, " 50% 50.0 MiB/100.0 MiB") {
		t.Fatalf("progress bar %q", got)
	}
	p.finish()
	if !strings.HasSuffix(b.String(), "\r\033[K") {
		t.Fatal("finish does not clear the bar")
	}
}
