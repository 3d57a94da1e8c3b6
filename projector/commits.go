package projector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// commitWatch tells a follower's writers when the projectors have stored their writes.
// A projector commits a batch's offset only once ClickHouse holds the batch (and its
// registry records are published), so a committed offset past a record says the record
// is stored. One poll of the consumer group's offsets serves every waiting write, where
// each write polling ClickHouse for its check cost the store a query every few
// milliseconds.
type commitWatch struct {
	// fetch returns the group's committed offset of each partition.
	fetch func(ctx context.Context) (map[int]int64, error)
	every time.Duration
	log   *slog.Logger
	// waiting exports waiters.
	waiting prometheus.Gauge

	mu        sync.Mutex
	committed map[int]int64
	waiters   int
	polling   bool
	// polled is closed, and replaced, after each poll.
	polled chan struct{}
}

// newCommitWatch returns a commitWatch; its gauge of waiting writes is registered with
// reg unless reg is nil.
func newCommitWatch(fetch func(ctx context.Context) (map[int]int64, error), every time.Duration, log *slog.Logger, reg prometheus.Registerer) *commitWatch {
	waiting := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hcstream_query_live_writes_waiting", Help: "API writes waiting for the projectors to commit past them.",
	})
	if reg != nil {
		reg.MustRegister(waiting)
	}
	return &commitWatch{fetch: fetch, every: every, log: log, waiting: waiting, committed: map[int]int64{}, polled: make(chan struct{})}
}

// await returns once the group has committed partition past the record whose version
// (offset + 1) is given, or with ctx's error.
func (w *commitWatch) await(ctx context.Context, partition int, version uint64) error {
	w.mu.Lock()
	w.waiters++
	w.waiting.Inc()
	defer func() {
		w.mu.Lock()
		w.waiters--
		w.mu.Unlock()
		w.waiting.Dec()
	}()
	for {
		if next := w.committed[partition]; next > 0 && uint64(next) >= version {
			w.mu.Unlock()
			return nil
		}
		polled := w.polled
		if !w.polling {
			w.polling = true
			go w.poll()
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-polled:
		}
		w.mu.Lock()
	}
}

// poll reads the committed offsets every w.every for as long as anyone waits.
func (w *commitWatch) poll() {
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		committed, err := w.fetch(ctx)
		cancel()
		if err != nil {
			w.log.Debug("reading the projectors' committed offsets for a waiting write", "err", err)
		}
		w.mu.Lock()
		if err == nil {
			w.committed = committed
		}
		close(w.polled)
		w.polled = make(chan struct{})
		if w.waiters == 0 {
			w.polling = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		<-tick.C
	}
}
