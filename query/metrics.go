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
	if reg != nil {
		reg.MustRegister(m.duration)
	}
	return m
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
