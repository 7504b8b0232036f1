package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/node"
	"github.com/maelstrom-offsets/offsets/replica"
)

func TestStoreHooks(t *testing.T) {
	m := New()
	m.Recovered(consumeroffsets.RecoveryStats{Records: 7, Bytes: 100, Duration: 2 * time.Second},
		consumeroffsets.Size{Keys: 3, Groups: 2, LogBytes: 100, DirtyRatio: 0.25})
	m.Flushed(consumeroffsets.FlushStats{Records: 4, Bytes: 80, Sync: time.Millisecond, ExpiredGroups: 1, ExpiredOffsets: 3},
		consumeroffsets.Size{Keys: 5, Groups: 2, LogBytes: 180, DirtyRatio: 0.5})
	m.Compacted(compactor.Stats{Duration: time.Second, Pause: time.Millisecond}, nil)
	m.Compacted(compactor.Stats{}, errors.New("disk on fire"))

	want := `
# HELP offsets_compactions_failed_total Compactions that failed (the log is left as it was).
# TYPE offsets_compactions_failed_total counter
offsets_compactions_failed_total 1
# HELP offsets_compactions_total Compactions that ended, failed ones included.
# TYPE offsets_compactions_total counter
offsets_compactions_total 2
# HELP offsets_expired_groups_total Groups whose offsets offsets retention expired.
# TYPE offsets_expired_groups_total counter
offsets_expired_groups_total 1
# HELP offsets_expired_offsets_total Offsets that offsets retention expired.
# TYPE offsets_expired_offsets_total counter
offsets_expired_offsets_total 3
# HELP offsets_live_keys Live offset keys (group, topic, partition).
# TYPE offsets_live_keys gauge
offsets_live_keys 5
# HELP offsets_log_dirty_ratio Share of the log's record bytes superseded by later records; compaction starts at --compact-dirty-ratio.
# TYPE offsets_log_dirty_ratio gauge
offsets_log_dirty_ratio 0.5
# HELP offsets_recovery_records Records replayed at start.
# TYPE offsets_recovery_records gauge
offsets_recovery_records 7
`
	names := []string{"offsets_compactions_failed_total", "offsets_compactions_total", "offsets_expired_groups_total",
		"offsets_expired_offsets_total", "offsets_live_keys", "offsets_log_dirty_ratio", "offsets_recovery_records"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.compactionDuration); n != 1 {
		t.Fatalf("compaction duration series: %d", n)
	}
	if ts := testutil.ToFloat64(m.lastCompaction); ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("last compaction timestamp %v", ts)
	}
}

// TestRefusedWrites: writes answered with error 13 count as refused; reads
// in the failed batch are answered from the durable state and count as ok.
func TestRefusedWrites(t *testing.T) {
	m := New()
	in := `{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1"}}
{"src":"c1","dest":"n1","body":{"type":"commit_offset","msg_id":2,"group":"g","topic":"t","partition":0,"offset":5}}
{"src":"c1","dest":"n1","body":{"type":"delete_group","msg_id":3,"group":"g"}}
{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":4,"group":"g","topic":"t","partition":0}}
{"src":"c1","dest":"n1","body":{"type":"fetch_offset","msg_id":5,"group":"g","topic":"t","partition":0}}
`
	err := node.Run(context.Background(), strings.NewReader(in), io.Discard, node.Config{
		Open:     func(string) (node.Offsets, error) { return failingStore{}, nil },
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Observer: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.refused); got != 2 {
		t.Fatalf("refused writes = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("fetch_offset", "ok")); got != 2 {
		t.Fatalf("fetch_offset/ok = %v, want 2", got)
	}
}

// failingStore is a store whose every Flush fails.
type failingStore struct{ node.Offsets }

func (failingStore) CheckCommit([]byte, []consumeroffsets.Key) error      { return nil }
func (failingStore) Commit(_, _ []byte, _ int32, _ int64, _ []byte) error { return nil }
func (failingStore) DeleteGroup([]byte) (int, error)                      { return 0, nil }
func (failingStore) Fetch([]byte, []byte, int32) (consumeroffsets.Committed, bool) {
	return consumeroffsets.Committed{}, false
}
func (failingStore) ExpireOffsets() ([]consumeroffsets.ExpiredGroup, error) { return nil, nil }
func (failingStore) Pending() int                                           { return 1 }
func (failingStore) Flush() error                                           { return errors.New("no space left on device") }
func (failingStore) Close() error                                           { return nil }

// TestNamesFollowConventions lints every metric with Prometheus' own
// checker (units, _total on counters, no camel case).
func TestNamesFollowConventions(t *testing.T) {
	m := New()
	c := m.Cluster() // every cluster series present
	c.Watch(func() replica.Status { return replica.Status{Role: replica.Leader} })
	c.Progress(5, []replica.PeerProgress{{ID: 2, Match: 4}})
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "offsets_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func TestServer(t *testing.T) {
	m := New()
	srv, err := m.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `offsets_requests_total{outcome="ok",type="commit_offset"} 0`) {
		t.Fatalf("no zero commit_offset series in:\n%.2000s", body)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}
