//go:build integration

package projector

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// A running projector vouches for a check's version once ClickHouse holds its row:
// the wait ends by the partition writer's word, and the row is there when it does.
func TestAwaitWrittenEndsWhenClickHouseHoldsTheRow(t *testing.T) {
	const partitions = 2
	conn, database := testenv.ClickHouse(t)
	topic := testenv.Topic(t, partitions)
	brokers := testenv.KafkaBrokers(t)
	store := history.NewClickHouse(conn, database)
	p, err := New(Config{Brokers: brokers, Topics: kafkarec.Topics{Events: topic}, GroupID: testenv.UniqueName(t)},
		slog.New(slog.DiscardHandler), nil, store, store, nil, nil)
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
	for i := range 3 {
		ev := schemas.Event{ID: schemas.NewID(), ProjectID: schemas.NewID(), CheckID: schemas.NewID(), At: time.Now().UTC(),
			Body: schemas.CheckCreated{Config: schemas.CheckConfig{Timeout: time.Hour, Grace: time.Minute, TZ: "UTC"}}}
		msg, err := kafkarec.Message(ev)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: topic, Partition: kafkarec.Partition(msg.Key, partitions),
			RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(kafka.Record{Key: kafka.NewBytes(msg.Key), Value: kafka.NewBytes(msg.Value), Headers: msg.Headers})})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			t.Fatalf("appending check %d: %v", i, err)
		}
		version := uint64(resp.BaseOffset) + 1

		waitCtx, done := context.WithTimeout(ctx, 20*time.Second)
		held, err := p.AwaitWritten(waitCtx, ev.CheckID, version)
		done()
		if !held || err != nil {
			t.Fatalf("check %d at version %d: AwaitWritten = %v, %v; want true, nil", i, version, held, err)
		}
		var stored uint64
		if err := conn.QueryRow(ctx, "SELECT max(version) FROM "+database+".checks WHERE check_id = ?", uuid.UUID(ev.CheckID)).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored < version {
			t.Fatalf("check %d: AwaitWritten vouched for version %d, but ClickHouse holds %d", i, version, stored)
		}
	}
}
