package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

type skip struct {
	line   int
	reason string
}

// frameAll frames in with the given limit, reading it whole or one byte per
// read (so that every value spans reads), and returns the messages, each
// prefixed with its line number, and the skips.
func frameAll(t *testing.T, in string, max int, oneByte bool) ([]string, []skip) {
	t.Helper()
	var r io.Reader = strings.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	var skips []skip
	f := newFramer(r, func(reason string, line int, _ []byte) { skips = append(skips, skip{line, reason}) })
	f.max = max
	var got []string
	for {
		msg, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", f.msgLine, msg))
	}
	return got, skips
}

func TestFramer(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  []string // line:text
		skips []int    // lines of the skipped texts
	}{
		{"lines", "{\"a\":1}\n\n  {\"b\":2}\r\n{\"c\":3}", []string{`1:{"a":1}`, `3:{"b":2}`, `4:{"c":3}`}, nil},
		{"two on a line", `{"a":1}{"b":2} {"c":"}{"}`, []string{`1:{"a":1}`, `1:{"b":2}`, `1:{"c":"}{"}`}, nil},
		{"pretty", "{\n  \"a\": [1,\n 2],\n \"s\": \"x\\\"}\"\n}\n{}", []string{"1:{\n  \"a\": [1,\n 2],\n \"s\": \"x\\\"}\"\n}", "6:{}"}, nil},
		{"nested object alone on a line",
			"{\"a\":\n{\"src\":\"c1\",\"body\":{\"type\":\"delete_group\"}}\n}\n",
			[]string{"1:{\"a\":\n{\"src\":\"c1\",\"body\":{\"type\":\"delete_group\"}}\n}"}, nil},
		{"array elements on their own lines",
			"{\"offsets\": [\n{\"p\": 0},\n{\"p\": 1}\n]}\n",
			[]string{"1:{\"offsets\": [\n{\"p\": 0},\n{\"p\": 1}\n]}"}, nil},
		{"cut short, then pretty-printed", "{\"a\":1,\"b\"\n{\n\"c\": 3\n}\n{\n\"d\": 4\n}\n",
			[]string{"2:{\n\"c\": 3\n}", "5:{\n\"d\": 4\n}"}, []int{1}},
		{"cut inside a string", "{\"a\":\"xy\n{\"b\":1}\n", []string{`2:{"b":1}`}, []int{1}},
		{"cut inside a number", "{\"a\":12\n  {\"b\":1}\n", []string{`2:{"b":1}`}, []int{1}},
		// Broken on line 3: line 2 was part of it and is never taken back.
		{"broken after a nested line", "{\"a\":\n{\"src\":\"c1\"}\n,,\n{\"b\":1}\n", []string{`4:{"b":1}`}, []int{1}},
		{"garbage", "hello {\"x\":1}\n{\"b\":1}\n", []string{`2:{"b":1}`}, []int{1}},
		{"garbage after a message", "{\"a\":1} junk {\"x\":1}\n{\"b\":1}\n", []string{`1:{"a":1}`, `2:{"b":1}`}, []int{1}},
		{"ended inside", "{\"a\":1}\n{\"b\":", []string{`1:{"a":1}`}, []int{2}},
		{"scalars", "[1,\n2]\n5\n\"s\" true -1.5e3", []string{"1:[1,\n2]", "3:5", `4:"s"`, "4:true", "4:-1.5e3"}, nil},
		{"resync skips non-brace lines", "{\"a\":x}\n  [\n \"b\"\n\t{\"c\":1}", []string{"4:{\"c\":1}"}, []int{1}},
	}
	for _, c := range cases {
		for _, oneByte := range []bool{false, true} {
			got, skips := frameAll(t, c.in, MaxMessageBytes, oneByte)
			var lines []int
			for _, s := range skips {
				lines = append(lines, s.line)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) || fmt.Sprint(lines) != fmt.Sprint(c.skips) {
				t.Errorf("%s (one byte per read: %v): framed %q, skipped %v; want %q, skipped at lines %v",
					c.name, oneByte, got, skips, c.want, c.skips)
			}
		}
	}
}

func TestFramerLongLine(t *testing.T) {
	long := `{"g":"` + strings.Repeat("x", 3<<20) + `"}`
	got, skips := frameAll(t, long+"\n{}\n", MaxMessageBytes, false)
	if len(skips) != 0 || len(got) != 2 || got[0] != "1:"+long || got[1] != "2:{}" {
		t.Fatalf("long line: %d messages, skipped %v", len(got), skips)
	}
}

// A message over the limit is skipped whole, however its lines are cut,
// and is not held in memory.
func TestFramerOversized(t *testing.T) {
	const max = 1000
	big := "{\n\"src\": \"c1\",\n\"pad\": \"" + strings.Repeat("y", 50*max) + "\",\n\"body\": {\"type\": \"delete_offsets\"}\n}\n"
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = strings.NewReader(big + `{"ok":1}` + "\n")
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		var skips []skip
		f := newFramer(r, func(reason string, line int, _ []byte) { skips = append(skips, skip{line, reason}) })
		f.max = max
		msg, err := f.next()
		if err != nil || string(msg) != `{"ok":1}` || f.msgLine != 6 {
			t.Fatalf("after the oversized message: %q line %d, %v", msg, f.msgLine, err)
		}
		if len(skips) != 1 || skips[0].line != 1 || !strings.Contains(skips[0].reason, "over the limit") {
			t.Fatalf("skipped %v, want one oversized message at line 1", skips)
		}
		if cap(f.acc) > 4*max {
			t.Fatalf("kept %d bytes of a message over the limit of %d", cap(f.acc), max)
		}
	}
	// Exactly at the limit is accepted.
	exact := `{"p":"` + strings.Repeat("z", max-8) + `"}`
	if got, skips := frameAll(t, exact, max, true); len(got) != 1 || len(skips) != 0 {
		t.Fatalf("a message of exactly the limit: %d framed, skipped %v", len(got), skips)
	}
}

// scanDoc reports whether b is one JSON value and nothing but whitespace
// around it, by the framer's scanner, and whether the value was too deep.
func scanDoc(b []byte) (valid, tooDeep bool) {
	var s scanner
	s.reset()
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return false, false
	}
	n, st := s.scan(b[i:])
	switch st {
	case scanError:
		return false, s.err == errDepth
	case scanMore:
		return s.complete(), false
	}
	for _, c := range b[i+n:] {
		if !isSpace(c) {
			return false, false
		}
	}
	return true, false
}

func TestScannerStrict(t *testing.T) {
	invalid := []string{
		`{"g":"g\x"}`, `"\u00zz"`, `"\u12"`, "\"a\tb\"", "\"a\x01\"", "\"a\nb\"", `"\'"`,
		`NaN`, `-Infinity`, `01`, `-01`, `+5`, `1.`, `.5`, `1e`, `1e+`, `-`, `0x10`, `1.5.2`,
		`[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{'a':1}`, `[1 2]`, `{"a":1 "b":2}`, `tru`, `nul`, `True`,
		"\"\xff\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\xef\xbb\xbf{}",
		`{"a":1}}`, `]`, `}`, `[`, `{"a":`, `"abc`, ``, ` `,
	}
	valid := []string{
		`{}`, `[]`, `0`, `-0`, `1.5e-3`, `1E+10`, `-12.0e0`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`,
		`"\ud800"`, `"\udc00\ud800"`, `{"a":[1,{"b":null}],"c":true,"d":false}`, " \r\n\t{ \"a\" : [ ] } \n",
		"\"é😀\x7f\"", `123`, `{"":""}`,
	}
	for _, in := range invalid {
		if ok, _ := scanDoc([]byte(in)); ok {
			t.Errorf("accepted %q", in)
		}
		if json.Valid([]byte(in)) && utf8.ValidString(in) {
			t.Errorf("test case %q is valid JSON", in)
		}
	}
	for _, in := range valid {
		if ok, _ := scanDoc([]byte(in)); !ok {
			t.Errorf("refused %q", in)
		}
		if !json.Valid([]byte(in)) {
			t.Errorf("test case %q is not valid JSON", in)
		}
	}
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if ok, _ := scanDoc([]byte(deep)); !ok {
		t.Errorf("refused %d levels", maxDepth)
	}
	var ps fastjsonParser
	if _, err := ps.p.Parse(deep); err != nil {
		t.Errorf("fastjson refuses %d levels the scanner accepts: %v", maxDepth, err)
	}
	if ok, tooDeep := scanDoc([]byte("[" + deep + "]")); ok || !tooDeep {
		t.Errorf("accepted %d levels", maxDepth+1)
	}
}

// FuzzScanner compares the scanner's verdict on a whole text with
// encoding/json.Valid and UTF-8 validity (RFC 8259 §8.1: JSON text is
// UTF-8; encoding/json does not check it), and checks that framing the
// same text one byte per read gives the same result.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e-3,"x\u00e9"]}`, `"\ud800"`, `01`, "\"\xff\"", `[1,]`, `{"a":1}{"b":2}`, "1 ", `-0.0E+1`, `"\/"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, tooDeep := scanDoc(in)
		if tooDeep {
			return // encoding/json allows deeper nesting than fastjson
		}
		want := json.Valid(in) && utf8.Valid(in)
		if got != want {
			t.Fatalf("scanner says %v, encoding/json and utf8 say %v, for %q", got, want, in)
		}
		whole, skips1 := frameAll(t, string(in), MaxMessageBytes, false)
		bytewise, skips2 := frameAll(t, string(in), MaxMessageBytes, true)
		if fmt.Sprint(whole, skips1) != fmt.Sprint(bytewise, skips2) {
			t.Fatalf("framing depends on reads: %q %v vs %q %v", whole, skips1, bytewise, skips2)
		}
		for _, m := range whole {
			text := m[strings.IndexByte(m, ':')+1:]
			if !json.Valid([]byte(text)) || !utf8.ValidString(text) {
				t.Fatalf("framed invalid JSON %q", text)
			}
		}
	})
}

// The reader hands over what it parsed before it waits for more input: a
// client that sends one request and waits for its reply gets it, whether
// the request came on one line or pretty-printed, and the framer must not
// wait for the next message's first byte to finish a message.
func TestRequestAnsweredBeforeMoreInput(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), inR, outW, Config{
			Open:   func(string) (Offsets, error) { return newMemStore(), nil },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		outW.Close()
	}()
	// A node that waits for more input never answers: end the test then.
	watchdog := time.AfterFunc(time.Minute, func() { outR.CloseWithError(errors.New("no reply within a minute")) })
	defer watchdog.Stop()
	replies := bufio.NewScanner(outR)
	for i, req := range []string{
		`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}` + "\n",
		"{\"src\": \"c1\", \"dest\": \"n1\",\n \"body\": {\"type\": \"fetch_offset\", \"msg_id\": 2, \"group\": \"g\", \"topic\": \"t\", \"partition\": 0}\n}",
		`{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":3,"group":"g","topic":"t","partition":0}}`, // no newline
	} {
		if _, err := io.WriteString(inW, req); err != nil {
			t.Fatal(err)
		}
		if !replies.Scan() {
			t.Fatalf("no reply to request %d: %v", i, replies.Err())
		}
		if want := fmt.Sprintf(`"in_reply_to": %d,`, i+1); !strings.Contains(replies.Text(), want) {
			t.Fatalf("reply %q, want %s", replies.Text(), want)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A message cut short after it passed the size limit, followed by a
// complete one on the next line: the complete one is framed, however the
// reads cut the input (the line's start may come at the start of a read,
// and then only the kept preview of the oversized text is behind it).
func TestFramerOversizedCutShortThenMessage(t *testing.T) {
	const max = 1000
	in := `{"src": "c1", "pad": "` + strings.Repeat("y", 5*max) + `",` + "\n" + `{"ok":1}` + "\n"
	for _, oneByte := range []bool{false, true} {
		got, skips := frameAll(t, in, max, oneByte)
		if len(got) != 1 || got[0] != `2:{"ok":1}` || len(skips) != 1 || skips[0].line != 1 {
			t.Errorf("one byte per read: %v: framed %q, skipped %v; want the message on line 2 and one skip at line 1", oneByte, got, skips)
		}
	}
}
