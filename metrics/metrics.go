// Package metrics serves a DistKV server's metrics in the Prometheus
// format. It is the one package that imports the Prometheus client:
// core keeps plain counters (server.Stats, replica.Stats, luart.Stats)
// and this package reads them when it is scraped. docs/metrics.md lists
// every family.
//
// A scrape costs a read of those counters, plus one walk of the runner
// states and error records in the tree (bounded by the number of jobs and
// errors, not by the tree's size). Nothing is kept between scrapes.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/distkv-go/distkv/core/server"
	"github.com/distkv-go/distkv/luart"
)

// Sources are what the metrics read. Every part may be nil: its families
// are then left out.
type Sources struct {
	// Server gives the requests, connections, watches, tree, change log
	// and replication families, and the runner jobs and error records
	// read from its tree.
	Server *server.Server
	// Lua is the runtime of the server's types and codecs.
	Lua *luart.Runtime
	// Version, if set, is distkv_build_info's version label.
	Version string
}

// Metrics is a registry of a server's collectors, private to it (never
// the global default, so that two servers in one process do not mix).
// Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
}

// New registers the collectors of src, and Go's runtime and process
// collectors.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if src.Server != nil {
		reg.MustRegister(&serverCollector{s: src.Server}, &treeCollector{s: src.Server})
	}
	if src.Lua != nil {
		reg.MustRegister(&luaCollector{rt: src.Lua})
	}
	if src.Version != "" {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "distkv_build_info",
			Help:        "Always 1; the version label says which build runs.",
			ConstLabels: prometheus.Labels{"version": src.Version},
		}, func() float64 { return 1 }))
	}
	return &Metrics{reg: reg}
}

// Handler serves the metrics (GET /metrics): the Prometheus text format,
// or what the scraper asks for.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer is the registry, for tests and for embedding in another one.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }
