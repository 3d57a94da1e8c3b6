//go:build integration

package projector

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
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
	p, events := startWrittenProjector(t, Config{}, store, store, nil)
	awaitCreatesStored(t, p, events, conn, database)
}

// A batch an API call waits for is written at once: neither the fold's flush interval
// nor the write interval, here a minute each, holds it.
func TestAwaitedBatchesSkipTheIntervals(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	p, events := startWrittenProjector(t, Config{FlushInterval: time.Minute}, history.NewCoalescer(store, time.Minute, 0), store, nil)
	awaitCreatesStored(t, p, events, conn, database)
}

// awaitCreatesStored creates three checks one after the other, waits up to 20 s for
// each to be written, and checks that ClickHouse holds it when the wait ends.
func awaitCreatesStored(t *testing.T, p *Projector, events *eventLog, conn driver.Conn, database string) {
	for i := range 3 {
		ev, version := events.create(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		held, err := p.AwaitWritten(ctx, ev.CheckID, version)
		cancel()
		if !held || err != nil {
			t.Fatalf("check %d at version %d: AwaitWritten = %v, %v; want true, nil within 20 s", i, version, held, err)
		}
		if stored := storedVersion(t, conn, database, ev.CheckID); stored < version {
			t.Fatalf("check %d: AwaitWritten vouched for version %d, but ClickHouse holds %d", i, version, stored)
		}
	}
}

// startWrittenProjector runs a projector over a fresh two-partition topic, writing
// through writer, loading states from loader and publishing flips to flips (nil: none),
// and returns it with the topic it folds.
func startWrittenProjector(t *testing.T, cfg Config, writer history.Writer, loader StateLoader, flips Publisher) (*Projector, *eventLog) {
	const partitions = 2
	topic := testenv.Topic(t, partitions)
	brokers := testenv.KafkaBrokers(t)
	cfg.Brokers, cfg.Topics, cfg.GroupID = brokers, kafkarec.Topics{Events: topic}, testenv.UniqueName(t)
	p, err := New(cfg, slog.New(slog.DiscardHandler), nil, writer, loader, nil, flips)
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
	return p, &eventLog{ctx: ctx, client: client, topic: topic, partitions: partitions}
}

// eventLog appends events to a projector's topic.
type eventLog struct {
	ctx        context.Context
	client     *kafka.Client
	topic      string
	partitions int
}

// create appends a new check's creation, its message changed by marks, and returns the
// event and its version.
func (l *eventLog) create(t *testing.T, marks ...func(kafka.Message) kafka.Message) (schemas.Event, uint64) {
	t.Helper()
	ev := schemas.Event{ID: schemas.NewID(), ProjectID: schemas.NewID(), CheckID: schemas.NewID(), At: time.Now().UTC(),
		Body: schemas.CheckCreated{Config: schemas.CheckConfig{Timeout: time.Hour, Grace: time.Minute, TZ: "UTC"}}}
	return ev, l.append(t, ev, marks...)
}

// append appends ev, its message changed by marks, and returns its version.
func (l *eventLog) append(t *testing.T, ev schemas.Event, marks ...func(kafka.Message) kafka.Message) uint64 {
	t.Helper()
	msg, err := kafkarec.Message(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, mark := range marks {
		msg = mark(msg)
	}
	resp := testenv.Produce(l.ctx, t, l.client, l.topic, kafkarec.Partition(msg.Key, l.partitions),
		kafka.Record{Key: kafka.NewBytes(msg.Key), Value: kafka.NewBytes(msg.Value), Headers: msg.Headers})
	return uint64(resp.BaseOffset) + 1
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
	p, events := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, gatedWriter{store, open}, store, nil)
	waiting := func() float64 { return batchesWaiting(t, p) }
	for range 30 {
		if waiting() >= 2 {
			break
		}
		events.create(t)
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
	p, events := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond, BatchSize: batchSize}, gatedWriter{store, open}, store, nil)
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
		events.create(t)
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
	p, events := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, history.NewCoalescer(store, time.Minute, 0), store, nil)
	holdBothWriters(t, events)
	ev, version := events.create(t)
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
	_, events := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, history.NewCoalescer(store, time.Minute, 0), store, nil)
	holdBothWriters(t, events)
	ev, version := events.create(t, kafkarec.Awaited)
	testenv.Eventually(t, 10*time.Second, "a record marked awaited waited for a minute's write interval", func() bool {
		return storedVersion(t, conn, database, ev.CheckID) >= version
	})
}

// holdBothWriters appends a record to each partition with no one waiting for it, so that
// both partitions' writers wait out the write interval.
func holdBothWriters(t *testing.T, events *eventLog) {
	held := map[int]bool{}
	for len(held) < 2 {
		ev, _ := events.create(t)
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

// A flip goes on the flips topic as soon as it is folded, while its partition's writer
// waits for ClickHouse: notifications do not wait out the history's write interval.
// Its history is written after it all the same.
func TestFlipsArePublishedWhileHistoryWaits(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	open := make(chan struct{})
	flips := &recordingPublisher{}
	_, events := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, gatedWriter{store, open}, store, flips)
	holdBothWriters(t, events)
	created, _ := events.create(t)
	paused := created
	paused.ID, paused.At, paused.Body = schemas.NewID(), time.Now().UTC(), schemas.CheckPaused{}
	version := events.append(t, paused)
	testenv.Eventually(t, 10*time.Second, "the pause's flip was not published while ClickHouse held the writes", func() bool {
		return flips.count(created.CheckID) == 1
	})
	close(open)
	testenv.Eventually(t, 20*time.Second, "the pause was not written once ClickHouse took the writes", func() bool {
		return storedVersion(t, conn, database, created.CheckID) >= version
	})
	if got := flips.count(created.CheckID); got != 1 {
		t.Fatalf("the pause's flip was published %d times, want once", got)
	}
}

// recordingPublisher keeps the events published to it.
type recordingPublisher struct {
	mu     sync.Mutex
	events []schemas.Event
}

func (r *recordingPublisher) Publish(_ context.Context, msgs ...kafka.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, msg := range msgs {
		ev, err := kafkarec.Event(msg)
		if err != nil {
			return err
		}
		r.events = append(r.events, ev)
	}
	return nil
}

// count is how many events about check were published.
func (r *recordingPublisher) count(check schemas.ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.CheckID == check {
			n++
		}
	}
	return n
}

// Batches merged into one write while ClickHouse held the last one store one row of a
// check they all changed, the latest.
func TestMergedWritesStoreEachCheckOnce(t *testing.T) {
	conn, database := testenv.ClickHouse(t)
	store := history.NewClickHouse(conn, database)
	open := make(chan struct{})
	rows := &checkRowCounter{Writer: store}
	_, events := startWrittenProjector(t, Config{FlushInterval: 10 * time.Millisecond}, gatedWriter{rows, open}, store, nil)
	created, _ := events.create(t)
	time.Sleep(300 * time.Millisecond) // the creation's batch is the write held
	var version uint64
	for i := range 6 {
		ev := created
		ev.ID, ev.At, ev.Body = schemas.NewID(), time.Now().UTC(), schemas.CheckPaused{}
		if i%2 == 1 {
			ev.Body = schemas.CheckResumed{}
		}
		version = events.append(t, ev)
		time.Sleep(50 * time.Millisecond) // a batch of its own
	}
	close(open)
	testenv.Eventually(t, 20*time.Second, "the last change was not written once ClickHouse took the writes", func() bool {
		return storedVersion(t, conn, database, created.CheckID) >= version
	})
	if got := rows.of(created.CheckID); got > 3 {
		t.Fatalf("%d rows of the check written for a creation and six changes in batches merged behind a held write, want at most 3", got)
	}
}

// checkRowCounter counts the check rows written through it, by check.
type checkRowCounter struct {
	history.Writer
	mu   sync.Mutex
	rows map[schemas.ID]int
}

func (c *checkRowCounter) Write(ctx context.Context, batches ...history.Batch) error {
	c.mu.Lock()
	if c.rows == nil {
		c.rows = map[schemas.ID]int{}
	}
	for i := range batches {
		for _, row := range batches[i].Checks {
			c.rows[row.State.CheckID]++
		}
	}
	c.mu.Unlock()
	return c.Writer.Write(ctx, batches...)
}

func (c *checkRowCounter) of(check schemas.ID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rows[check]
}

// storedVersion is the highest version of a check's rows in ClickHouse.
func storedVersion(t *testing.T, conn driver.Conn, database string, check schemas.ID) uint64 {
	t.Helper()
	var stored uint64
	if err := conn.QueryRow(context.Background(), "SELECT max(version) FROM "+database+".checks WHERE check_id = ?", uuid.UUID(check)).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	return stored
}
