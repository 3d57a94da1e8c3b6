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
	// due is when timer fires; started is when the last merged write began.
	due, started time.Time
}

type coalesced struct {
	batches []Batch
	rows    int
	done    chan error
}

// NewCoalescer writes through next at most every interval (default 1s), sooner when
// maxRows (default 50000) are waiting.
func NewCoalescer(next Writer, interval time.Duration, maxRows int) *Coalescer {
	if interval <= 0 {
		interval = time.Second
	}
	if maxRows <= 0 {
		maxRows = 50000
	}
	return &Coalescer{next: next, interval: interval, maxRows: maxRows}
}

// Write queues the batches for the next merged write and waits for its outcome.
func (c *Coalescer) Write(ctx context.Context, batches ...Batch) error {
	return c.write(ctx, c.interval, batches)
}

// WriteSoon is Write for batches someone waits for, such as an API call that returns
// once its check is stored: the merged write starts soonGap after the last one started
// rather than a whole interval after the first batch queued. Writes still go one at a
// time and soonGap apart, so a burst of these cannot flood ClickHouse with inserts.
func (c *Coalescer) WriteSoon(ctx context.Context, batches ...Batch) error {
	return c.write(ctx, min(soonGap, c.interval), batches)
}

// Hasten brings a merged write that waits out the interval forward to what WriteSoon
// would have set: someone waits for a record whose batch may be queued behind one of
// its partition's batches waiting here.
func (c *Coalescer) Hasten() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if due := c.started.Add(min(soonGap, c.interval)); c.timer != nil && due.Before(c.due) {
		c.schedule(due)
	}
}

// soonGap is the least time between the starts of two merged writes that WriteSoon
// hastens: at most twenty inserts a second per table.
const soonGap = 50 * time.Millisecond

// write queues the batches for a merged write starting at most delay after the last
// one started, and waits for its outcome.
func (c *Coalescer) write(ctx context.Context, delay time.Duration, batches []Batch) error {
	rows := RowCount(batches, (*Batch).Len)
	if rows == 0 {
		return nil
	}
	req := &coalesced{batches: batches, rows: rows, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, req)
	c.rows += rows
	now := time.Now()
	due := now.Add(delay)
	if delay < c.interval {
		due = c.started.Add(delay)
	}
	switch {
	case c.rows >= c.maxRows:
		c.schedule(now)
	case c.timer == nil || due.Before(c.due):
		c.schedule(due)
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

// schedule sets the next merged write for at, replacing the one set; c.mu is held.
func (c *Coalescer) schedule(at time.Time) {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer, c.due = time.AfterFunc(max(time.Until(at), 0), c.flush), at
}

func (c *Coalescer) flush() {
	// Writes go one at a time, and each takes what is pending when its turn comes, so
	// batches that arrived during a slow write join the next one instead of queueing
	// as writes of their own.
	c.writing.Lock()
	defer c.writing.Unlock()
	c.mu.Lock()
	n, rows := 0, 0
	batches := 0
	for n < len(c.pending) && (n == 0 || rows+c.pending[n].rows <= c.maxRows) {
		rows += c.pending[n].rows
		batches += len(c.pending[n].batches)
		n++
	}
	reqs := c.pending[:n:n]
	c.pending, c.rows, c.timer = c.pending[n:], c.rows-rows, nil
	if n > 0 {
		c.started = time.Now()
	}
	if len(c.pending) > 0 {
		// More than one write's worth was waiting: the rest goes next.
		c.schedule(time.Now())
	}
	c.mu.Unlock()
	if len(reqs) == 0 {
		return
	}
	merged := make([]Batch, 0, batches)
	for _, r := range reqs {
		merged = append(merged, r.batches...)
	}
	// Bounded independently of any one caller (a caller that gave up must not cancel
	// the others' rows), from when it is this write's turn.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := c.next.Write(ctx, merged...)
	cancel()
	if err != nil {
		err = errors.Join(errors.New("writing merged batch"), err)
	}
	for _, r := range reqs {
		r.done <- err
	}
}
