// Package kafkarec maps schemas.Event to and from Kafka records: topic names, the record
// key (the check or project ID), the hc-type and hc-v headers, and the partitioner.
//
// It is the only place besides the roles' runners that sees a kafka.Message.
package kafkarec

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
)

// Header names on every record.
const (
	HeaderType    = "hc-type"
	HeaderVersion = "hc-v"
)

// HeaderAwaited marks a record whose writer waits until ClickHouse holds it (an API
// write), so that a projector in another process writes its batch at once rather than
// at the usual pace. It is a hint only: a record without it loses nothing.
const HeaderAwaited = "hc-awaited"

// Awaited returns m marked with HeaderAwaited.
func Awaited(m kafka.Message) kafka.Message {
	// The type headers are shared by every record: append to a copy.
	m.Headers = append(m.Headers[:len(m.Headers):len(m.Headers)], kafka.Header{Key: HeaderAwaited, Value: []byte("1")})
	return m
}

// WithoutAwaited returns m without the HeaderAwaited that Awaited added, for a copy of
// the record written where the mark means nothing (the registry topic).
func WithoutAwaited(m kafka.Message) kafka.Message {
	if n := len(m.Headers); n > 0 && m.Headers[n-1].Key == HeaderAwaited {
		m.Headers = m.Headers[: n-1 : n-1]
	}
	return m
}

// IsAwaited reports whether m carries HeaderAwaited.
func IsAwaited(m kafka.Message) bool {
	for _, h := range m.Headers {
		if h.Key == HeaderAwaited {
			return true
		}
	}
	return false
}

// Topics names the topics hcstream uses.
type Topics struct {
	// Events carries every write, keyed by check (project events by project). Default
	// "hcstream.events".
	Events string
	// Registry is a compacted, single-partition topic with the latest configuration record
	// of every check and project, written by the projector and read by ingest. Default
	// "hcstream.registry".
	Registry string
	// Flips carries a StatusChanged for every flip, keyed by check, for notifiers.
	// Delivery is at least once; consumers deduplicate on (check ID, flip sequence),
	// which a replay reproduces, as does the event ID derived from them. Default
	// "hcstream.flips".
	Flips string
}

// DefaultTopics returns the default topic names.
func DefaultTopics() Topics {
	return Topics{Events: "hcstream.events", Registry: "hcstream.registry", Flips: "hcstream.flips"}
}

// Balancer is the partitioner for every keyed hcstream topic. Murmur2 is what Java
// clients use by default, so any other producer of these topics agrees on where a
// check lives.
// It is the concrete type so that Partitioner's keys do not escape to the heap.
func Balancer() *kafka.Murmur2Balancer { return &kafka.Murmur2Balancer{} }

// Partition returns the partition Balancer picks for key among n partitions.
func Partition(key []byte, n int) int { return NewPartitioner(n).Of(key) }

// Partitioner is Partition for a fixed number of partitions, for callers that place
// many keys.
type Partitioner struct {
	partitions []int
	balancer   *kafka.Murmur2Balancer
}

// NewPartitioner places keys among n partitions.
func NewPartitioner(n int) Partitioner {
	partitions := make([]int, n)
	for i := range partitions {
		partitions[i] = i
	}
	return Partitioner{partitions: partitions, balancer: Balancer()}
}

// Count is the number of partitions keys are placed among.
func (p Partitioner) Count() int { return len(p.partitions) }

// OfID returns the partition of the events keyed by id, without allocating.
func (p Partitioner) OfID(id schemas.ID) int {
	var key [36]byte
	return p.Of(id.Append(key[:0]))
}

// Of returns key's partition.
func (p Partitioner) Of(key []byte) int {
	return p.balancer.Balance(kafka.Message{Key: key}, p.partitions...)
}

// Key returns the record key of an event.
// The key is made in one allocation; through String it took two, on every ping.
func Key(ev schemas.Event) []byte { return ev.Key().Append(make([]byte, 0, 36)) }

// Message encodes ev as a record. The topic is left to the writer.
func Message(ev schemas.Event) (kafka.Message, error) {
	value, err := schemas.Encode(ev)
	if err != nil {
		return kafka.Message{}, err
	}
	return kafka.Message{Key: Key(ev), Value: value, Headers: typeHeaders(ev.Body.Type())}, nil
}

// headersByType holds each event type's record headers once made. Records share them,
// read-only: making them for every record was about a twentieth of a ping's handling.
var headersByType [256]atomic.Pointer[[]kafka.Header]

func typeHeaders(t schemas.Type) []kafka.Header {
	if h := headersByType[t].Load(); h != nil {
		return *h
	}
	h := []kafka.Header{
		{Key: HeaderType, Value: []byte(t.String())},
		{Key: HeaderVersion, Value: []byte(strconv.Itoa(int(schemas.CurrentVersion(t))))},
	}
	// A full slice: whoever appends to a record's headers gets a copy.
	h = h[:len(h):len(h)]
	headersByType[t].Store(&h)
	return h
}

// Event decodes a record. The value is authoritative; headers that contradict it mark
// the record corrupt. A record without hc-v is read as version 1.
func Event(m kafka.Message) (schemas.Event, error) {
	t, v, err := schemas.Peek(m.Value)
	if err != nil {
		return schemas.Event{}, err
	}
	for _, h := range m.Headers {
		switch h.Key {
		case HeaderType:
			if string(h.Value) != t.String() {
				return schemas.Event{}, fmt.Errorf("header %s=%q but value is %s: %w", HeaderType, h.Value, t, schemas.ErrCorrupt)
			}
		case HeaderVersion:
			if string(h.Value) != strconv.Itoa(int(v)) {
				return schemas.Event{}, fmt.Errorf("header %s=%q but value is v%d: %w", HeaderVersion, h.Value, v, schemas.ErrCorrupt)
			}
		}
	}
	return schemas.Decode(m.Value)
}

// PartitionKey returns a record key that Balancer places in partition out of n, for
// records that belong to a partition rather than to a check (ClockTicked).
func PartitionKey(partition, n int) []byte {
	for i := 0; ; i++ {
		key := []byte("partition-" + strconv.Itoa(partition) + "-" + strconv.Itoa(i))
		if Partition(key, n) == partition {
			return key
		}
	}
}
