package ingest

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	pings *prometheus.CounterVec
	// pingsByCode holds the counters of the codes the handler answers with, so that a
	// ping does not format and hash its code to find its counter.
	pingsByCode    map[int]prometheus.Counter
	publishSeconds prometheus.Histogram
	inflight       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		pings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hcstream_ingest_pings_total", Help: "Ping requests by response status code.",
		}, []string{"code"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hcstream_ingest_publish_duration_seconds", Help: "Time until Kafka acknowledged a ping (acks=all).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hcstream_ingest_inflight_requests", Help: "Ping requests waiting for Kafka.",
		}),
	}
	m.pingsByCode = map[int]prometheus.Counter{}
	for _, code := range []int{http.StatusOK, http.StatusCreated, http.StatusBadRequest, http.StatusNotFound,
		http.StatusConflict, http.StatusInternalServerError, http.StatusServiceUnavailable} {
		m.pingsByCode[code] = m.pings.WithLabelValues(strconv.Itoa(code))
	}
	if reg != nil {
		reg.MustRegister(m.pings, m.publishSeconds, m.inflight)
	}
	return m
}

// countPing counts a ping answered with code.
func (m *metrics) countPing(code int) {
	if c, ok := m.pingsByCode[code]; ok {
		c.Inc()
		return
	}
	m.pings.WithLabelValues(strconv.Itoa(code)).Inc()
}
