//go:build integration

package projector

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// A running projector vouches for a check's version once ClickHouse holds its row:
// the wait ends by the partition writer's word, and the row is there when it does.
func TestAwaitWrittenEndsWhenClickHouseHoldsTheRow(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	p, append := startWrittenProjector(t, Config{}, store, store)
	awaitCreatesStored(t, p, append, conn, database)
}

// A batch an API call waits for is written at once: neither the fold's flush interval
// nor the write interval, here a minute each, holds it.
func TestAwaitedBatchesSkipTheIntervals(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	p, append := startWrittenProjector(t, Config{FlushInterval: time.Minute}, history.NewCoalescer(store, time.Minute, 0), store)
	awaitCreatesStored(t, p, append, conn, database)
}

// awaitCreatesStored creates three checks one after the other, waits up to 20 s for
// each to be written, and checks that ClickHouse holds it when the wait ends.
func awaitCreatesStored(t *testing.T, p *Projector, append func(*testing.T, ...func(kafka.Message) kafka.Message) (schemas.Event, uint64), conn driver.Conn, database string) {
	for i := range 3 {
		ev, version := append(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		held, err := p.AwaitWritten(ctx, ev.CheckID, version)
		cancel()
		if !held || err != nil {
			t.Fatalf("check %d at version %d: AwaitWritten = %v, %v; want true, nil within 20 s", i, version, held, err)
		}
		var stored uint64
		if err := conn.QueryRow(context.Background(), "SELECT max(version) FROM "+database+".checks WHERE check_id = ?", uuid.UUID(ev.CheckID)).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored < version {
			t.Fatalf("check %d: AwaitWritten vouched for version %d, but ClickHouse holds %d", i, version, stored)
		}
	}
}

// startWrittenProjector runs a projector over a fresh two-partition topic, writing
// through writer and loading states from loader, and returns it with a function that appends a new check's creation
// and returns the event and its version.
func startWrittenProjector(t *testing.T, cfg Config, writer history.Writer, loader StateLoader) (*Projector, func(t *testing.T, marks ...func(kafka.Message) kafka.Message) (schemas.Event, uint64)) {
	const partitions = 2
	topic := testenv.Topic(t, partitions)
	brokers := testenv.KafkaBrokers(t)
	cfg.Brokers, cfg.Topics, cfg.GroupID = brokers, kafkarec.Topics{Events: topic}, testenv.UniqueName(t)
	p, err := New(cfg, slog.New(slog.DiscardHandler), nil, writer, loader, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	testenv.Eventually(t, 60*time.Second, "the projector never held both partitions", p.HoldsAll)

	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	return p, func(t *testing.T, marks ...func(kafka.Message) kafka.Message) (schemas.Event, uint64) {
		t.Helper()
		ev := schemas.Event{ID: schemas.NewID(), ProjectID: schemas.NewID(), CheckID: schemas.NewID(), At: time.Now().UTC(),
			Body: schemas.CheckCreated{Config: schemas.CheckConfig{Timeout: time.Hour, Grace: time.Minute, TZ: "UTC"}}}
		msg, err := kafkarec.Message(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, mark := range marks {
			msg = mark(msg)
		}
		resp := testenv.Produce(ctx, t, client, topic, kafkarec.Partition(msg.Key, partitions),
			kafka.Record{Key: kafka.NewBytes(msg.Key), Value: kafka.NewBytes(msg.Value), Headers: msg.Headers})
		return ev, uint64(resp.BaseOffset) + 1
	}
}

// gatedWriter holds every write until open is closed.
type gatedWriter struct {
	history.Writer
	open chan struct{}
}

func (g gatedWriter) Write(ctx context.Context, batches ...history.Batch) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Writer.Write(ctx, batches...)
}

// While ClickHouse does not take a write, the folded batches queuing behind it are
// counted, and the count falls back to nothing once they are written.
func TestBatchesWaitingForClickHouseAreCounted(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	open := make(chan struct{})
	p, append := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, gatedWriter{store, open}, store)
	waiting := func() float64 { return batchesWaiting(t, p) }
	for range 30 {
		if waiting() >= 2 {
			break
		}
		append(t)
		time.Sleep(50 * time.Millisecond)
	}
	if got := waiting(); got < 2 {
		t.Fatalf("%v batches counted waiting behind a held write, want at least 2", got)
	}
	close(open)
	testenv.Eventually(t, 20*time.Second, "batches still counted waiting after the writes went through", func() bool { return waiting() == 0 })
}

// Folding is bounded by the events waiting for ClickHouse, not by how many batches hold
// them: with a write held, small batches keep being folded past four, until those
// waiting hold four full batches' events. Then folding waits, and the wait is counted.
func TestFoldingWaitsOnlyWhenTheWaitingEventsFillTheQueue(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	open := make(chan struct{})
	const batchSize, appended = 5, 60
	p, append := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond, BatchSize: batchSize}, gatedWriter{store, open}, store)
	waiting := func() float64 { return batchesWaiting(t, p) }
	folded := func() float64 {
		var m dto.Metric
		if err := p.metrics.events.WithLabelValues(schemas.TypeCheckCreated.String()).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	mostWaiting := 0.0
	for range appended {
		append(t)
		time.Sleep(25 * time.Millisecond)
		mostWaiting = max(mostWaiting, waiting())
	}
	// Each partition's writer holds its first batch; up to four full batches' events
	// (20) are taken by it and the batches behind it, and the fold holds one more batch
	// (at most 5) while it waits: at most 50 of the 60 events are folded.
	time.Sleep(time.Second)
	if got := folded(); got > 2*(4*batchSize+batchSize) {
		t.Fatalf("%v events folded while ClickHouse held every write, want at most %d", got, 2*(4*batchSize+batchSize))
	}
	if mostWaiting <= 2*4 {
		t.Fatalf("at most %v batches waited in the two partitions, want more than four each could hold before", mostWaiting)
	}
	testenv.Eventually(t, 5*time.Second, "folding waits for room in the write queue, but no wait is counted", func() bool {
		var m dto.Metric
		if err := p.metrics.foldWaiting.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue() > 0
	})
	close(open)
	testenv.Eventually(t, 20*time.Second, "the events held back were not folded once ClickHouse took the writes", func() bool { return folded() == appended })
	testenv.Eventually(t, 20*time.Second, "batches still counted waiting after the writes went through", func() bool { return waiting() == 0 })
}

// batchesWaiting sums the batches waiting for ClickHouse in the two partitions of a
// projector from startWrittenProjector.
func batchesWaiting(t *testing.T, p *Projector) float64 {
	var sum float64
	for partition := range 2 {
		var m dto.Metric
		if err := p.metrics.batchesWaiting.WithLabelValues(strconv.Itoa(partition)).Write(&m); err != nil {
			t.Fatal(err)
		}
		sum += m.GetGauge().GetValue()
	}
	return sum
}

// An awaited record is written soon even when its partition's writer is held in a write
// waiting out a long interval: the wait brings that write forward.
func TestAwaitedRecordsHastenTheWriteAhead(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	p, append := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, history.NewCoalescer(store, time.Minute, 0), store)
	holdBothWriters(t, append)
	ev, version := append(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if stored, err := p.AwaitWritten(ctx, ev.CheckID, version); !stored || err != nil {
		t.Fatalf("AwaitWritten = %v, %v; want the record written within 10 s of a minute's write interval", stored, err)
	}
}

// A record marked awaited by its writer (as the API marks its events) is written soon
// even when no one calls AwaitWritten and its partition's writer is held in a write
// waiting out a long interval: queueing its batch brings that write forward.
func TestAwaitedMarksHastenTheWriteAhead(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	_, append := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, history.NewCoalescer(store, time.Minute, 0), store)
	holdBothWriters(t, append)
	ev, version := append(t, kafkarec.Awaited)
	testenv.Eventually(t, 10*time.Second, "a record marked awaited waited for a minute's write interval", func() bool {
		var stored uint64
		if err := conn.QueryRow(context.Background(), "SELECT max(version) FROM "+database+".checks WHERE check_id = ?", uuid.UUID(ev.CheckID)).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		return stored >= version
	})
}

// holdBothWriters appends a record to each partition with no one waiting for it, so that
// both partitions' writers wait out the write interval.
func holdBothWriters(t *testing.T, append func(*testing.T, ...func(kafka.Message) kafka.Message) (schemas.Event, uint64)) {
	held := map[int]bool{}
	for len(held) < 2 {
		ev, _ := append(t)
		held[partitionOf(t, ev)] = true
	}
	time.Sleep(500 * time.Millisecond)
}

// partitionOf is the partition of startWrittenProjector's topic that holds ev.
func partitionOf(t *testing.T, ev schemas.Event) int {
	msg, err := kafkarec.Message(ev)
	if err != nil {
		t.Fatal(err)
	}
	return kafkarec.Partition(msg.Key, 2)
}
