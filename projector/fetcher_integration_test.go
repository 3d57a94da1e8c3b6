//go:build integration

package projector

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// The fetcher reads a partition in order from a start without a committed offset, and
// an idle partition answers "nothing yet" within the wait: neither is a failure that
// costs a reconnect.
func TestFetcherReadsInOrderAndIdlesWithoutReconnecting(t *testing.T) {
	const records = 500
	topic := testenv.Topic(t, 1)
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	appendNumbered(ctx, t, brokers, topic, records)

	var logs bytes.Buffer
	f := newFetcher(brokers, topic, 0, kafka.FirstOffset, 1, 1<<20, slog.New(slog.NewTextHandler(&logs, nil)))
	defer f.disconnect()
	for want := 0; want < records; {
		msg, ok, err := f.next(ctx, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("after %d records: %v", want, err)
		}
		if !ok {
			continue
		}
		if msg.Offset != int64(want) || string(msg.Value) != strconv.Itoa(want) {
			t.Fatalf("record %d: offset %d, value %q", want, msg.Offset, msg.Value)
		}
		want++
	}
	if f.lag() != 0 {
		t.Errorf("lag %d after reading every record", f.lag())
	}
	for range 5 {
		start := time.Now()
		msg, ok, err := f.next(ctx, 50*time.Millisecond)
		if ok || err != nil {
			t.Fatalf("idle partition: record at %d, ok %v, err %v", msg.Offset, ok, err)
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Fatalf("idle fetch took %v, the broker was asked to wait 50ms", waited)
		}
	}
	if strings.Contains(logs.String(), "reconnecting") {
		t.Errorf("reading and idling reconnected:\n%s", logs.String())
	}

	canceled, stop := context.WithCancel(ctx)
	stop()
	if _, _, err := f.next(canceled, time.Second); err != context.Canceled {
		t.Errorf("next with an ended context: %v, want context.Canceled", err)
	}
}

// A committed offset whose records retention deleted before they were folded cannot
// be read: the fetcher says so in the log and goes on from the first record left.
func TestFetcherSkipsRecordsRetentionDeleted(t *testing.T) {
	topic := testenv.Topic(t, 1)
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const records = 10
	appendNumbered(ctx, t, brokers, topic, records)
	testenv.DeleteRecords(t, topic, 0, 6)

	var logs bytes.Buffer
	f := newFetcher(brokers, topic, 0, 2, 1, 1<<20, slog.New(slog.NewTextHandler(&logs, nil)))
	defer f.disconnect()
	for want := 6; want < records; {
		msg, ok, err := f.next(ctx, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("reading from offset 2 of a log starting at 6: %v\n%s", err, logs.String())
		}
		if !ok {
			continue
		}
		if msg.Offset != int64(want) || string(msg.Value) != strconv.Itoa(want) {
			t.Fatalf("read offset %d (%q), want %d", msg.Offset, msg.Value, want)
		}
		want++
	}
	if !strings.Contains(logs.String(), "deleted by retention") || !strings.Contains(logs.String(), "count=4") {
		t.Errorf("the skip of offsets 2-5 was not logged:\n%s", logs.String())
	}
}

// appendNumbered appends records 0 to n-1 to the topic's first partition, each valued
// its own number.
func appendNumbered(ctx context.Context, t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	batch := make([]kafka.Record, n)
	for i := range batch {
		batch[i] = kafka.Record{Value: kafka.NewBytes([]byte(strconv.Itoa(i)))}
	}
	testenv.Produce(ctx, t, client, topic, 0, batch...)
}

// An offset past the partition's end (a log cut back by an unclean leader election)
// is logged and waited for, not turned into a reconnect loop, and read once it exists.
func TestFetcherWaitsForAnOffsetPastTheEnd(t *testing.T) {
	topic := testenv.Topic(t, 1)
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	appendNumbered(ctx, t, brokers, topic, 5)

	var logs bytes.Buffer
	f := newFetcher(brokers, topic, 0, 8, 1, 1<<20, slog.New(slog.NewTextHandler(&logs, nil)))
	defer f.disconnect()
	for range 3 {
		if msg, ok, err := f.next(ctx, 50*time.Millisecond); ok || err != nil {
			t.Fatalf("offset 8 of a log ending at 5: record at %d, ok %v, err %v", msg.Offset, ok, err)
		}
	}
	if !strings.Contains(logs.String(), "past the partition end") || strings.Contains(logs.String(), "reconnecting") {
		t.Errorf("the missing offset was not logged as such, or made the fetcher reconnect:\n%s", logs.String())
	}
	appendNumbered(ctx, t, brokers, topic, 5) // offsets 5-9, valued 0-4
	for {
		msg, ok, err := f.next(ctx, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("waiting for offset 8: %v\n%s", err, logs.String())
		}
		if ok {
			if msg.Offset != 8 || string(msg.Value) != "3" {
				t.Fatalf("first record read at offset %d (%q), want 8", msg.Offset, msg.Value)
			}
			return
		}
	}
}
