package query

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics time every API request by route, so a dashboard shows the API's own latency
// apart from what its clients add.
type metrics struct {
	duration *prometheus.HistogramVec
	// Kept lists: how much they hold, and how much rendering keeping them takes.
	keptLists, keptListBytes prometheus.Gauge
	listRenders              *prometheus.CounterVec
	listFullReads            prometheus.Counter
	// The keyring: how often API keys are read, how many it holds, and the requests
	// waiting for a read.
	keyringReads   *prometheus.CounterVec
	keyringKeys    prometheus.Gauge
	keyringWaiting prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hcstream_api_request_duration_seconds",
			Help: "Management API and badge requests, from the request read to the last byte of the response written, by route, API version, method and status code.",
			// 0.25 ms to about 8 s: a cached single check takes well under a millisecond,
			// a list of ten thousand checks tens of milliseconds, a write hundreds.
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
		}, []string{"route", "version", "method", "code"}),
	}
	m.keptLists = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hcstream_api_kept_lists",
		Help: "Check lists the API keeps rendered, one per project, API version and key type read lately.",
	})
	m.keptListBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hcstream_api_kept_list_bytes",
		Help: "Bytes of check renderings the kept lists hold.",
	})
	m.listRenders = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hcstream_api_list_renders_total",
		Help: "Checks rendered to bring kept lists up to date, by when: on a read, or between reads.",
	}, []string{"when"})
	m.listFullReads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hcstream_api_list_full_reads_total",
		Help: "Kept lists brought up to date by reading every check: a first read, a partition folded afresh, or more changes than the projector's journals keep.",
	})
	m.keyringReads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hcstream_api_keyring_reads_total",
		Help: "Reads of API keys from ClickHouse, by keys (all, or new: the projects created lately) and result (ok or error): on a key not held, at most four a second, of new projects' keys unless every key's read is a minute old; and of every key in the background once it is.",
	}, []string{"keys", "result"})
	m.keyringKeys = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hcstream_api_keyring_keys",
		Help: "API keys (read-write and read-only) the keyring holds.",
	})
	m.keyringWaiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hcstream_api_keyring_waiting_requests",
		Help: "Requests with a key the keyring does not hold, waiting for its next read.",
	})
	if reg != nil {
		reg.MustRegister(m.duration, m.keptLists, m.keptListBytes, m.listRenders, m.listFullReads, m.keyringReads, m.keyringKeys, m.keyringWaiting)
	}
	return m
}

// countKeyringRead counts a read of every key (all) or of new projects' keys, and how
// many keys the keyring holds after it.
func (m *metrics) countKeyringRead(all bool, err error, held int) {
	keys := "new"
	if all {
		keys = "all"
	}
	if err != nil {
		m.keyringReads.WithLabelValues(keys, "error").Inc()
		return
	}
	m.keyringReads.WithLabelValues(keys, "ok").Inc()
	m.keyringKeys.Set(float64(held))
}

// instrument times h under its mux path pattern; version 0 is a route outside the API.
func (m *metrics) instrument(version int, pattern string, h http.Handler) http.Handler {
	v := ""
	if version > 0 {
		v = "v" + strconv.Itoa(version)
	}
	return promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(prometheus.Labels{"route": routeLabel(pattern), "version": v}), h)
}

// routeLabel drops the expressions of a mux path pattern's variables, so that
// "/checks/{id:[0-9a-f]{8}-…}/pings/" is labelled "/checks/{id}/pings/".
func routeLabel(pattern string) string {
	var out strings.Builder
	depth, inExpr := 0, false
	for _, c := range pattern {
		switch {
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				inExpr = false
			}
		case c == ':' && depth == 1:
			inExpr = true
		}
		if !inExpr || (c == '}' && depth == 0) {
			out.WriteRune(c)
		}
	}
	return out.String()
}
