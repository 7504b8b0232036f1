package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestCommandLine checks what cobra and pflag do with the command line:
// flags on either side of DIR, and an exit status of 2 with a pointer to
// the help for every command line that cannot run.
func TestCommandLine(t *testing.T) {
	clean := logPath("clean")
	for _, c := range []struct {
		args         []string
		code         int
		stdout, errs string // substrings of each
	}{
		{[]string{"replay", "--json", clean}, 0, `{"group":`, "replayed"},
		{[]string{"replay", clean, "--json"}, 0, `{"group":`, "replayed"},
		{[]string{"replay", "--json", "--", clean}, 0, `{"group":`, "replayed"},
		{[]string{"dump", "--from=3", clean, "--to", "3"}, 0, "index=3 ", ""},
		{[]string{"help", "dump"}, 0, "Usage:\n  offsets-log dump [flags] DIR", ""},
		{[]string{"help"}, 0, "Commands that only read", ""},
		{[]string{"replay"}, 2, "", "offsets-log replay: want one DIR, got 0 arguments"},
		{[]string{"replay", "--at-index"}, 2, "", "flag needs an argument: --at-index\nusage: offsets-log replay [flags] DIR; run 'offsets-log replay --help'"},
		{[]string{"replay", "--at-index", "x", clean}, 2, "", `--at-index "x": want a whole number, 0 or more`},
		{[]string{"reset-plan", "--group", "billing", "--shift-by", "-3", clean}, 0, `"offset":17`, "Nothing was changed"},
		{[]string{"import", "--node-id", "n1", "a", "b"}, 2, "", "offsets-log import: want one FILE at most, got 2"},
		{[]string{"replay", "-json", clean}, 2, "", "(did you mean --json?)"},
		{[]string{"compact", "--tombstone-retention", "soon", clean}, 2, "", "usage: offsets-log compact [flags] DIR"},
		{[]string{"--json"}, 2, "", "usage: offsets-log COMMAND [flags] DIR; run 'offsets-log help'"},
		{[]string{"help", "cat"}, 2, "", `offsets-log: no command "cat"; run 'offsets-log help'`},
		{[]string{"completion", "bash"}, 2, "", `offsets-log: no command "completion"`},
	} {
		stdout, stderr, code := runCLI(c.args...)
		if code != c.code || !strings.Contains(stdout, c.stdout) || !strings.Contains(stderr, c.errs) {
			t.Errorf("offsets-log %s: exit %d, want %d\n--- stdout\n%s--- stderr\n%s", strings.Join(c.args, " "), code, c.code, stdout, stderr)
		}
	}
}

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	quiet := (&env{stderr: &b}).newProgress("replay", 100)
	if quiet != nil {
		quiet.start = time.Now().Add(-2 * time.Second)
	}
	quiet.set(50)
	quiet.finish()
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
	if got := b.String(); !strings.Contains(got, "replay  50% [==============>") || !strings.Contains(got, "(50/100 MiB") {
		t.Fatalf("progress bar %q", got)
	}
	drawn := b.Len()
	p.finish()
	// The bar clears its line by writing spaces over it.
	if got := b.String()[drawn:]; got != "\r"+strings.Repeat(" ", drawn-1)+"\r" {
		t.Fatalf("finish does not clear the bar: %q", got)
	}
}
