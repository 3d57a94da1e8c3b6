package projector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// fetcher reads one partition from its leader, one fetch request at a time, and
// reconnects on its own after errors.
//
// It replaces kafka-go's Reader, which derives the broker's wait from its own socket
// deadline and so left an answer 12.5 ms of slack at a 50 ms wait. On a busy machine
// answers came later than that several times a second; each was taken for a broken
// connection and cost a reconnect plus 100 ms of backoff, which was the tail of a
// ping's way to the API. Here the broker is told how long to wait, and the answer is
// given fetchSlack on top. Reading the partition's records in the folding goroutine
// also saves the Reader's goroutine hand-off and socket deadline per record.
type fetcher struct {
	brokers   []string
	topic     string
	partition int
	minBytes  int
	maxBytes  int
	log       *slog.Logger

	conn  *kafka.Conn
	batch *kafka.Batch
	// offset is the next record to return; highWater the partition end the last
	// fetch reported.
	offset    int64
	highWater int64
	// fetched is set once a fetch has answered, so that highWater is known.
	fetched bool
	// failures counts reconnects since the last fetch read to its end; retryAt is
	// when the next may be tried.
	failures int
	retryAt  time.Time
}

// fetchSlack is how much longer than the broker's wait an answer may take before the
// connection is given up.
const fetchSlack = 10 * time.Second

func newFetcher(brokers []string, topic string, partition int, offset int64, minBytes, maxBytes int, log *slog.Logger) *fetcher {
	return &fetcher{brokers: brokers, topic: topic, partition: partition, offset: offset, minBytes: minBytes, maxBytes: maxBytes, log: log}
}

// next returns the partition's next record. When the last fetch is used up it sends
// another, which the broker answers once minBytes are there or after wait. ok is false
// at the end of each fetch and after a failed one, so the caller can look at its clock;
// failures are retried by the next calls, with backoff, and only ctx's error is
// returned.
func (f *fetcher) next(ctx context.Context, wait time.Duration) (msg kafka.Message, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return kafka.Message{}, false, err
	}
	if f.batch == nil {
		if backoff := time.Until(f.retryAt); backoff > 0 {
			sleep(ctx, min(backoff, wait))
			return kafka.Message{}, false, ctx.Err()
		}
		if err := f.fetch(ctx, wait); err != nil {
			if ctx.Err() != nil {
				return kafka.Message{}, false, ctx.Err()
			}
			f.fail(err)
			return kafka.Message{}, false, nil
		}
	}
	msg, err = f.batch.ReadMessage()
	if err == nil {
		f.offset = msg.Offset + 1
		return msg, true, nil
	}
	closeErr := f.batch.Close()
	f.batch = nil
	switch {
	case ctx.Err() != nil:
		f.disconnect()
		return kafka.Message{}, false, ctx.Err()
	case errors.Is(err, io.EOF) && closeErr == nil, errors.Is(err, kafka.RequestTimedOut):
		// The fetch was read to its end, or the broker's wait passed with nothing new.
		f.failures = 0
	case errors.Is(err, kafka.OffsetOutOfRange):
		f.skipToRetained(ctx)
	default:
		f.fail(errors.Join(err, closeErr))
	}
	return kafka.Message{}, false, nil
}

// buffered reports whether the last fetch may still hold records, so that next needs
// no request to the broker.
func (f *fetcher) buffered() bool { return f.batch != nil }

// lag is how many records the last fetch reported after the next one.
func (f *fetcher) lag() int64 { return max(f.highWater-f.offset, 0) }

// caughtUp reports whether every record up to the partition end the last fetch
// reported has been returned.
func (f *fetcher) caughtUp() bool { return f.fetched && f.batch == nil && f.offset >= f.highWater }

// fetch sends one fetch request from f.offset.
func (f *fetcher) fetch(ctx context.Context, wait time.Duration) error {
	if f.conn == nil {
		conn, err := f.dial(ctx)
		if err != nil {
			return err
		}
		f.conn = conn
	}
	if f.offset < 0 {
		// A partition without a committed offset starts at its first record.
		first, err := f.conn.ReadFirstOffset()
		if err != nil {
			f.disconnect()
			return err
		}
		f.offset = first
	}
	if _, err := f.conn.Seek(f.offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
		f.disconnect()
		return err
	}
	// The whole batch is read under one deadline. ctx ending (shutdown, a rebalance)
	// cuts the wait for the answer short, and the connection with it.
	_ = f.conn.SetReadDeadline(time.Now().Add(wait + fetchSlack))
	conn := f.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	f.batch = f.conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: f.minBytes, MaxBytes: f.maxBytes, MaxWait: max(wait, time.Millisecond)})
	stop()
	f.highWater = f.batch.HighWaterMark()
	f.fetched = true
	return nil
}

// dial connects to the partition's leader through the first broker that answers.
func (f *fetcher) dial(ctx context.Context) (*kafka.Conn, error) {
	dialer := &kafka.Dialer{Timeout: 5 * time.Second}
	var errs []error
	for _, broker := range f.brokers {
		conn, err := dialer.DialLeader(ctx, "tcp", broker, f.topic, f.partition)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("dialing the leader of partition %d: %w", f.partition, errors.Join(errs...))
}

// fail drops the connection and puts off the next attempt, longer after each.
func (f *fetcher) fail(err error) {
	f.disconnect()
	f.failures++
	f.retryAt = time.Now().Add(min(time.Duration(f.failures)*100*time.Millisecond, maxRetryBackoff))
	f.log.Warn("reading partition, reconnecting", "offset", f.offset, "attempt", f.failures, "err", err)
}

// skipToRetained moves past records the topic's retention already deleted: they are
// lost to every reader, and waiting would stop the partition for good.
func (f *fetcher) skipToRetained(ctx context.Context) {
	// A refused fetch leaves the rest of its answer unread on the connection, and every
	// later read on it fails, so the partition's offsets are asked on a fresh one.
	f.disconnect()
	conn, err := f.dial(ctx)
	if err != nil {
		f.fail(err)
		return
	}
	f.conn = conn
	first, last, err := conn.ReadOffsets()
	switch {
	case err != nil:
		f.fail(fmt.Errorf("reading partition offsets: %w", err))
	case f.offset < first:
		f.log.Error("records deleted by retention before they were folded; skipping them", "offset", f.offset, "first", first, "count", first-f.offset)
		f.offset = first
	case f.offset > last:
		f.log.Error("offset past the partition end; waiting for it", "offset", f.offset, "last", last)
		f.retryAt = time.Now().Add(maxRetryBackoff)
	}
}

func (f *fetcher) disconnect() {
	if f.batch != nil {
		_ = f.batch.Close()
		f.batch = nil
	}
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
	}
}
