//go:build integration

package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
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
		var out []string
		for _, f := range storedFlips(t, conn, db)[check.String()] {
			out = append(out, f.from+">"+f.to+" "+f.reason+" +"+f.at.Sub(t0).String())
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

// The acceptance, live: the projector is stopped (SIGTERM) for three minutes
// while checks keep pinging on schedule, every 20 s against a timeout and a grace of one
// minute each. Restarted, it catches up from the log and judges the backlog by the times
// in it: no check that pinged on schedule flips down, and the check that stopped pinging
// goes down exactly at its deadline, inside the outage, not when the projector returned.
// A stopped projector is not an ingest outage: ticks kept coming, so nothing is held.
func TestBacklogLiveProjectorStoppedThreeMinutes(t *testing.T) {
	t.Parallel()
	const outage, catchUpBound = 3 * time.Minute, time.Minute
	s := startSplitStack(t)
	db := s.env["HC_CLICKHOUSE_DATABASE"]
	ids := createChecks(t, s.env, s.query, 4, `"timeout": 60, "grace": 60`)
	healthy, quitter := ids[:3], ids[3]
	conn := testenv.ClickHouseConn(t)

	ctx, stopPings := context.WithCancel(context.Background())
	defer stopPings()
	pings := pingRounds(ctx, s.ingest, healthy, 20*time.Second)
	if code, err := pingOnce(s.ingest + "/ping/" + quitter); code != http.StatusOK {
		t.Fatalf("ping: %d %v", code, err)
	}
	first := map[string]int64{quitter: 1}
	for _, id := range healthy {
		first[id] = 1
	}
	awaitStored(t, conn, db, first, 30*time.Second)

	terminate(t, s.projector, 30*time.Second)
	stopped := time.Now()
	// The quitter's last ping reaches only the log; its deadline falls inside the outage.
	if code, err := pingOnce(s.ingest + "/ping/" + quitter); code != http.StatusOK {
		t.Fatalf("ping while the projector is stopped: %d %v", code, err)
	}
	time.Sleep(outage - time.Since(stopped)) //nolint:forbidigo // the projector stays stopped for three minutes while checks ping
	// Nothing was projected meanwhile: the backlog is all in the log.
	if got, err := storedPings(conn, db); err != nil || got[quitter].nPings != 1 || len(storedFlips(t, conn, db)[quitter]) != 1 {
		t.Fatalf("with the projector stopped, ClickHouse changed: n_pings %v (%v), flips of the quitter %v", got, err, storedFlips(t, conn, db)[quitter])
	}
	atRestart, _, _ := pings.snapshot()
	atRestart[quitter] = 2
	restarted := time.Now()
	projectorProcess(t, s.env)
	awaitStored(t, conn, db, atRestart, catchUpBound)
	caughtUp := time.Since(restarted)
	testenv.Eventually(t, catchUpBound, "the check that stopped pinging did not flip down", func() bool {
		return len(storedFlips(t, conn, db)[quitter]) >= 2
	})
	flipped := time.Since(restarted)
	// Live again: the first round after the restart is stored too.
	next := map[string]int64{}
	for _, id := range healthy {
		next[id] = atRestart[id] + 1
	}
	awaitStored(t, conn, db, next, 45*time.Second)
	stopPings()
	acked, total, refused := pings.wait(t)
	t.Logf("projector stopped %v; %d pings of the healthy checks acknowledged; caught up with the %d acknowledged by the restart %v after it, "+
		"and wrote the down flip %v after it", restarted.Sub(stopped).Round(time.Second), total, sumCounts(atRestart), caughtUp.Round(time.Millisecond),
		flipped.Round(time.Millisecond))
	if len(refused) > 0 {
		t.Errorf("%d pings were not acknowledged, first %q", len(refused), refused[0])
	}
	acked[quitter] = 2
	exactlyOncePerCheck(t, db, acked)

	lastPingCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lastPing int64
	if err := conn.QueryRow(lastPingCtx, "SELECT max(received_us) FROM "+db+".pings FINAL WHERE check_id = ?", uuid.MustParse(quitter)).Scan(&lastPing); err != nil {
		t.Fatal(err)
	}
	deadline := time.UnixMicro(lastPing).Add(2 * time.Minute)
	if !deadline.Before(restarted.Add(-10 * time.Second)) {
		t.Fatalf("the quitter's deadline %s is not inside the outage (restart %s): the test proves nothing", deadline, restarted)
	}
	stored := storedFlips(t, conn, db)
	published := publishedFlips(t, s.env["HC_KAFKA_TOPIC_FLIPS"])
	for _, id := range healthy {
		if got := stored[id]; len(got) != 1 || got[0].to != "up" {
			t.Errorf("check %s pinged on schedule; flips table %v, want only new>up", id, got)
		}
		if got := published[id]; len(got) != 1 || got[0].Body.(schemas.StatusChanged).New != schemas.StatusUp {
			t.Errorf("check %s pinged on schedule; flips topic %+v, want only new>up", id, got)
		}
	}
	if got := stored[quitter]; len(got) != 2 || got[1].from != "up" || got[1].to != "down" || got[1].reason != "timeout" || !got[1].at.Equal(deadline) {
		t.Errorf("the check that stopped pinging: flips table %v, want new>up then up>down timeout at its deadline %s (last ping + 2m)", got, deadline.UTC())
	} else {
		t.Logf("the check that stopped pinging went down at its deadline, %v before the projector was restarted", restarted.Sub(got[1].at).Round(time.Millisecond))
	}
	if got := published[quitter]; len(got) != 2 || got[1].Body.(schemas.StatusChanged).New != schemas.StatusDown || !got[1].At.Equal(deadline) {
		t.Errorf("the check that stopped pinging: flips topic %+v, want new>up then up>down at %s", got, deadline.UTC())
	}
	var incidents uint64
	if err := conn.QueryRow(lastPingCtx, "SELECT count() FROM "+db+".incidents FINAL").Scan(&incidents); err != nil {
		t.Fatal(err)
	}
	if incidents != 0 {
		t.Errorf("%d ingest outages recorded, want none: ingest ticked throughout; only the projector stopped", incidents)
	}
}

// storedFlip is one row of the flips table.
type storedFlip struct {
	seq              uint64
	from, to, reason string
	at               time.Time
}

func (f storedFlip) String() string {
	return fmt.Sprintf("#%d %s>%s %q at %s", f.seq, f.from, f.to, f.reason, f.at.UTC().Format(time.RFC3339Nano))
}

// storedFlips returns the flips table by check UUID, each check's in flip order.
func storedFlips(t *testing.T, conn driver.Conn, db string) map[string][]storedFlip {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT toString(check_id), flip_seq, old_status, new_status, reason, at_us FROM "+db+".flips FINAL ORDER BY check_id, flip_seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]storedFlip{}
	for rows.Next() {
		var id string
		var f storedFlip
		var at int64
		if err := rows.Scan(&id, &f.seq, &f.from, &f.to, &f.reason, &at); err != nil {
			t.Fatal(err)
		}
		f.at = time.UnixMicro(at)
		out[id] = append(out[id], f)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// publishedFlips returns the StatusChanged events of a flips topic by check UUID, each
// check's in topic order (duplicates included: the topic is at least once).
func publishedFlips(t *testing.T, topic string) map[string][]schemas.Event {
	t.Helper()
	out := map[string][]schemas.Event{}
	for _, m := range testenv.ReadAll(t, topic) {
		ev, err := kafkarec.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ev.Body.(schemas.StatusChanged); !ok {
			t.Fatalf("the flips topic carries a %s", ev.Body.Type())
		}
		out[ev.CheckID.String()] = append(out[ev.CheckID.String()], ev)
	}
	return out
}

// distinctFlips returns the flips of one check without the copies a retry published
// again, in flip order.
func distinctFlips(events []schemas.Event) []schemas.StatusChanged {
	seen := map[uint64]bool{}
	var out []schemas.StatusChanged
	for _, ev := range events {
		f := ev.Body.(schemas.StatusChanged)
		if !seen[f.FlipSeq] {
			seen[f.FlipSeq] = true
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b schemas.StatusChanged) int { return cmp.Compare(a.FlipSeq, b.FlipSeq) })
	return out
}
