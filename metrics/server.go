package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/distkv-go/distkv/core/latency"
	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/core/wire"
)

// The families of server.Stats.
var (
	requestsDesc = prometheus.NewDesc("distkv_requests_total",
		"Client requests that ended, by action (unknown ones as other) and outcome (ok, error, denied).",
		[]string{"action", "outcome"}, nil)
	durationDesc = prometheus.NewDesc("distkv_request_duration_seconds",
		"How long get_value and set_value took on the server, from the gate until the reply was queued.",
		[]string{"action"}, nil)
	connsDesc = prometheus.NewDesc("distkv_client_connections",
		"Client connections open.", nil, nil)
	watchesDesc = prometheus.NewDesc("distkv_watches",
		"Watch streams running.", nil, nil)
	valuesDesc = prometheus.NewDesc("distkv_tree_values",
		"Entries of the tree that hold a value.", nil, nil)
	valueBytesDesc = prometheus.NewDesc("distkv_tree_value_bytes",
		"The size of the values the tree holds (msgpack).", nil, nil)

	logRecordsDesc = prometheus.NewDesc("distkv_log_records_total",
		"Records appended to change logs.", nil, nil)
	logBytesDesc = prometheus.NewDesc("distkv_log_written_bytes_total",
		"Bytes written to change logs.", nil, nil)
	logFsyncDesc = prometheus.NewDesc("distkv_log_fsync_duration_seconds",
		"How long fsyncs of change logs took.", nil, nil)

	peersDesc = prometheus.NewDesc("distkv_replication_peers",
		"Peers this server is connected to.", nil, nil)
	pushesDesc = prometheus.NewDesc("distkv_replication_pushes_total",
		"This server's changes pushed to peers.", nil, nil)
	droppedDesc = prometheus.NewDesc("distkv_replication_pushes_dropped_total",
		"Pushes dropped because a peer was behind (it fetches them later).", nil, nil)
	receivedDesc = prometheus.NewDesc("distkv_replication_updates_received_total",
		"Changes received from peers and applied (pushes, and answers to pulls and downloads).", nil, nil)
	conflictsDesc = prometheus.NewDesc("distkv_replication_conflicts_total",
		"Concurrent changes resolved.", nil, nil)
	pullsDesc = prometheus.NewDesc("distkv_replication_pulls_total",
		"Requests sent to peers for missing changes.", nil, nil)
	sentBytesDesc = prometheus.NewDesc("distkv_replication_sent_bytes_total",
		"Bytes of peer messages sent.", nil, nil)
	receivedBytesDesc = prometheus.NewDesc("distkv_replication_received_bytes_total",
		"Bytes of peer messages received.", nil, nil)
	missingDesc = prometheus.NewDesc("distkv_replication_missing_ticks",
		"Changes (ticks) this server knows of and has not seen.", nil, nil)
	lastSyncDesc = prometheus.NewDesc("distkv_replication_last_sync_seconds",
		"How long the last download of the network's data took (0: none).", nil, nil)
	lastCatchUpDesc = prometheus.NewDesc("distkv_replication_last_catchup_seconds",
		"How long this server last missed changes before it had fetched them all (0: never).", nil, nil)
)

// serverCollector reads server.Stats at scrape time.
type serverCollector struct {
	s *server.Server
}

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{requestsDesc, durationDesc, connsDesc, watchesDesc, valuesDesc, valueBytesDesc,
		logRecordsDesc, logBytesDesc, logFsyncDesc,
		peersDesc, pushesDesc, droppedDesc, receivedDesc, conflictsDesc, pullsDesc, sentBytesDesc, receivedBytesDesc,
		missingDesc, lastSyncDesc, lastCatchUpDesc} {
		ch <- d
	}
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for _, rc := range st.Requests {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(rc.N), rc.Action, rc.Outcome.String())
	}
	ch <- histogram(durationDesc, st.Get, wire.GetValue)
	ch <- histogram(durationDesc, st.Set, wire.SetValue)
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(connsDesc, float64(st.Conns))
	gauge(watchesDesc, float64(st.Watches))
	gauge(valuesDesc, float64(st.Tree.Values))
	gauge(valueBytesDesc, float64(st.Tree.Bytes))

	counter(logRecordsDesc, st.Log.Records)
	counter(logBytesDesc, st.Log.Bytes)
	ch <- histogram(logFsyncDesc, st.Log.Fsyncs)

	// A server on its own reports replication as zeros (but the ticks it
	// misses, which a log may have left): a dashboard need not tell the
	// two apart.
	r := st.Replica
	gauge(peersDesc, float64(r.Peers))
	counter(pushesDesc, r.Pushed)
	counter(droppedDesc, r.Dropped)
	counter(receivedDesc, r.Received)
	counter(conflictsDesc, r.Conflicts)
	counter(pullsDesc, r.Pulls)
	counter(sentBytesDesc, r.BytesSent)
	counter(receivedBytesDesc, r.BytesReceived)
	gauge(missingDesc, float64(st.Tree.Missing))
	gauge(lastSyncDesc, r.LastSync.Seconds())
	gauge(lastCatchUpDesc, r.LastCatchUp.Seconds())
}

// histogram turns a latency snapshot into a Prometheus histogram.
func histogram(d *prometheus.Desc, s latency.Snapshot, labels ...string) prometheus.Metric {
	cum := s.Cumulative()
	buckets := make(map[float64]uint64, len(cum))
	for i, n := range cum {
		buckets[latency.Bounds[i].Seconds()] = n
	}
	return prometheus.MustNewConstHistogram(d, s.Count, s.Sum.Seconds(), buckets, labels...)
}
