package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/internal/tmpfstest"
)

// fullDiskClient drives a node on a disk that fills up. It keeps, per
// partition of group g / topic t, the offset of the last acknowledged
// commit: what every fetch must answer, full disk or not.
type fullDiskClient struct {
	t       *testing.T
	n       *apiNode
	acked   map[int]int64
	next    int64
	refused int
	runs    int  // runs of refused commits, as the replies show them
	failing bool // the last commit was refused
	trace   []string
	meta    string
}

// round pipelines pairs of (commit to p, fetch p) and reads every reply. It
// returns how many commits were refused with error 13.
func (c *fullDiskClient) round(parts []int) int {
	c.t.Helper()
	type sent struct {
		commit bool
		p      int
		off    int64
	}
	var reqs []sent
	var buf strings.Builder
	for _, p := range parts {
		c.next++
		id := c.n.nextID
		c.n.nextID += 2
		fmt.Fprintf(&buf, `{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":%d,"group":"g","topic":"t","partition":%d,"offset":%d,"metadata":%q}}`+"\n", id, p, c.next, c.meta)
		fmt.Fprintf(&buf, `{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":%d,"group":"g","topic":"t","partition":%d}}`+"\n", id+1, p)
		reqs = append(reqs, sent{true, p, c.next}, sent{false, p, 0})
	}
	if _, err := c.n.in.Write([]byte(buf.String())); err != nil {
		c.t.Fatal(err)
	}
	refused := 0
	for _, r := range reqs {
		if !c.n.out.Scan() {
			c.t.Fatalf("reply missing; stderr:\n%s", c.n.stderr)
		}
		var rep reply
		if err := json.Unmarshal(c.n.out.Bytes(), &rep); err != nil {
			c.t.Fatalf("reply %q: %v", c.n.out.Text(), err)
		}
		switch {
		case r.commit && rep.Body.Type == "commit_offset_ok":
			c.acked[r.p] = r.off
			if c.failing {
				c.trace = append(c.trace, fmt.Sprintf("ok at %d in a round of %d", r.off, len(parts)))
			}
			c.failing = false
		case r.commit && rep.Body.Type == "error" && rep.Body.Code == 13:
			refused++
			if !c.failing {
				c.runs++
				c.trace = append(c.trace, fmt.Sprintf("refused at %d in a round of %d", r.off, len(parts)))
			}
			c.failing = true
		case !r.commit && rep.Body.Type == "fetch_offset_ok":
			if rep.Body.Offset != c.acked[r.p] {
				c.t.Fatalf("fetch of partition %d answered %d; the last acknowledged commit was %d: %s",
					r.p, rep.Body.Offset, c.acked[r.p], c.n.out.Text())
			}
		default:
			c.t.Fatalf("unexpected reply: %s\nstderr:\n%s", c.n.out.Text(), c.n.stderr)
		}
	}
	c.refused += refused
	return refused
}

func countLines(s, pattern string) int {
	return len(regexp.MustCompile(`(?m)^.*`+pattern+`.*$`).FindAllString(s, -1))
}

// TestFullDisk fills a 3 MiB tmpfs with commits: commits get error 13,
// fetches are answered with the acknowledged offsets, a run of failed
// batches is logged once; after room is made commits are acknowledged again
// without a restart, with one line counting the refused requests; a
// restart finds every acknowledged offset.
func TestFullDisk(t *testing.T) {
	mnt := tmpfstest.Mount(t, "size=3m")
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(mnt, "data")
	c := &fullDiskClient{t: t, n: apiStart(t, data, "--segment-size", "65536"), acked: map[int]int64{},
		meta: strings.Repeat("m", 4096)}
	const parts = 20
	all := make([]int, parts)
	for i := range all {
		all[i] = i
	}

	// Pipelined rounds until commits are refused.
	for i := 0; c.refused == 0; i++ {
		if i == 200 {
			t.Fatalf("200 rounds of 4 KB commits did not fill a 3 MiB tmpfs; stderr:\n%s", c.n.stderr)
		}
		c.round(all)
	}
	// What is left may still take a smaller batch: fill it, so that no
	// commit fits (one commit is bigger than a page, so none fits in the
	// tail's last page either).
	plug := filepath.Join(mnt, "plug")
	f, err := os.Create(plug)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the rest of the tmpfs: %v", err)
	}
	// Now every write fails: many failed batches, pipelined and single,
	// with fetches in the same batches as refused commits; for long enough
	// that writes are tried again after the back-off, and fail again.
	before, sent := c.refused, 0
	for start := time.Now(); sent < 10*(parts+1) || time.Since(start) < 3*consumeroffsets.RetryBackoff; sent += parts + 1 {
		c.round(all)
		c.round([]int{sent % parts})
	}
	if c.refused-before != sent {
		t.Fatalf("%d of %d commits refused on a full disk; %v", c.refused-before, sent, c.trace)
	}
	// Make room: commits are acknowledged again, within a few back-offs.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(plug); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.round([]int{0}) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("commits still refused 30 s after room was made; stderr:\n%s", c.n.stderr)
		}
		time.Sleep(20 * time.Millisecond) // polling: the node has nothing to signal a client with
	}
	if c.round(all) != 0 {
		t.Fatalf("commits refused after writes resumed; stderr:\n%s", c.n.stderr)
	}
	// stderr is complete once the node has exited. Each run of refused
	// commits, however many batches it spans, has one line at its start
	// and one when writes resume, and those count every refused request.
	logs := c.n.stop()
	m := regexp.MustCompile(`level=INFO msg="log writes resumed" refused=(\d+)`).FindAllStringSubmatch(logs, -1)
	total := 0
	for _, s := range m {
		k, _ := strconv.Atoi(s[1])
		total += k
	}
	if starts := countLines(logs, "level=ERROR"); starts != c.runs || len(m) != c.runs || total != c.refused ||
		countLines(logs, "level=ERROR.*disk full") != c.runs {
		t.Fatalf("%d ERROR lines and %d 'resumed' lines counting %d refused requests; the client saw %d runs of refusals, %d refused (%v); stderr:\n%s",
			starts, len(m), total, c.runs, c.refused, c.trace, logs)
	}
	if strings.Contains(logs, "restart") {
		t.Fatalf("a full disk was taken for a final failure; stderr:\n%s", logs)
	}

	got, stderr := fetchAll(t, data, []string{"g"}, parts)
	for p := 0; p < parts; p++ {
		if want := c.acked[p]; got[fmt.Sprintf("g/%d", p)] != want {
			t.Fatalf("after restart partition %d = %d, acknowledged %d\nstderr:\n%s", p, got[fmt.Sprintf("g/%d", p)], want, stderr)
		}
	}
	if strings.Contains(stderr, "torn tail") {
		t.Fatalf("the rewinds left a torn tail for the restart to cut:\n%s", stderr)
	}
}
