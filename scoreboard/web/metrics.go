package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the exercise's Prometheus registry and the hooks the other
// components call. No series has a team label, but the totals per verdict
// and per route still move with captures after a freeze: /metrics is the
// organizer's (or on a listen address of its own), never public. A nil
// *Metrics ignores every call, so a component can hold one
// unconditionally.
type Metrics struct {
	reg         *prometheus.Registry
	submissions *prometheus.CounterVec
	commit      prometheus.Histogram
	viewers     prometheus.Gauge
	tick        prometheus.Histogram
	requests    *prometheus.CounterVec
	refused     prometheus.Counter

	mu        sync.Mutex
	audiences map[string]int // viewers per live audience, for ViewersOf
}

// submissionLabel returns code when it is a verdict code of PROTOCOLS.md
// §1, and "other" otherwise, so that a caller cannot grow the label set.
func submissionLabel(code string) string {
	switch code {
	case "OK", "DUP", "OWN", "OLD", "INV", "ERR":
		return code
	}
	return "other"
}

// NewMetrics creates the registry with the exercise's metrics and the Go
// runtime's and the process's own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cyrange_submissions_total",
			Help: "Submitted flags by verdict code (OK, DUP, OWN, OLD, INV, ERR).",
		}, []string{"code"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cyrange_commit_seconds",
			Help: "Time of one group commit of the event log, fsync included.",
			// 50µs to about 1.6s: fsync is sub-millisecond on a good disk.
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		viewers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cyrange_live_viewers",
			Help: "Websocket viewers connected to the live streams.",
		}),
		tick: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cyrange_tick_duration_seconds",
			Help: "Time the checkers took to finish one tick.",
			// 10ms to about 5.5 minutes: a tick is a minute by default.
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cyrange_http_requests_total",
			Help: "HTTP requests by route template and status code.",
		}, []string{"route", "code"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyrange_http_refused_connections_total",
			Help: "Connections to the web port closed at once because their source held its maximum.",
		}),
		audiences: map[string]int{},
	}
	m.reg.MustRegister(m.submissions, m.commit, m.viewers, m.tick, m.requests, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []string{"OK", "DUP", "OWN", "OLD", "INV", "ERR"} {
		// Present from the start, so that rates work before the first flag.
		m.submissions.WithLabelValues(c)
	}
	return m
}

// Registry returns the registry, for components that register their own
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveSubmission counts n flags judged with code.
func (m *Metrics) ObserveSubmission(code string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.submissions.WithLabelValues(submissionLabel(code)).Add(float64(n))
}

// ObserveCommit records one group commit's duration.
func (m *Metrics) ObserveCommit(d time.Duration) {
	if m == nil {
		return
	}
	m.commit.Observe(d.Seconds())
}

// SetViewers sets the number of live viewers.
func (m *Metrics) SetViewers(n int) {
	if m == nil {
		return
	}
	m.viewers.Set(float64(n))
}

// ViewersOf takes one live audience's viewer count ("public", "team",
// "admin") and sets the gauge to the sum of all audiences: the shape of
// the live hub's observer.
func (m *Metrics) ViewersOf(audience string, n int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audiences[audience] = n
	total := 0
	for _, v := range m.audiences {
		total += v
	}
	m.viewers.Set(float64(total))
}

// ObserveTick records how long a tick's checks took.
func (m *Metrics) ObserveTick(d time.Duration) {
	if m == nil {
		return
	}
	m.tick.Observe(d.Seconds())
}

// refusedConn counts a connection closed for its source's bound.
func (m *Metrics) refusedConn() {
	if m == nil {
		return
	}
	m.refused.Inc()
}
