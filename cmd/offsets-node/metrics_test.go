package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The metrics tests scrape /metrics of a real node process and parse it as
// Prometheus would, checking that the numbers move as requests are sent.
// call waits for each reply, and the node counts a batch before it writes
// the batch's replies, so a scrape after a reply sees that request.

var metricsAddrRE = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// metricsURL finds the address the node logged it serves metrics on.
func metricsURL(t *testing.T, n *apiNode) string {
	t.Helper()
	m := metricsAddrRE.FindStringSubmatch(n.stderr.String())
	if m == nil {
		t.Fatalf("no serving metrics line on stderr:\n%s", n.stderr)
	}
	return "http://" + m[1] + "/metrics"
}

// scrape fetches and parses the node's metrics.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value returns the value of the series of name whose labels include the
// given name=value pairs; for a histogram, its count. Absent is -1.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func wantValue(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	if got := value(fams, name, labels...); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func wantRequests(t *testing.T, fams map[string]*dto.MetricFamily, want float64, typ, outcome string) {
	t.Helper()
	wantValue(t, fams, want, "offsets_requests_total", "type", typ, "outcome", outcome)
}

func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	flags := append([]string{"--metrics-addr", "127.0.0.1:0", "--max-keys", "11"}, apiCompactFlags...)
	n := apiStart(t, dir, flags...)
	url := metricsURL(t, n)

	fams := scrape(t, url)
	wantRequests(t, fams, 0, "commit_offset", "ok")
	wantRequests(t, fams, 1, "init", "ok")
	wantValue(t, fams, 0, "offsets_live_keys")
	wantValue(t, fams, 0, "offsets_recovery_records")
	wantValue(t, fams, 11, "offsets_max_keys")
	fsyncs := value(fams, "offsets_fsync_duration_seconds")

	for p := 0; p < 10; p++ {
		n.run("commit", []apiStep{{fmt.Sprintf(`"type":"commit_offset","group":"g","topic":"t","partition":%d,"offset":%d`, p, p), apiCommitOK}})
	}
	n.run("reads and errors", []apiStep{
		{`"type":"fetch_offset","group":"g","topic":"t","partition":3`, `{"type": "fetch_offset_ok", "offset": 3}`},
		{`"type":"commit_offset","group":"g","partition":0,"offset":1`, `{"type": "error", "code": 12, "text": "missing required field \"topic\""}`},
		{`"type":"no_such_type"`, `{"type": "error", "code": 10, "text": "unknown message type \"no_such_type\""}`},
		{`"type":"commit_offsets","group":"h","offsets":[{"topic":"t","partition":0,"offset":1},{"topic":"t","partition":1,"offset":1}]`,
			`{"type": "error", "code": 14, "text": "nothing was applied: limit reached: 2 new offset key(s) beyond the 10 held would pass max-keys (11)"}`},
	})

	fams = scrape(t, url)
	wantRequests(t, fams, 10, "commit_offset", "ok")
	wantRequests(t, fams, 1, "fetch_offset", "ok")
	wantRequests(t, fams, 1, "commit_offset", "12")
	wantRequests(t, fams, 1, "unknown", "10")
	wantRequests(t, fams, 1, "commit_offsets", "14")
	wantValue(t, fams, 0, "offsets_refused_writes_total")
	wantValue(t, fams, 10, "offsets_live_keys")
	wantValue(t, fams, 1, "offsets_groups")
	if got := value(fams, "offsets_fsync_duration_seconds"); got < fsyncs+10 {
		// Each commit waited for its reply, so each had a group commit of its own.
		t.Errorf("fsync histogram count %v -> %v after 10 commits one at a time", fsyncs, got)
	}
	if got := value(fams, "offsets_batch_records"); got < 10 {
		t.Errorf("batch records count = %v, want >= 10", got)
	}
	if got := value(fams, "offsets_log_bytes"); got <= 0 {
		t.Errorf("log bytes = %v", got)
	}

	// Compaction (every batch may start one with these flags): re-commit
	// until one has ended; it is counted when it ends, not when the node
	// next looks.
	deadline := time.Now().Add(30 * time.Second)
	for value(fams, "offsets_compactions_total") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no compaction counted within 30s; stderr:\n%s", n.stderr)
		}
		n.run("re-commit", []apiStep{{`"type":"commit_offset","group":"g","topic":"t","partition":0,"offset":0`, apiCommitOK}})
		fams = scrape(t, url)
	}
	wantValue(t, fams, 0, "offsets_compactions_failed_total")
	if value(fams, "offsets_compaction_duration_seconds") < 1 || value(fams, "offsets_compaction_pause_seconds") < 1 {
		t.Errorf("compaction histograms empty after a compaction")
	}
	if ts := value(fams, "offsets_last_compaction_success_timestamp_seconds"); ts < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("last compaction timestamp = %v", ts)
	}
	n.stop()

	// A restart reports its recovery and starts with the replayed state.
	n = apiStart(t, dir, "--metrics-addr", "127.0.0.1:0")
	fams = scrape(t, metricsURL(t, n))
	wantValue(t, fams, 10, "offsets_live_keys")
	if value(fams, "offsets_recovery_records") < 1 || value(fams, "offsets_recovery_duration_seconds") <= 0 {
		t.Errorf("recovery gauges: records %v, duration %v", value(fams, "offsets_recovery_records"), value(fams, "offsets_recovery_duration_seconds"))
	}
	n.stop()
}

// TestMetricsOffByDefault: without --metrics-addr the node listens on
// nothing and says nothing of metrics.
func TestMetricsOffByDefault(t *testing.T) {
	n := apiStart(t, t.TempDir())
	n.run("commit", []apiStep{{`"type":"commit_offset","group":"g","topic":"t","partition":0,"offset":1`, apiCommitOK}})
	if stderr := n.stop(); strings.Contains(stderr, "metrics") {
		t.Fatalf("metrics mentioned without --metrics-addr:\n%s", stderr)
	}
}
