package projector

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hcstream/hcstream/schemas"
)

type metrics struct {
	events *prometheus.CounterVec
	// eventsOfType caches events' counter of each type: the label lookup cost more
	// than folding a ping's state.
	eventsOfType  [256]atomic.Pointer[prometheus.Counter]
	skipped       *prometheus.CounterVec
	batchRows     prometheus.Histogram
	flushDuration *prometheus.HistogramVec
	flushRetries  prometheus.Counter
	partitions    prometheus.Gauge
	timeouts      prometheus.Counter
	outages       prometheus.Counter
	lag           *prometheus.GaugeVec
	// batchesWaiting is the folded batches of a partition waiting for ClickHouse.
	batchesWaiting *prometheus.GaugeVec
	// foldWaiting is the time partitions spent unable to fold because their write queue
	// was full.
	foldWaiting prometheus.Counter
	// pingDelay is observed only when the metrics are registered: a replay folds old
	// pings, and reading the clock for each would cost it more than it tells.
	pingDelay prometheus.Histogram
}

// newMetrics makes the fold's metrics named under prefix: hcstream_projector for the
// projectors, and another for a fold that only serves reads, so that dashboards summing
// the projectors' work do not count a follower's as well.
func newMetrics(reg prometheus.Registerer, prefix string) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "_events_total", Help: "Events folded, by type.",
		}, []string{"event_type"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: prefix + "_events_skipped_total", Help: "Records not folded, by reason (already_applied, corrupt, unknown_check: an event about a check the partition never held).",
		}, []string{"reason"}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: prefix + "_batch_rows", Help: "Rows per history batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		flushDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: prefix + "_flush_duration_seconds", Help: "Time to make one batch durable, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"outcome"}),
		flushRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prefix + "_flush_retries_total", Help: "Failed attempts to make a batch durable (retried).",
		}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prefix + "_timeouts_total", Help: "Checks that went down because their deadline passed in stream time.",
		}),
		outages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prefix + "_outages_total", Help: "Gaps in a partition's stream time longer than the outage window (ingest was down).",
		}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: prefix + "_partitions", Help: "Partitions folded here: assigned to this projector, or followed by this query role.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: prefix + "_lag_records", Help: "Records between the last fetched offset and the partition end.",
		}, []string{"partition"}),
		batchesWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: prefix + "_batches_waiting", Help: "Folded batches waiting to be written to ClickHouse, by partition.",
		}, []string{"partition"}),
		foldWaiting: prometheus.NewCounter(prometheus.CounterOpts{
			Name: prefix + "_fold_waiting_seconds_total", Help: "Time partitions waited to fold because the batches waiting for ClickHouse held 4 full batches' events (summed over partitions).",
		}),
	}
	if reg != nil {
		m.pingDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: prefix + "_ping_delay_seconds",
			Help: "Time from ingest receiving a ping to the projector folding it, when the API starts showing it (both clocks' difference included).",
			// 1 ms to about 33 s: live it is tens of milliseconds, after a restart the backlog's age.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		})
		reg.MustRegister(m.events, m.skipped, m.batchRows, m.flushDuration, m.flushRetries, m.partitions, m.timeouts, m.outages, m.lag, m.batchesWaiting, m.foldWaiting, m.pingDelay)
	}
	return m
}

// folded counts one folded event of type t.
func (m *metrics) folded(t schemas.Type) {
	cached := &m.eventsOfType[t]
	counter := cached.Load()
	if counter == nil {
		// Concurrent first calls store the same counter: the vector returns one per label.
		c := m.events.WithLabelValues(t.String())
		counter = &c
		cached.Store(counter)
	}
	(*counter).Inc()
}
