package query

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// KafkaAppender appends single events and reports their offsets, which the API uses to
// wait until the projector has folded its own write (read-your-writes).
type KafkaAppender struct {
	client *kafka.Client
	topic  string

	mu         sync.Mutex
	partitions int
}

// NewKafkaAppender appends to topic through its own transport.
func NewKafkaAppender(brokers []string, topic string) *KafkaAppender {
	return &KafkaAppender{
		client: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second, Transport: &kafka.Transport{DialTimeout: 2 * time.Second}},
		topic:  topic,
	}
}

// Append writes ev with acks=all and returns its version: the offset plus one, the value
// the projector stores in the rows the event produced.
func (a *KafkaAppender) Append(ctx context.Context, ev schemas.Event) (uint64, error) {
	n, err := a.partitionCount(ctx)
	if err != nil {
		return 0, err
	}
	msg, err := kafkarec.Message(ev)
	if err != nil {
		return 0, err
	}
	// The API waits for every write it appends.
	msg = kafkarec.Awaited(msg)
	resp, err := a.client.Produce(ctx, &kafka.ProduceRequest{
		Topic: a.topic, Partition: kafkarec.Partition(msg.Key, n), RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Key: kafka.NewBytes(msg.Key), Value: kafka.NewBytes(msg.Value), Headers: msg.Headers}),
	})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		a.forgetPartitions()
		return 0, fmt.Errorf("appending %s: %w", ev.Body.Type(), err)
	}
	return uint64(resp.BaseOffset) + 1, nil
}

func (a *KafkaAppender) partitionCount(ctx context.Context) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.partitions > 0 {
		return a.partitions, nil
	}
	meta, err := a.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{a.topic}})
	if err != nil {
		return 0, fmt.Errorf("reading metadata of %s: %w", a.topic, err)
	}
	for _, t := range meta.Topics {
		if t.Name == a.topic && t.Error == nil && len(t.Partitions) > 0 {
			a.partitions = len(t.Partitions)
			return a.partitions, nil
		}
	}
	return 0, fmt.Errorf("topic %s has no partitions (run `hcstream migrate`)", a.topic)
}

func (a *KafkaAppender) forgetPartitions() {
	a.mu.Lock()
	a.partitions = 0
	a.mu.Unlock()
}
