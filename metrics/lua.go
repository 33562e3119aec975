package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/distkv-go/distkv/luart"
)

// The families of luart.Stats.
var (
	luaCallsDesc = prometheus.NewDesc("distkv_lua_calls_total",
		"Calls of Lua code (types, codecs) on this server.", nil, nil)
	luaErrorsDesc = prometheus.NewDesc("distkv_lua_errors_total",
		"Lua calls that failed: the script raised an error, or broke a limit.", nil, nil)
	luaLimitsDesc = prometheus.NewDesc("distkv_lua_limit_hits_total",
		"Lua calls that broke a limit, by limit (timeout, memory, depth, string, match).",
		[]string{"limit"}, nil)
)

// luaCollector reads a luart.Runtime's counts at scrape time.
type luaCollector struct {
	rt *luart.Runtime
}

func (c *luaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- luaCallsDesc
	ch <- luaErrorsDesc
	ch <- luaLimitsDesc
}

func (c *luaCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.rt.Stats()
	ch <- prometheus.MustNewConstMetric(luaCallsDesc, prometheus.CounterValue, float64(st.Calls))
	ch <- prometheus.MustNewConstMetric(luaErrorsDesc, prometheus.CounterValue, float64(st.Errors))
	names := make([]string, 0, len(st.Limits))
	for name := range st.Limits {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ch <- prometheus.MustNewConstMetric(luaLimitsDesc, prometheus.CounterValue, float64(st.Limits[name]), name)
	}
}
