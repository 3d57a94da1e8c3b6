package projector

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// Events about a check the partition never held (what adding partitions to the events
// topic produces) are counted and logged, once a minute a partition, and change nothing;
// events about held checks are not counted.
func TestEventsAboutChecksThePartitionNeverHeldAreReported(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	p, err := New(Config{Brokers: []string{"unused:9092"}}, slog.New(slog.NewTextHandler(&logs, nil)), reg, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	unknown := func() float64 {
		var m dto.Metric
		if err := p.metrics.skipped.WithLabelValues("unknown_check").Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	st := newPartitionState(3, 0)
	st.written = newWrittenMark(0)
	project, held, elsewhere := schemas.NewID(), schemas.NewID(), schemas.NewID()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	offset := int64(0)
	fold := func(check schemas.ID, body schemas.Body) {
		t.Helper()
		msg, err := kafkarec.Message(schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: check, At: at, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		msg.Offset = offset
		offset++
		at = at.Add(time.Second)
		if err := p.fold(st, &batch{steps: []history.Batch{{}}}, msg); err != nil {
			t.Fatal(err)
		}
	}

	fold(held, schemas.CheckCreated{Config: schemas.CheckConfig{Timeout: time.Hour, Grace: time.Minute, TZ: "UTC"}})
	fold(held, schemas.PingReceived{Kind: schemas.PingSuccess})
	if got := unknown(); got != 0 {
		t.Fatalf("events about a held check counted as unknown: %v", got)
	}
	if logs.Len() != 0 {
		t.Fatalf("logged for a held check: %s", logs.String())
	}

	fold(elsewhere, schemas.PingReceived{Kind: schemas.PingSuccess})
	fold(elsewhere, schemas.CheckPaused{})
	if got := unknown(); got != 2 {
		t.Errorf("unknown_check counted %v events, want 2", got)
	}
	if _, ok := st.row(elsewhere); ok {
		t.Error("the partition stored a row for a check it never held")
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d errors logged for two events within a minute, want 1:\n%s", n, logs.String())
	}
	for _, want := range []string{"partition=3", "check_id=" + elsewhere.String(), "partition count must never change"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the error does not say %q:\n%s", want, logs.String())
		}
	}

	st.unknownLogged = st.unknownLogged.Add(-time.Minute)
	fold(elsewhere, schemas.PingReceived{Kind: schemas.PingFail})
	if n := strings.Count(logs.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d errors logged after a minute, want 2", n)
	}
	if !strings.Contains(logs.String(), "count=2") || !strings.Contains(logs.String(), "count=1") {
		t.Errorf("the errors do not count the events since the last one:\n%s", logs.String())
	}
}

// BenchmarkFoldPings times folding a fetch of 5,000 pings to 10,000 checks of one
// partition and closing its batch, as a projector and as a query role's follower.
func BenchmarkFoldPings(b *testing.B) {
	for _, role := range []string{"projector", "follower"} {
		b.Run(role, func(b *testing.B) {
			p, err := New(Config{Brokers: []string{"unused:9092"}}, slog.New(slog.DiscardHandler), nil, nil, nil, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			p.follows = role == "follower"
			st := newPartitionState(0, 10_000)
			st.written = newWrittenMark(0)
			project, at, offset := schemas.NewID(), time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), int64(0)
			message := func(check schemas.ID, body schemas.Body) kafka.Message {
				msg, err := kafkarec.Message(schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: check, At: at, Body: body})
				if err != nil {
					b.Fatal(err)
				}
				return msg
			}
			fold := func(b0 *batch, msg kafka.Message) {
				msg.Offset = offset
				offset++
				if err := p.fold(st, b0, msg); err != nil {
					b.Fatal(err)
				}
			}
			checks := make([]schemas.ID, 10_000)
			created := newFetchBatch(st)
			for i := range checks {
				checks[i] = schemas.NewID()
				fold(created, message(checks[i], schemas.CheckCreated{Config: schemas.CheckConfig{Timeout: time.Hour, Grace: time.Minute, TZ: "UTC"}}))
			}
			p.closeFetch(st, created)
			pings := make([]kafka.Message, 5_000)
			for i := range pings {
				pings[i] = message(checks[i*7919%len(checks)], schemas.PingReceived{Kind: schemas.PingSuccess, Method: "GET", Scheme: "https",
					RemoteAddr: "203.0.113.7", UserAgent: "curl/8.5.0"})
			}
			b.ReportAllocs()
			for b.Loop() {
				fetched := newFetchBatch(st)
				for _, msg := range pings {
					fold(fetched, msg)
				}
				p.closeFetch(st, fetched)
			}
		})
	}
}
