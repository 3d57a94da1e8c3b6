package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Pings arriving within a step share one context, and every context ends within the
// timeout of its pings' arrival and at most a step earlier.
func TestSharedDeadlinesEndWithinTheTimeout(t *testing.T) {
	const timeout = 2 * time.Second
	d := newSharedDeadlines(timeout)
	if d.step != maxDeadlineStep {
		t.Fatalf("step %v for a %v timeout, want %v", d.step, timeout, maxDeadlineStep)
	}
	base := time.Now().Truncate(time.Second)
	first := d.after(base)
	if again := d.after(base.Add(maxDeadlineStep - time.Nanosecond)); again != first {
		t.Error("two pings within a step got contexts of their own")
	}
	for _, offset := range []time.Duration{0, time.Nanosecond, 50 * time.Millisecond, maxDeadlineStep - time.Nanosecond, maxDeadlineStep, 3*maxDeadlineStep + 7*time.Millisecond} {
		now := base.Add(offset)
		end, ok := d.after(now).Deadline()
		if !ok {
			t.Fatalf("ping at +%v: a context without a deadline", offset)
		}
		if wait := end.Sub(now); wait > timeout || wait <= timeout-d.step {
			t.Errorf("ping at +%v waits %v, want more than %v and at most %v", offset, wait, timeout-d.step, timeout)
		}
	}
	if next := d.after(base.Add(maxDeadlineStep)); next == first {
		t.Error("a ping a step later shares the first step's context")
	}
}

// Short timeouts get steps to match: a timeout of a microsecond still answers at once.
func TestSharedDeadlinesOfShortTimeouts(t *testing.T) {
	for _, timeout := range []time.Duration{time.Nanosecond, time.Microsecond, 10 * time.Millisecond} {
		d := newSharedDeadlines(timeout)
		now := time.Now()
		end, _ := d.after(now).Deadline()
		if wait := end.Sub(now); wait > timeout || wait <= timeout-d.step {
			t.Errorf("timeout %v: waits %v with step %v", timeout, wait, d.step)
		}
	}
}

// blockingPublisher never acknowledges: it returns when the caller stops waiting.
type blockingPublisher struct{}

func (blockingPublisher) Publish(ctx context.Context, _ ...kafka.Message) error {
	<-ctx.Done()
	return ctx.Err()
}

// A ping Kafka does not acknowledge is answered 503, and no sooner than a step before
// the publish timeout (that it is not later is the deadlines' test above: a timer may
// fire late on a busy machine).
func TestPingUnacknowledgedIsRefusedWithinTheTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := New(Config{PublishTimeout: timeout}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, defaultLookup(), blockingPublisher{}, time.Now).Handler("/ping/")
	for range 3 {
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/ping/"+checkID.String(), nil))
		took := time.Since(start)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("unacknowledged ping answered %d", rec.Code)
		}
		// The timer may fire late on a busy machine; it cannot fire early.
		if least := timeout - timeout/20; took < least {
			t.Errorf("503 after %v, want at least %v", took, least)
		}
	}
}
