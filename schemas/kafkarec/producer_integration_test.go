//go:build integration

package kafkarec_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// publishConcurrently publishes one record of size bytes per key at once and returns
// each Publish's error.
func publishConcurrently(p *kafkarec.Producer, keys []string, size int) []error {
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			errs[i] = p.Publish(ctx, kafka.Message{Key: []byte(key), Value: bytes.Repeat([]byte{'x'}, size)})
		})
	}
	wg.Wait()
	return errs
}

// Records gathered while a request is out never make a partition's batch larger than
// a topic with Kafka's default record limit (about 1 MiB) takes: 40 concurrent 100 KB
// records to one partition, and one call of 30 such records, are all stored, in order.
func TestProducerKeepsBatchesWithinTheRecordLimit(t *testing.T) {
	t.Parallel()
	topic := testenv.Topic(t, 1)
	p := kafkarec.NewProducer(testenv.KafkaBrokers(t), topic, 1)
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = "check-" + strconv.Itoa(i)
	}
	for i, err := range publishConcurrently(p, keys, 100_000) {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	one := make([]kafka.Message, 30)
	for i := range one {
		one[i] = kafka.Message{Key: []byte("registry"), Value: append([]byte(strconv.Itoa(i)+":"), bytes.Repeat([]byte{'y'}, 100_000)...)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Publish(ctx, one...); err != nil {
		t.Fatalf("one call of 3 MB: %v", err)
	}
	stored := testenv.ReadAll(t, topic)
	if len(stored) != len(keys)+len(one) {
		t.Fatalf("%d records stored, want %d", len(stored), len(keys)+len(one))
	}
	for i, m := range stored[len(keys):] {
		if !bytes.HasPrefix(m.Value, []byte(strconv.Itoa(i)+":")) {
			t.Fatalf("record %d of the one call is out of order: %.8q", i, m.Value)
		}
	}
}

// A record larger than the topic takes fails on its own: the small records published
// beside it are stored. A topic whose limit is raised stores it.
func TestProducerRecordOverTheLimitFailsAlone(t *testing.T) {
	t.Parallel()
	small := testenv.Topic(t, 1)
	p := kafkarec.NewProducer(testenv.KafkaBrokers(t), small, 1)
	var wg sync.WaitGroup
	var bigErr error
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bigErr = p.Publish(ctx, kafka.Message{Key: []byte("big"), Value: bytes.Repeat([]byte{'z'}, 1_500_000)})
	})
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = "small-" + strconv.Itoa(i)
	}
	for i, err := range publishConcurrently(p, keys, 1000) {
		if err != nil {
			t.Errorf("small record %d beside the large one: %v", i, err)
		}
	}
	wg.Wait()
	if !errors.Is(bigErr, kafka.MessageSizeTooLarge) {
		t.Errorf("a 1.5 MB record to a 1 MiB topic: %v, want MessageSizeTooLarge", bigErr)
	}

	large := testenv.Topic(t, 1, kafka.ConfigEntry{ConfigName: "max.message.bytes", ConfigValue: "3000000"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkarec.NewProducer(testenv.KafkaBrokers(t), large, 1).Publish(ctx, kafka.Message{Key: []byte("big"), Value: bytes.Repeat([]byte{'z'}, 1_500_000)}); err != nil {
		t.Errorf("a 1.5 MB record to a topic taking 3 MB: %v", err)
	}
}

// spacedProducer returns a producer with spacing to a new topic of one partition, and
// a context for its calls.
func spacedProducer(t *testing.T, spacing time.Duration) (*kafkarec.Producer, context.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return kafkarec.NewProducer(testenv.KafkaBrokers(t), testenv.Topic(t, 1), 1).WithSpacing(spacing), ctx
}

// A producer with a spacing starts its requests at least that far apart, so records
// published meanwhile share a request: 40 records published 25 ms apart go in about
// one request per spacing, where without it each went alone.
func TestProducerSpacedRequestsGatherRecords(t *testing.T) {
	t.Parallel()
	const spacing = 200 * time.Millisecond
	p, ctx := spacedProducer(t, spacing)
	errs := make([]error, 40)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range errs {
		wg.Go(func() { errs[i] = p.Publish(ctx, kafka.Message{Key: []byte("check"), Value: []byte(strconv.Itoa(i))}) })
		time.Sleep(25 * time.Millisecond)
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	requests, records := p.Sent()
	if records != uint64(len(errs)) {
		t.Fatalf("%d records sent, want %d", records, len(errs))
	}
	if most := uint64(took/spacing) + 2; requests > most {
		t.Errorf("%d requests for %d records over %v, want at most %d", requests, records, took, most)
	}
}

// The spacing delays only a record published before it has passed since the last
// request started: the first record leaves at once, the one right after it waits.
func TestProducerSpacingDelaysOnlyWhatFollowsARequest(t *testing.T) {
	t.Parallel()
	const spacing = 4 * time.Second
	p, ctx := spacedProducer(t, spacing)
	start := time.Now()
	if err := p.Publish(ctx, kafka.Message{Key: []byte("check"), Value: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	if first := time.Since(start); first >= spacing/2 {
		t.Errorf("the first record took %v: it waited for the spacing of %v", first, spacing)
	}
	if err := p.Publish(ctx, kafka.Message{Key: []byte("check"), Value: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	if both := time.Since(start); both < spacing {
		t.Errorf("the second record was acknowledged %v after the first was published, within the spacing of %v", both, spacing)
	}
	if requests, _ := p.Sent(); requests != 2 {
		t.Errorf("%d requests, want 2", requests)
	}
}
