//go:build integration

package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// kafkaIngest is ingest on real Kafka: its own events topic and a registry topic seeded
// with the project and checks of defaultLookup.
func kafkaIngest(t *testing.T) (base, events string) {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	events = testenv.Topic(t, 3)
	registry := testenv.Topic(t, 1, kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
	seed := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: registry, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	var msgs []kafka.Message
	for _, ev := range []schemas.Event{
		{ID: schemas.NewID(), ProjectID: project, Body: schemas.ProjectCreated{Name: "p", PingKey: "pk"}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: checkID, Body: schemas.CheckCreated{Config: schemas.CheckConfig{Slug: "backup"}}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: dupA, Body: schemas.CheckCreated{Config: schemas.CheckConfig{Slug: "dup"}}},
		{ID: schemas.NewID(), ProjectID: project, CheckID: dupB, Body: schemas.CheckCreated{Config: schemas.CheckConfig{Slug: "dup"}}},
	} {
		m, err := kafkarec.Message(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := seed.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("seeding the registry: %v", err)
	}
	seed.Close()

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := NewRegistry(brokers, registry, logger)
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = reg.Run(runCtx) })
	producer := kafkarec.NewProducer(brokers, events, 0)
	in := New(Config{BodyLimit: 20, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, logger, nil, reg, producer, time.Now)
	srv := httptest.NewServer(in.Handler("/ping/"))
	t.Cleanup(func() {
		srv.Close()
		producer.Close()
		stop()
		wg.Wait()
	})
	testenv.Eventually(t, 20*time.Second, "registry never caught up", reg.Ready)
	return srv.URL, events
}

func send(t *testing.T, method, url, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// Every row of the response catalogue against real Kafka; afterwards the topic holds
// exactly the records of the accepted pings, bodies cut to the limit.
func TestPingCatalogueOnKafka(t *testing.T) {
	t.Parallel()
	base, events := kafkaIngest(t)
	want := 0
	for _, tt := range pingCatalogue() {
		t.Run(tt.name, func(t *testing.T) {
			code, body, header := send(t, tt.method, base+tt.target, tt.body)
			checkPingResponse(t, tt, code, body, header)
		})
		want += tt.wantEvents
	}
	records := testenv.ReadAll(t, events)
	if len(records) != want {
		t.Fatalf("%d records in Kafka, want %d (one per accepted ping, plus auto-provisioned checks)", len(records), want)
	}
	for _, m := range records {
		ev, err := kafkarec.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := ev.Body.(schemas.PingReceived); ok && len(p.Body) > 20 {
			t.Errorf("a body of %d bytes was stored; the limit is 20", len(p.Body))
		}
		if string(m.Key) != ev.CheckID.String() {
			t.Errorf("record key %q is not its check %s", m.Key, ev.CheckID)
		}
	}
}

// Concurrent first pings of one slug with create=1 all succeed and all name the same
// check, so the projector ends with one check that counts every ping. Those that reach
// ingest once another's create is stored are pings of that check (200).
func TestAutoProvisionRaceOnKafka(t *testing.T) {
	t.Parallel()
	base, events := kafkaIngest(t)
	const racers = 20
	var wg sync.WaitGroup
	codes := make([]int, racers)
	for i := range racers {
		wg.Go(func() { codes[i], _, _ = send(t, "POST", base+"/ping/pk/race-job/start?create=1", "go") })
	}
	wg.Wait()
	created := 0
	for i, code := range codes {
		switch code {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Errorf("racer %d got %d", i, code)
		}
	}
	if created == 0 {
		t.Error("no racer was told it created the check")
	}
	states := map[schemas.ID]check.State{}
	for _, m := range testenv.ReadAll(t, events) {
		ev, err := kafkarec.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		states[ev.CheckID], _ = check.Apply(states[ev.CheckID], ev)
	}
	if len(states) != 1 {
		t.Fatalf("%d checks created for one slug, want 1", len(states))
	}
	for _, s := range states {
		if s.Config.Slug != "race-job" || s.NPings != racers || s.LastStart.IsZero() {
			t.Errorf("auto-provisioned check: slug %q n_pings %d", s.Config.Slug, s.NPings)
		}
	}
}

// Syncs share their requests for the registry topic's end, yet each still finds every
// check registered before it was called, while other Syncs keep a request in flight.
func TestSyncsShareRequestsAndMissNoEarlierCheck(t *testing.T) {
	t.Parallel()
	brokers := testenv.KafkaBrokers(t)
	topic := testenv.Topic(t, 1, kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
	reg := NewRegistry(brokers, topic, slog.New(slog.DiscardHandler))
	runCtx, stop := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { _ = reg.Run(runCtx) })
	t.Cleanup(func() {
		stop()
		running.Wait()
	})
	testenv.Eventually(t, 20*time.Second, "registry never caught up", reg.Ready)
	project := schemas.NewID()
	producer := kafkarec.NewProducer(brokers, topic, 0)
	defer producer.Close()

	// Pings for unknown checks keep a request for the end in flight throughout.
	hammerCtx, stopHammer := context.WithCancel(context.Background())
	var hammer sync.WaitGroup
	for range 20 {
		hammer.Go(func() {
			for hammerCtx.Err() == nil {
				ctx, cancel := context.WithTimeout(hammerCtx, 5*time.Second)
				_ = reg.Sync(ctx)
				cancel()
			}
		})
	}
	before := reg.EndProbes()
	started := time.Now()
	const rounds = 30
	for i := range rounds {
		id := schemas.NewID()
		msg, err := kafkarec.Message(schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: id, Body: schemas.CheckCreated{}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := producer.Publish(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if err := reg.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, ok := reg.Check(id); !ok {
			t.Fatalf("round %d: a check registered before Sync was called is unknown after it returned", i)
		}
	}
	stopHammer()
	hammer.Wait()
	// Twenty callers syncing back to back would send a request each per round trip;
	// shared, the requests go at most one per spacing (and one at the start).
	elapsed := time.Since(started)
	if probes, most := reg.EndProbes()-before, int64(elapsed/endProbeSpacing)+2; probes > most {
		t.Fatalf("%d requests for the end in %v with 20 callers syncing, want at most %d (one per %v)", probes, elapsed, most, endProbeSpacing)
	}
}
