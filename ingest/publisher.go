package ingest

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// NewKafkaWriter returns the writer every ping goes through: acks from all in-sync
// replicas, a short batch timeout so synchronous writes from concurrent requests share
// batches, the Java-compatible partitioner, and a transport of its own (a shared one
// keeps stale metadata after a broker restart).
func NewKafkaWriter(brokers []string, topic string, batchTimeout time.Duration) *kafka.Writer {
	if batchTimeout <= 0 {
		batchTimeout = 2 * time.Millisecond
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     kafkarec.Balancer(),
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: batchTimeout,
		BatchSize:    1000,
		BatchBytes:   16 << 20,
		MaxAttempts:  3,
		WriteTimeout: 5 * time.Second,
		ReadTimeout:  5 * time.Second,
		Transport:    &kafka.Transport{DialTimeout: 2 * time.Second, MetadataTTL: 5 * time.Second},
	}
}

// KafkaPublisher publishes ping records synchronously.
type KafkaPublisher struct{ w *kafka.Writer }

// NewKafkaPublisher wraps a writer from NewKafkaWriter.
func NewKafkaPublisher(w *kafka.Writer) *KafkaPublisher { return &KafkaPublisher{w: w} }

// Publish returns nil only once the broker acknowledged every record.
func (p *KafkaPublisher) Publish(ctx context.Context, msgs ...kafka.Message) error {
	return p.w.WriteMessages(ctx, msgs...)
}

// Close flushes and closes the writer.
func (p *KafkaPublisher) Close() error { return p.w.Close() }
