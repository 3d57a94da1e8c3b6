// Package logthrottle keeps a failure that repeats with every request (Kafka or
// ClickHouse down) from flooding the log: one line per interval, with a count of the
// lines left out. The metrics still count every failure.
package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Interval is the least time between two log lines about one repeating failure.
const Interval = 10 * time.Second

// Throttle lets one log line through per Interval. Its zero value is ready to use.
type Throttle struct {
	mu   sync.Mutex
	next time.Time
	held int
}

// pass reports whether a line may be logged at now, and how many were held back since
// the last one that was.
func (t *Throttle) pass(now time.Time) (ok bool, held int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.next) {
		t.held++
		return false, 0
	}
	held, t.held = t.held, 0
	t.next = now.Add(Interval)
	return true, held
}

// Log writes the line to logger when the throttle lets it pass at now, with
// not_logged counting the lines held back since the last one written.
func (t *Throttle) Log(ctx context.Context, logger *slog.Logger, now time.Time, level slog.Level, msg string, args ...any) {
	if ok, held := t.pass(now); ok {
		logger.Log(ctx, level, msg, append(args, "not_logged", held)...)
	}
}
