package ingest

import (
	"sync"
	"time"
)

// publishFailureLogInterval is the least time between two log lines about pings Kafka
// did not take. During an outage every ping fails, and a line each would flood the log
// at the ping rate; hcstream_ingest_pings_total{code="503"} counts every one.
const publishFailureLogInterval = 10 * time.Second

// logThrottle lets one log line through per interval and counts those it holds back.
type logThrottle struct {
	every time.Duration
	mu    sync.Mutex
	next  time.Time
	held  int
}

// pass reports whether a line may be logged at now, and how many were held back since
// the last one that was.
func (t *logThrottle) pass(now time.Time) (ok bool, held int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.next) {
		t.held++
		return false, 0
	}
	held, t.held = t.held, 0
	t.next = now.Add(t.every)
	return true, held
}
