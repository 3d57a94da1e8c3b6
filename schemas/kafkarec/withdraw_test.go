package kafkarec

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	metadataapi "github.com/segmentio/kafka-go/protocol/metadata"
	produceapi "github.com/segmentio/kafka-go/protocol/produce"
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

// heldBroker is a one-partition broker whose metadata answer waits for release, and
// which keeps every record value produced to it.
type heldBroker struct {
	release  chan struct{}
	mu       sync.Mutex
	produced []string
}

func (b *heldBroker) RoundTrip(_ context.Context, _ net.Addr, req protocol.Message) (protocol.Message, error) {
	switch r := req.(type) {
	case *metadataapi.Request:
		<-b.release
		return &metadataapi.Response{
			Brokers: []metadataapi.ResponseBroker{{NodeID: 1, Host: "127.0.0.1", Port: 9}},
			Topics: []metadataapi.ResponseTopic{{Name: "events", Partitions: []metadataapi.ResponsePartition{
				{PartitionIndex: 0, LeaderID: 1, ReplicaNodes: []int32{1}, IsrNodes: []int32{1}}}}},
		}, nil
	case *produceapi.Request:
		var out produceapi.Response
		for _, topic := range r.Topics {
			answer := produceapi.ResponseTopic{Topic: topic.Topic}
			for _, partition := range topic.Partitions {
				for {
					rec, err := partition.RecordSet.Records.ReadRecord()
					if err != nil {
						break
					}
					value, _ := io.ReadAll(rec.Value)
					b.mu.Lock()
					b.produced = append(b.produced, string(value))
					b.mu.Unlock()
				}
				answer.Partitions = append(answer.Partitions, produceapi.ResponsePartition{Partition: partition.Partition})
			}
			out.Topics = append(out.Topics, answer)
		}
		return &out, nil
	}
	return nil, errors.New("unexpected request")
}

// A record taken for sending while the producer still reads the partition leaders, and
// abandoned by its caller meanwhile, is not sent once the leaders are known; a record
// still waited for is.
func TestRecordsAbandonedWhileLeadersAreReadAreNotSent(t *testing.T) {
	broker := &heldBroker{release: make(chan struct{})}
	p := NewProducer([]string{"127.0.0.1:9"}, "events", 1)
	p.client.Transport = broker
	abandoned := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		abandoned <- p.Publish(ctx, kafka.Message{Key: []byte("a"), Value: []byte("abandoned")})
	}()
	waitUntil(t, "the first record was not taken for sending", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.inFlight == 1 && len(p.pending) == 0
	})
	waited := make(chan error, 1)
	go func() {
		waited <- p.Publish(context.Background(), kafka.Message{Key: []byte("b"), Value: []byte("waited for")})
	}()
	if err := <-abandoned; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish while the leaders are read: %v, want the deadline", err)
	}
	close(broker.release)
	if err := <-waited; err != nil {
		t.Fatalf("the record still waited for: %v", err)
	}
	_ = p.Close()
	broker.mu.Lock()
	defer broker.mu.Unlock()
	if len(broker.produced) != 1 || broker.produced[0] != "waited for" {
		t.Errorf("produced %q, want only the record still waited for", broker.produced)
	}
}
