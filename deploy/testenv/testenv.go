// Package testenv gives integration tests isolated resources on the local stack that
// deploy/local/up.sh starts: a unique Kafka topic and a unique, migrated ClickHouse
// database per test, removed afterwards.
//
// A test that asks for the stack when HC_TEST_KAFKA or HC_TEST_CLICKHOUSE is unset, or
// when the stack does not answer, fails: a skipped integration test cannot fail. Only
// tests import this package.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	chschema "github.com/hcstream/hcstream/schemas/clickhouse"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

func setting(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: start the stack with `make up` (deploy/local/up.sh) and `source .local/test.env`, or run `make test`", name)
	}
	return v
}

// KafkaBrokers returns the test broker addresses.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	return strings.Split(setting(t, "HC_TEST_KAFKA"), ",")
}

// ClickHouseAddr returns the test ClickHouse native address.
func ClickHouseAddr(t testing.TB) string {
	t.Helper()
	return setting(t, "HC_TEST_CLICKHOUSE")
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// UniqueName returns a name derived from the test's name with a random suffix, usable as
// a topic, consumer group or database name.
func UniqueName(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "_"))
	if len(base) > 40 {
		base = base[:40]
	}
	return "t_" + base + "_" + hex.EncodeToString(b[:])
}

// Topic creates a unique topic with the given partitions and deletes it after the test.
func Topic(t testing.TB, partitions int, configs ...kafka.ConfigEntry) string {
	t.Helper()
	brokers := KafkaBrokers(t)
	topic := UniqueName(t)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs},
	}})
	if err != nil {
		t.Fatalf("creating topic %s on %v (is the stack up?): %v", topic, brokers, err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	})
	return topic
}

// Produce appends records to one partition of topic with acks=all and returns the
// broker's answer. A topic created a moment ago may not be led yet by the broker that
// answers (its metadata lags the controller's): records refused before they were
// appended are sent again, for up to 10 s.
func Produce(ctx context.Context, t testing.TB, client *kafka.Client, topic string, partition int, records ...kafka.Record) *kafka.ProduceResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		resp, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: topic, Partition: partition, RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(records...)})
		if err == nil {
			err = resp.Error
		}
		if err == nil {
			return resp
		}
		if !kafkarec.NotAppended(err) || ctx.Err() != nil {
			t.Fatalf("appending %d records to %s/%d: %v", len(records), topic, partition, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ClickHouseConn opens a connection pool to the test server.
func ClickHouseConn(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{ClickHouseAddr(t)}, Protocol: clickhouse.Native,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout: 2 * time.Second, ReadTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatalf("opening ClickHouse: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("ClickHouse at %s does not answer (is the stack up?): %v", ClickHouseAddr(t), err)
	}
	return conn
}

// ClickHouse creates a unique database with every migration applied and drops it after
// the test. It returns the connection and the database name.
func ClickHouse(t testing.TB) (driver.Conn, string) {
	t.Helper()
	conn := ClickHouseConn(t)
	database := UniqueName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := chschema.Migrate(ctx, conn, database); err != nil {
		t.Fatalf("migrating %s: %v", database, err)
	}
	t.Cleanup(func() { DropDatabase(t, conn, database) })
	return conn, database
}

// DropDatabase removes a test database, retrying while the server restarts. With
// HC_TEST_KEEP_DATABASES set, it keeps the database instead: `make test` keeps them
// until `make test-current-clickhouse` has copied their rows to current ClickHouse,
// which then drops them.
func DropDatabase(t testing.TB, conn driver.Conn, database string) {
	t.Helper()
	if os.Getenv("HC_TEST_KEEP_DATABASES") != "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database)
		if err == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			if err != nil {
				t.Logf("dropping %s: %v", database, err)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Eventually polls cond until it holds or the timeout passes, then fails with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // polling interval of a deadline-bounded wait
	}
}

// DeleteTopicsAfter deletes topics that the code under test created, after the test.
func DeleteTopicsAfter(t testing.TB, topics ...string) {
	t.Helper()
	DeleteTopicsAfterOn(t, KafkaBrokers(t), topics...)
}

// DeleteTopicsAfterOn is DeleteTopicsAfter on other brokers than the test broker.
func DeleteTopicsAfterOn(t testing.TB, brokers []string, topics ...string) {
	t.Helper()
	t.Cleanup(func() {
		client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	})
}

// ReadAll returns every record of every partition of topic, in partition order.
func ReadAll(t testing.TB, topic string) []kafka.Message {
	t.Helper()
	return ReadAllFrom(t, KafkaBrokers(t), topic)
}

// ReadAllFrom is ReadAll on other brokers than the test broker.
func ReadAllFrom(t testing.TB, brokers []string, topic string) []kafka.Message {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("reading metadata of %s: %v", topic, err)
	}
	var out []kafka.Message
	for _, p := range meta.Topics[0].Partitions {
		offsets, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(p.ID)}}})
		if err != nil {
			t.Fatalf("listing offsets of %s/%d: %v", topic, p.ID, err)
		}
		end := offsets.Topics[topic][0].LastOffset
		if end == 0 {
			continue
		}
		for offset := int64(0); offset < end; {
			resp, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p.ID, Offset: offset, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second})
			if err == nil {
				err = resp.Error
			}
			if err != nil {
				t.Fatalf("fetching %s/%d at %d: %v", topic, p.ID, offset, err)
			}
			for {
				r, err := resp.Records.ReadRecord()
				if err != nil {
					break
				}
				if r.Offset < offset {
					// A fetch returns whole batches, which may start before offset.
					continue
				}
				m := kafka.Message{Topic: topic, Partition: p.ID, Offset: r.Offset, Time: r.Time, Headers: r.Headers}
				if m.Key, err = readBytes(r.Key); err == nil {
					m.Value, err = readBytes(r.Value)
				}
				if err != nil {
					t.Fatalf("reading a record of %s/%d: %v", topic, p.ID, err)
				}
				out = append(out, m)
				offset = r.Offset + 1
			}
		}
	}
	return out
}

func readBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	return io.ReadAll(b)
}
