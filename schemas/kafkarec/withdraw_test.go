package kafkarec

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// A record whose caller stopped waiting before it was sent is never sent: the caller
// answers 503, and a client retrying that must not leave two pings behind.
func TestAbandonedRecordsAreNotSent(t *testing.T) {
	// A broker that accepts connections and never answers holds the first request.
	broker, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	go func() {
		for {
			conn, err := broker.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	p := NewProducer([]string{broker.Addr().String()}, "events", 1)
	p.client.Timeout = time.Minute
	first, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()
	go func() { _ = p.Publish(first, kafka.Message{Key: []byte("a"), Value: []byte("first")}) }()
	waitUntil(t, "the first record was not taken for sending", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.inFlight == 1 && len(p.pending) == 0
	})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Publish(ctx, kafka.Message{Key: []byte("b"), Value: []byte("second")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish behind a held request: %v, want the deadline", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) != 0 {
		t.Errorf("%d abandoned calls still wait to be sent", len(p.pending))
	}
}

// Calls deferred from a request and abandoned meanwhile are not put back.
func TestAbandonedDeferredCallsAreNotPutBack(t *testing.T) {
	p := NewProducer([]string{"127.0.0.1:1"}, "events", 1)
	kept, dropped := &produceCall{}, &produceCall{abandoned: true}
	p.putBack([]*produceCall{{}, kept, dropped}, []bool{false, true, true})
	if len(p.pending) != 1 || p.pending[0] != kept {
		t.Errorf("pending %v, want only the call still waited for", p.pending)
	}
}

func waitUntil(t *testing.T, failure string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
	}
}
