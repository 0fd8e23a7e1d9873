package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the server's Prometheus collectors. A nil *Metrics records
// nothing, so every method is safe to call on it.
type Metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	transitions *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	commit      prometheus.Histogram
	group       prometheus.Histogram
	scans       *prometheus.CounterVec
	alerts      prometheus.Counter
	extRequests prometheus.Counter
	extDecided  *prometheus.CounterVec
	leading     *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them with reg; a nil reg
// leaves them unregistered. It panics if a collector is already registered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rectify_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rectify_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method, route pattern and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "status"}),
		transitions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rectify_transitions_total",
			Help: "Workflow triggers fired successfully, by trigger.",
		}, []string{"trigger"}),
		refusals: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rectify_refusals_total",
			Help: "Requests answered with an RFC 9457 problem, by error code.",
		}, []string{"code"}),
		commit: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "rectify_store_commit_seconds",
			Help:    "Duration of the store's write transactions.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		group: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "rectify_store_commit_group_size",
			Help:    "Commands sharing one store write transaction (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		scans: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rectify_deadline_scans_total",
			Help: "Deadline scans run (on demand or by the ticker), by result (ok or error).",
		}, []string{"result"}),
		alerts: f.NewCounter(prometheus.CounterOpts{
			Name: "rectify_deadline_alerts_total",
			Help: "Alerts (level changes and stage breaches) recorded by deadline scans.",
		}),
		extRequests: f.NewCounter(prometheus.CounterOpts{
			Name: "rectify_extension_requests_total",
			Help: "Deadline extension requests recorded.",
		}),
		extDecided: f.NewCounterVec(prometheus.CounterOpts{
			Name: "rectify_extension_decisions_total",
			Help: "Deadline extension decisions recorded, by decision (approve or deny).",
		}, []string{"decision"}),
		leading: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rectify_leading",
			Help: "1 for each role (scanner, webhook-dispatcher, sealer) this replica leads now, 0 for one it campaigns for.",
		}, []string{"role"}),
	}
}

// SetLeading records whether this replica leads role now.
func (m *Metrics) SetLeading(role string, leading bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leading {
		v = 1
	}
	m.leading.WithLabelValues(role).Set(v)
}

// ObserveScan records one deadline scan that recorded changes alerts and
// ended with err (nil when it completed). The scanner's ticker calls it as
// well as POST /api/v1/deadlines/scan.
func (m *Metrics) ObserveScan(changes int, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.scans.WithLabelValues(result).Inc()
	if changes > 0 {
		m.alerts.Add(float64(changes))
	}
}

func (m *Metrics) extensionRequest() {
	if m == nil {
		return
	}
	m.extRequests.Inc()
}

func (m *Metrics) extensionDecision(decision string) {
	if m == nil {
		return
	}
	m.extDecided.WithLabelValues(decision).Inc()
}

// ObserveCommit records the duration of one store write transaction.
func (m *Metrics) ObserveCommit(d time.Duration) {
	if m == nil {
		return
	}
	m.commit.Observe(d.Seconds())
}

// ObserveGroup records how many commands one store commit held.
func (m *Metrics) ObserveGroup(commands int) {
	if m == nil {
		return
	}
	m.group.Observe(float64(commands))
}

func (m *Metrics) observeRequest(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	s := strconv.Itoa(status)
	m.requests.WithLabelValues(method, route, s).Inc()
	m.latency.WithLabelValues(method, route, s).Observe(d.Seconds())
}

func (m *Metrics) transition(trigger string) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(trigger).Inc()
}

func (m *Metrics) refusal(code string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(code).Inc()
}
