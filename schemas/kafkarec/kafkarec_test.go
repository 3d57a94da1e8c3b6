package kafkarec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/schemas"
)

func TestMessageRoundTrip(t *testing.T) {
	ev := schemas.Event{ID: schemas.NewID(), ProjectID: schemas.NewID(), CheckID: schemas.NewID(),
		At: time.Date(2026, 3, 1, 0, 0, 0, 5, time.UTC), Body: schemas.PingReceived{Kind: schemas.PingFail, Method: "POST"}}
	m, err := Message(ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != ev.CheckID.String() {
		t.Errorf("key %q, want the check ID", m.Key)
	}
	got, err := Event(m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	m.Headers = nil
	if _, err := Event(m); err != nil {
		t.Errorf("a record without headers must still decode: %v", err)
	}
	m.Headers = []kafka.Header{{Key: HeaderType, Value: []byte("CheckDeleted")}}
	if _, err := Event(m); !errors.Is(err, schemas.ErrCorrupt) {
		t.Errorf("contradicting header: err = %v, want ErrCorrupt", err)
	}
}

// The partition of a key must match Java clients' default partitioner (murmur2), so
// these values are pinned: a change here moves every check to another partition.
func TestPartitionIsJavaCompatible(t *testing.T) {
	tests := []struct {
		key  string
		n    int
		want int
	}{
		{"check-1", 12, 10},
		{"z", 12, 2},
	}
	for _, tt := range tests {
		if got := Partition([]byte(tt.key), tt.n); got != tt.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tt.key, tt.n, got, tt.want)
		}
	}
}

// A check's partition found from its ID is the one its events' records go to.
func TestOfIDIsThePartitionOfTheEventsKey(t *testing.T) {
	partitioner := NewPartitioner(12)
	for range 1000 {
		ev := schemas.Event{ID: schemas.NewID(), ProjectID: schemas.NewID(), CheckID: schemas.NewID(), Body: schemas.PingReceived{Kind: schemas.PingSuccess}}
		key := Key(ev)
		if string(key) != ev.Key().String() {
			t.Fatalf("record key %q, want the canonical ID %s", key, ev.Key())
		}
		if got, want := partitioner.OfID(ev.Key()), partitioner.Of(key); got != want {
			t.Fatalf("OfID(%s) = %d; the record goes to %d", ev.Key(), got, want)
		}
	}
}

func TestPartitionKey(t *testing.T) {
	for _, n := range []int{1, 3, 12, 64} {
		for p := range n {
			if got := Partition(PartitionKey(p, n), n); got != p {
				t.Errorf("PartitionKey(%d, %d) lands in %d", p, n, got)
			}
		}
	}
}

func TestNotAppended(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("producing to events/3: %w", err) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"not leader", wrap(kafka.NotLeaderForPartition), true},
		{"no leader in metadata", fmt.Errorf("partition 2 of events: %w", errNoLeader), true},
		{"two partitions refused", errors.Join(wrap(kafka.LeaderNotAvailable), wrap(kafka.NotEnoughReplicas)), true},
		{"one refused, one timed out", errors.Join(wrap(kafka.NotLeaderForPartition), wrap(kafka.RequestTimedOut)), false},
		{"timed out: may be stored", wrap(kafka.RequestTimedOut), false},
		{"stored, then too few replicas", wrap(kafka.NotEnoughReplicasAfterAppend), false},
		{"connection lost", wrap(io.ErrUnexpectedEOF), false},
		{"deadline", context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		if got := NotAppended(tt.err); got != tt.want {
			t.Errorf("%s: NotAppended(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// Marking a record awaited adds the header to that record only: the type headers that
// records share stay as they were.
func TestAwaitedMarksOneRecord(t *testing.T) {
	ev := schemas.Event{ID: schemas.NewID(), CheckID: schemas.NewID(), At: time.Now(), Body: schemas.PingReceived{Kind: schemas.PingSuccess}}
	plain, err := Message(ev)
	if err != nil {
		t.Fatal(err)
	}
	marked := Awaited(plain)
	again, err := Message(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !IsAwaited(marked) || IsAwaited(plain) || IsAwaited(again) {
		t.Errorf("awaited: marked %v, the record it was made from %v, a later record of the type %v; want true, false, false",
			IsAwaited(marked), IsAwaited(plain), IsAwaited(again))
	}
	if got, err := Event(marked); err != nil || got.ID != ev.ID {
		t.Errorf("decoding a marked record: %v, %v", got.ID, err)
	}
	unmarked := WithoutAwaited(marked)
	if IsAwaited(unmarked) || len(unmarked.Headers) != len(plain.Headers) {
		t.Errorf("the mark taken away: awaited %v, headers %v; want false, %v", IsAwaited(unmarked), unmarked.Headers, plain.Headers)
	}
	if got := WithoutAwaited(plain); len(got.Headers) != len(plain.Headers) {
		t.Errorf("taking the mark from an unmarked record left headers %v, want %v", got.Headers, plain.Headers)
	}
}

// A request keeps each partition's batch within maxPartitionBatch, always sends its
// first call, and never lets a call overtake an earlier one waiting for its partition.
func TestPlanRequest(t *testing.T) {
	partitioner := NewPartitioner(2)
	var keys [2][]byte
	for i := 0; keys[0] == nil || keys[1] == nil; i++ {
		key := []byte(strconv.Itoa(i))
		if k := &keys[partitioner.Of(key)]; *k == nil {
			*k = key
		}
	}
	call := func(partition, size int) *produceCall {
		m := kafka.Message{Key: keys[partition], Value: make([]byte, size)}
		return &produceCall{msgs: []kafka.Message{m}, size: recordSize(m)}
	}
	for _, tc := range []struct {
		name  string
		calls []*produceCall
		want  []bool // deferred
	}{
		{"small calls share a batch", []*produceCall{call(0, 1000), call(0, 1000), call(1, 1000)}, []bool{false, false, false}},
		{"a full partition defers, the other goes on", []*produceCall{call(0, 600_000), call(0, 600_000), call(1, 1000)}, []bool{false, true, false}},
		{"no overtaking within a partition", []*produceCall{call(0, 600_000), call(0, 600_000), call(0, 1000), call(1, 1000)}, []bool{false, true, true, false}},
		{"a record over the limit goes alone", []*produceCall{call(0, 2_000_000), call(0, 10), call(1, 10)}, []bool{false, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			placed, deferred := planRequest(tc.calls, partitioner)
			if !slices.Equal(deferred, tc.want) {
				t.Errorf("deferred %v, want %v", deferred, tc.want)
			}
			for i, c := range tc.calls {
				if placed[i][0] != partitioner.Of(c.msgs[0].Key) {
					t.Errorf("call %d placed in %d", i, placed[i][0])
				}
			}
		})
	}
}
