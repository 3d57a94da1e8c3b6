package ingest

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	pings          *prometheus.CounterVec
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
	if reg != nil {
		reg.MustRegister(m.pings, m.publishSeconds, m.inflight)
	}
	return m
}
