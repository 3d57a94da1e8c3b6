package history

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Coalescer merges the batches of concurrent writers (one per partition) into one write
// per interval. ClickHouse pays a fixed cost for every part an INSERT creates (about
// 20 ms on 18.16), so twelve partitions each writing every 100 ms would keep it busy;
// merged, they cost a few inserts per second. Write still returns only when the rows are
// durable, so callers commit offsets exactly as with the wrapped Writer.
type Coalescer struct {
	next     Writer
	interval time.Duration
	maxRows  int

	// writing keeps merged writes one at a time: overlapping inserts only made
	// ClickHouse create more parts to merge.
	writing sync.Mutex

	mu      sync.Mutex
	pending []*coalesced
	rows    int
	timer   *time.Timer
}

type coalesced struct {
	batch Batch
	done  chan error
}

// NewCoalescer writes through next at most every interval (default 200ms), sooner when
// maxRows (default 50000) are waiting.
func NewCoalescer(next Writer, interval time.Duration, maxRows int) *Coalescer {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	if maxRows <= 0 {
		maxRows = 50000
	}
	return &Coalescer{next: next, interval: interval, maxRows: maxRows}
}

// Write queues b for the next merged write and waits for its outcome.
func (c *Coalescer) Write(ctx context.Context, b Batch) error {
	if b.Len() == 0 {
		return nil
	}
	req := &coalesced{batch: b, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, req)
	c.rows += b.Len()
	switch {
	case c.rows >= c.maxRows:
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
		go c.flush()
	case c.timer == nil:
		c.timer = time.AfterFunc(c.interval, c.flush)
	}
	c.mu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The merged write may still succeed; the caller retries and the rows are
		// idempotent, so giving up here loses nothing.
		return ctx.Err()
	}
}

func (c *Coalescer) flush() {
	c.mu.Lock()
	reqs := c.pending
	c.pending, c.rows, c.timer = nil, 0, nil
	c.mu.Unlock()
	if len(reqs) == 0 {
		return
	}
	var merged Batch
	for _, r := range reqs {
		merged.Append(r.batch)
	}
	// Bounded independently of any one caller: a caller that gave up must not cancel
	// the others' rows.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c.writing.Lock()
	err := c.next.Write(ctx, merged)
	c.writing.Unlock()
	cancel()
	if err != nil {
		err = errors.Join(errors.New("writing merged batch"), err)
	}
	for _, r := range reqs {
		r.done <- err
	}
}
