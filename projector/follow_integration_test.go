//go:build integration

package projector

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// racingLoader answers a follower's restore with the check as the projectors had
// stored it, and commits further while it does: a projector wrote and committed its next
// batch while the follower read the states.
type racingLoader struct {
	row    history.CheckRow
	commit func()
	once   sync.Once
}

func (l *racingLoader) LoadPartitions(_ context.Context, _ []int, each func(history.CheckRow)) error {
	l.once.Do(l.commit)
	each(l.row)
	return nil
}

func (l *racingLoader) LoadProjectHours(context.Context, int, time.Time) ([]history.ProjectHour, error) {
	return nil, nil
}

// A follower reads the projectors' committed offsets before it restores the states:
// read after, an offset committed meanwhile would skip records the states it read do
// not include, and the check would miss pings for good.
func TestFollowerReadsOffsetsBeforeStates(t *testing.T) {
	t.Parallel()
	brokers := testenv.KafkaBrokers(t)
	topic, group := testenv.Topic(t, 1), testenv.UniqueName(t)
	project, id := schemas.NewID(), schemas.NewID()
	at := time.Now().UTC().Truncate(time.Microsecond)
	events := []schemas.Event{
		{ID: schemas.NewID(), ProjectID: project, CheckID: id, At: at, Body: schemas.CheckCreated{Config: schemas.CheckConfig{Timeout: time.Hour, Grace: time.Minute, TZ: "UTC", Schedule: "* * * * *"}}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: id, At: at.Add(time.Second), Body: schemas.PingReceived{Kind: schemas.PingSuccess}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: id, At: at.Add(2 * time.Second), Body: schemas.PingReceived{Kind: schemas.PingSuccess}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs := make([]kafka.Message, len(events))
	for i, ev := range events {
		m, err := kafkarec.Message(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = m
	}
	if err := kafkarec.NewProducer(brokers, topic, 1).Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	commit := func(next int64) {
		resp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
			Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 0, Offset: next}}}})
		if err == nil && len(resp.Topics[topic]) == 1 {
			err = resp.Topics[topic][0].Error
		}
		if err != nil {
			t.Errorf("committing %d: %v", next, err)
		}
	}
	// The projectors have stored the create (version 1) and committed offset 1.
	commit(1)
	created, _ := check.Apply(check.State{}, events[0])
	loader := &racingLoader{row: history.CheckRow{Version: 1, State: created}, commit: func() { commit(3) }}

	follower, err := NewFollower(Config{Brokers: brokers, Topics: kafkarec.Topics{Events: topic}, GroupID: group}, slog.New(slog.DiscardHandler), nil, loader)
	if err != nil {
		t.Fatal(err)
	}
	followCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- follower.Follow(followCtx) }()
	defer func() {
		stop()
		<-done
	}()
	testenv.Eventually(t, 30*time.Second, "the follower never served the check with both pings", func() bool {
		row, ok := follower.Check(id)
		return ok && row.State.NPings == 2
	})
}
