//go:build integration

package main

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// A projector that starts behind a three-minute backlog judges deadlines by the times in
// the log, not by the clock: a check that pinged on schedule all along gets no down
// flip, and one that stopped pinging goes down exactly at its deadline. A ten-minute
// silence afterwards (ingest down) is recorded as an incident and fires no deadline.
func TestBacklogJudgedByEventTime(t *testing.T) {
	t.Parallel()
	env := isolatedEnv(t)
	getenv := func(k string) string { return env[k] }
	if code := run(context.Background(), []string{"migrate"}, getenv, io.Discard, testWriter{t}); code != 0 {
		t.Fatalf("migrate exited %d", code)
	}
	project, onTime, stopped := schemas.NewID(), schemas.NewID(), schemas.NewID()
	cfg := schemas.CheckConfig{Name: "every 50s", Timeout: time.Minute, Grace: time.Minute, TZ: "UTC", Schedule: "* * * * *"}
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	events := []schemas.Event{
		{ID: schemas.NewID(), ProjectID: project, At: t0, Body: schemas.ProjectCreated{Name: "backlog", PingKey: "backlogkey"}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: onTime, At: t0, Body: schemas.CheckCreated{Config: cfg}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: stopped, At: t0, Body: schemas.CheckCreated{Config: cfg}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: stopped, At: t0.Add(time.Second), Body: schemas.PingReceived{Kind: schemas.PingSuccess}},
	}
	partitions, _ := strconv.Atoi(env["HC_KAFKA_PARTITIONS"])
	var msgs []kafka.Message
	for _, ev := range events {
		m, err := kafkarec.Message(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	for s := 1; s <= 180; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		if s%50 == 1 {
			m, _ := kafkarec.Message(schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: onTime, At: at, Body: schemas.PingReceived{Kind: schemas.PingSuccess}})
			msgs = append(msgs, m)
		}
		for p := range partitions {
			m, _ := kafkarec.Message(schemas.Event{ID: schemas.NewID(), At: at, Body: schemas.ClockTicked{}})
			m.Key = kafkarec.PartitionKey(p, partitions)
			msgs = append(msgs, m)
		}
	}
	// Then ten minutes without any event (ingest down), and ticks again: the check that
	// pinged on schedule had its deadline (+271s) inside the silence and must be held.
	for s := 780; s <= 782; s++ {
		for p := range partitions {
			m, _ := kafkarec.Message(schemas.Event{ID: schemas.NewID(), At: t0.Add(time.Duration(s) * time.Second), Body: schemas.ClockTicked{}})
			m.Key = kafkarec.PartitionKey(p, partitions)
			msgs = append(msgs, m)
		}
	}
	w := &kafka.Writer{Addr: kafka.TCP(testenv.KafkaBrokers(t)...), Topic: env["HC_KAFKA_TOPIC_EVENTS"], Balancer: kafkarec.Balancer(),
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatalf("writing the backlog: %v", err)
	}
	w.Close()

	// Only the projector runs: no ingest, so no tick of today's time arrives.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"projector"}, getenv, io.Discard, testWriter{t}) }()
	defer func() {
		cancel()
		<-done
	}()

	conn := testenv.ClickHouseConn(t)
	db := env["HC_CLICKHOUSE_DATABASE"]
	flipsOf := func(check schemas.ID) []string {
		rows, err := conn.Query(context.Background(), "SELECT old_status, new_status, reason, at_us FROM "+db+".flips FINAL WHERE check_id = ? ORDER BY flip_seq", uuid.UUID(check))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var from, to, reason string
			var at int64
			if err := rows.Scan(&from, &to, &reason, &at); err != nil {
				t.Fatal(err)
			}
			out = append(out, from+">"+to+" "+reason+" +"+time.UnixMicro(at).Sub(t0).String())
		}
		return out
	}
	var stoppedFlips []string
	testenv.Eventually(t, 30*time.Second, "the backlog was not projected", func() bool {
		stoppedFlips = flipsOf(stopped)
		return len(stoppedFlips) == 2
	})
	if want := []string{"new>up  +1s", "up>down timeout +2m1s"}; stoppedFlips[0] != want[0] || stoppedFlips[1] != want[1] {
		t.Errorf("the check that stopped pinging: flips %q, want %q", stoppedFlips, want)
	}
	var incidents uint64
	testenv.Eventually(t, 30*time.Second, "the outage was not recorded", func() bool {
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".incidents FINAL WHERE to_us - from_us = 600000000").Scan(&incidents); err != nil {
			t.Fatal(err)
		}
		return incidents == uint64(partitions)
	})
	if got := flipsOf(onTime); len(got) != 1 || got[0] != "new>up  +1s" {
		t.Errorf("the check that pinged on schedule, then lived through an outage: flips %q, want only new>up", got)
	}
	// Incidents and check states are separate INSERTs of one batch: the state follows.
	var held int64
	testenv.Eventually(t, 10*time.Second, "the check was not held for the outage", func() bool {
		err := conn.QueryRow(context.Background(), "SELECT held_us FROM "+db+".checks FINAL WHERE check_id = ?", uuid.UUID(onTime)).Scan(&held)
		return err == nil && held == 600_000_000
	})
}
