// Package metrics exports what an offsets node measures in the Prometheus
// text format, for operators to scrape and alert on.
//
// A Node holds the metrics of one node in a registry of its own (no global
// state: a test process runs many nodes). It implements the hooks of the
// packages it watches, node.Observer and consumeroffsets.Observer, so that
// those packages know nothing of Prometheus. A cluster member's raft loop
// has a hook of its own, replica.Observer, which Cluster (cluster.go)
// implements, registered into the same registry only when the node runs as
// a member.
//
// The hot path pays little: the node counts requests with plain increments
// and hands one table over per batch, the store reports once per group
// commit, and the gauges that describe the store's size (keys, groups, log
// bytes, dirty ratio) are a snapshot the store's goroutine publishes in
// atomics after each group commit, read by the HTTP goroutine at scrape time;
// the scrape never touches the store, which is not safe for concurrent use.
package metrics

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/maelstrom-offsets/offsets/compactor"
	"github.com/maelstrom-offsets/offsets/consumeroffsets"
	"github.com/maelstrom-offsets/offsets/node"
)

// Node is the metrics of one offsets node. Its methods are safe for
// concurrent use, except Batch, which the node calls from its serving
// goroutine only.
type Node struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	reqCache map[reqKey]prometheus.Counter // Batch's goroutine only
	refused  prometheus.Counter

	batchRequests prometheus.Histogram
	batchRecords  prometheus.Histogram
	batchBytes    prometheus.Histogram
	fsync         prometheus.Histogram

	compactions        prometheus.Counter
	compactionsFailed  prometheus.Counter
	compactionDuration prometheus.Histogram
	compactionPause    prometheus.Histogram
	lastCompaction     prometheus.Gauge

	expiredGroups  prometheus.Counter
	expiredOffsets prometheus.Counter

	recoveryDuration prometheus.Gauge
	recoveryRecords  prometheus.Gauge
	recoveryBytes    prometheus.Gauge

	maxKeys, maxGroups, maxNameBytes prometheus.Gauge

	state stateCollector

	clusterOnce sync.Once
	cluster     *Cluster
}

type reqKey struct {
	typ  string
	code int
}

// New returns a node's metrics, registered with the Go runtime's and the
// process's own (memory, CPU, open files) in a fresh registry.
func New() *Node {
	m := &Node{reg: prometheus.NewRegistry(), reqCache: make(map[reqKey]prometheus.Counter)}
	f := factory{m.reg}
	m.requests = f.counterVec("offsets_requests_total",
		"Requests answered, by type and outcome (ok, or the Maelstrom error code).", "type", "outcome")
	m.refused = f.counter("offsets_refused_writes_total",
		"Writes (commits and deletes) answered with error 13: the log could not be written (disk full or failed), nothing of them was applied.")
	m.batchRequests = f.histogram("offsets_batch_requests",
		"Requests per batch (group commit), read-only batches included.", prometheus.ExponentialBuckets(1, 2, 14))
	m.batchRecords = f.histogram("offsets_batch_records",
		"Records per log entry written by one group commit.", prometheus.ExponentialBuckets(1, 2, 17))
	m.batchBytes = f.histogram("offsets_batch_bytes",
		"Record bytes per log entry written by one group commit.", prometheus.ExponentialBuckets(64, 4, 12))
	m.fsync = f.histogram("offsets_fsync_duration_seconds",
		"Time in the log's fsync, one observation per group commit.", prometheus.ExponentialBuckets(50e-6, 2, 17))
	m.compactions = f.counter("offsets_compactions_total", "Compactions that ended, failed ones included.")
	m.compactionsFailed = f.counter("offsets_compactions_failed_total", "Compactions that failed (the log is left as it was).")
	m.compactionDuration = f.histogram("offsets_compaction_duration_seconds",
		"Duration of successful compactions.", prometheus.ExponentialBuckets(1e-3, 4, 12))
	m.compactionPause = f.histogram("offsets_compaction_pause_seconds",
		"Time a successful compaction held the log (its switch to the checkpoint).", prometheus.ExponentialBuckets(50e-6, 2, 17))
	m.lastCompaction = f.gauge("offsets_last_compaction_success_timestamp_seconds",
		"Unix time of the end of the last successful compaction; 0 until one succeeds in this process.")
	m.expiredGroups = f.counter("offsets_expired_groups_total", "Groups whose offsets offsets retention expired.")
	m.expiredOffsets = f.counter("offsets_expired_offsets_total", "Offsets that offsets retention expired.")
	m.recoveryDuration = f.gauge("offsets_recovery_duration_seconds", "Time the store took to replay its log at start.")
	m.recoveryRecords = f.gauge("offsets_recovery_records", "Records replayed at start.")
	m.recoveryBytes = f.gauge("offsets_recovery_bytes", "Bytes of log read at start.")
	m.maxKeys = f.gauge("offsets_max_keys", "The limit on live offset keys (--max-keys).")
	m.maxGroups = f.gauge("offsets_max_groups", "The limit on groups (--max-groups).")
	m.maxNameBytes = f.gauge("offsets_max_name_bytes", "The limit on group and topic names, in bytes (--max-name-bytes).")
	m.state.init()
	m.reg.MustRegister(&m.state,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every request type shows from the start with outcome ok, so that a
	// rate over it exists before the first request of that type.
	for _, typ := range requestTypes {
		m.requests.WithLabelValues(typ, "ok")
	}
	return m
}

// requestTypes are the request types of the protocol.
var requestTypes = []string{"init", "commit_offset", "fetch_offset", "commit_offsets", "fetch_offsets",
	"list_groups", "delete_offsets", "delete_group"}

// writeTypes are the request types that change the store.
var writeTypes = map[string]bool{"commit_offset": true, "commit_offsets": true, "delete_offsets": true, "delete_group": true}

// Registry is where the node's metrics live; a component with metrics of
// its own registers them here.
func (m *Node) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Node) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// SetLimits publishes the store's limits, so that an alert can compare the
// live keys and groups with them.
func (m *Node) SetLimits(maxKeys, maxGroups, maxNameBytes int) {
	m.maxKeys.Set(float64(maxKeys))
	m.maxGroups.Set(float64(maxGroups))
	m.maxNameBytes.Set(float64(maxNameBytes))
}

// Batch implements node.Observer.
func (m *Node) Batch(c *node.Counts) {
	m.batchRequests.Observe(float64(c.Requests()))
	c.Each(func(typ string, code, n int) {
		k := reqKey{typ, code}
		ctr := m.reqCache[k]
		if ctr == nil {
			outcome := "ok"
			if code != 0 {
				outcome = strconv.Itoa(code)
			}
			ctr = m.requests.WithLabelValues(typ, outcome)
			m.reqCache[k] = ctr
		}
		ctr.Add(float64(n))
		if code == node.CodeCrash && writeTypes[typ] {
			m.refused.Add(float64(n))
		}
	})
}

// Recovered implements consumeroffsets.Observer.
func (m *Node) Recovered(rs consumeroffsets.RecoveryStats, st consumeroffsets.Size) {
	m.recoveryDuration.Set(rs.Duration.Seconds())
	m.recoveryRecords.Set(float64(rs.Records))
	m.recoveryBytes.Set(float64(rs.Bytes))
	m.state.publish(st)
}

// Flushed implements consumeroffsets.Observer.
func (m *Node) Flushed(fs consumeroffsets.FlushStats, st consumeroffsets.Size) {
	m.fsync.Observe(fs.Sync.Seconds())
	m.batchRecords.Observe(float64(fs.Records))
	m.batchBytes.Observe(float64(fs.Bytes))
	if fs.ExpiredGroups > 0 {
		m.expiredGroups.Add(float64(fs.ExpiredGroups))
		m.expiredOffsets.Add(float64(fs.ExpiredOffsets))
	}
	m.state.publish(st)
}

// Compacted implements consumeroffsets.Observer.
func (m *Node) Compacted(st compactor.Stats, err error) {
	m.compactions.Inc()
	if err != nil {
		m.compactionsFailed.Inc()
		return
	}
	m.compactionDuration.Observe(st.Duration.Seconds())
	m.compactionPause.Observe(st.Pause.Seconds())
	m.lastCompaction.Set(float64(time.Now().UnixNano()) / 1e9)
}

// stateCollector exports the store's last published State. The store's
// goroutine writes it; the scrape reads it.
type stateCollector struct {
	keys, groups, logBytes atomic.Int64
	dirty                  atomic.Uint64 // float64 bits

	keysDesc, groupsDesc, logBytesDesc, dirtyDesc *prometheus.Desc
}

func (c *stateCollector) init() {
	c.keysDesc = prometheus.NewDesc("offsets_live_keys", "Live offset keys (group, topic, partition).", nil, nil)
	c.groupsDesc = prometheus.NewDesc("offsets_groups", "Groups held: with an offset or a generation.", nil, nil)
	c.logBytesDesc = prometheus.NewDesc("offsets_log_bytes", "Record bytes in the log, checkpoint included (entry headers excluded).", nil, nil)
	c.dirtyDesc = prometheus.NewDesc("offsets_log_dirty_ratio", "Share of the log's record bytes superseded by later records; compaction starts at --compact-dirty-ratio.", nil, nil)
}

func (c *stateCollector) publish(st consumeroffsets.Size) {
	c.keys.Store(int64(st.Keys))
	c.groups.Store(int64(st.Groups))
	c.logBytes.Store(st.LogBytes)
	c.dirty.Store(math.Float64bits(st.DirtyRatio))
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.keysDesc
	ch <- c.groupsDesc
	ch <- c.logBytesDesc
	ch <- c.dirtyDesc
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.keysDesc, prometheus.GaugeValue, float64(c.keys.Load()))
	ch <- prometheus.MustNewConstMetric(c.groupsDesc, prometheus.GaugeValue, float64(c.groups.Load()))
	ch <- prometheus.MustNewConstMetric(c.logBytesDesc, prometheus.GaugeValue, float64(c.logBytes.Load()))
	ch <- prometheus.MustNewConstMetric(c.dirtyDesc, prometheus.GaugeValue, math.Float64frombits(c.dirty.Load()))
}

// factory makes metrics registered in one registry.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

// Server serves a Node's metrics at /metrics over HTTP.
type Server struct {
	srv *http.Server
	ln  net.Listener
	err chan error
}

// Listen starts serving m at http://addr/metrics. addr is HOST:PORT; port 0
// picks a free port, which Addr reports.
func (m *Node) Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln, err: make(chan error, 1)}
	go func() { s.err <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server.
func (s *Server) Close() error {
	err := s.srv.Close()
	if serr := <-s.err; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
