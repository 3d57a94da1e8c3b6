//go:build integration

package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// localStack runs a deploy/local script action, for tests that stop and start the shared
// stack. Such tests are named TestFault… and run alone (make test-fault). Each action is
// bounded by three minutes (a start waits up to HC_LOCAL_WAIT_SECONDS, 60 s by default).
func localStack(t *testing.T, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"../../deploy/local/" + script}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func statusOf(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/api/v3/status/")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// launchWithout stops one component of the local stack (restarting it after the test),
// launches hcstream, and checks that its status names exactly that component as down.
func launchWithout(t *testing.T, component string) (env map[string]string, base string) {
	t.Helper()
	env = isolatedEnv(t)
	localStack(t, component+".sh", "down")
	t.Cleanup(func() { localStack(t, component+".sh", "up") })
	base = launch(t, env).base
	var code int
	var body string
	testenv.Eventually(t, 20*time.Second, "no 503 while "+component+" is down", func() bool {
		code, body = statusOf(t, base)
		return code == http.StatusServiceUnavailable
	})
	other := map[string]string{"kafka": "clickhouse", "clickhouse": "kafka"}[component]
	if !strings.Contains(body, component+":") || strings.Contains(body, other+":") {
		t.Errorf("status while %s is down: %d %q", component, code, body)
	}
	return env, base
}

// The process boots while ClickHouse is down and reports it, becomes ready when it
// appears, reports it again when it stops, and recovers when it restarts. Pings are
// accepted throughout: ingest depends on Kafka alone.
func TestFaultStatusFollowsClickHouse(t *testing.T) {
	env, base := launchWithout(t, "clickhouse")
	var code int
	var body string

	localStack(t, "clickhouse.sh", "up")
	testenv.Eventually(t, 60*time.Second, "status did not turn 200 after ClickHouse started", func() bool {
		code, _ = statusOf(t, base)
		return code == http.StatusOK
	})
	s := &stack{base: base, env: env}
	keys := s.createProject(t)
	created := do(t, "POST", base+"/api/v3/checks/", keys["api_key"], `{"name": "fault"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	id := created.json(t)["uuid"].(string)

	localStack(t, "clickhouse.sh", "down")
	testenv.Eventually(t, 20*time.Second, "status did not turn 503 after ClickHouse stopped", func() bool {
		code, body = statusOf(t, base)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "clickhouse")
	})
	if got := do(t, "GET", base+"/ping/"+id, "", ""); got.code != 200 {
		t.Errorf("ping while ClickHouse is down: %d %q (ingest needs only Kafka)", got.code, got.body)
	}

	localStack(t, "clickhouse.sh", "up")
	testenv.Eventually(t, 60*time.Second, "status did not recover after ClickHouse restarted", func() bool {
		code, _ = statusOf(t, base)
		return code == http.StatusOK
	})
	// The ping accepted during the outage reaches the store once ClickHouse is back.
	testenv.Eventually(t, 60*time.Second, "the ping accepted during the outage was not projected", func() bool {
		return do(t, "GET", base+"/api/v3/checks/"+id, keys["api_key"], "").json(t)["n_pings"] == 1.0
	})
}

// The process boots while Kafka is down, answers 503 naming it, and becomes ready when
// the broker starts; pings are refused with 503 (never a false 200) while it is down.
func TestFaultStatusFollowsKafka(t *testing.T) {
	env, base := launchWithout(t, "kafka")
	var code int
	start := time.Now()
	if got := do(t, "GET", base+"/ping/00000000-0000-4000-8000-000000000000", "", ""); got.code != http.StatusServiceUnavailable {
		t.Errorf("ping while Kafka is down: %d %q, want 503", got.code, got.body)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("a ping waited %v for a down broker; the bound is about 2s", waited)
	}

	localStack(t, "kafka.sh", "up")
	testenv.Eventually(t, 90*time.Second, "status did not turn 200 after Kafka started", func() bool {
		code, _ = statusOf(t, base)
		return code == http.StatusOK
	})
	s := &stack{base: base, env: env}
	keys := s.createProject(t)
	created := do(t, "POST", base+"/api/v3/checks/", keys["api_key"], `{"name": "after kafka"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create after Kafka started: %d %s", created.code, created.body)
	}
	if got := do(t, "GET", base+"/ping/"+created.json(t)["uuid"].(string), "", ""); got.code != 200 {
		t.Errorf("ping after Kafka started: %d %q", got.code, got.body)
	}
}

// pingResult is one request of a fault-test load.
type pingResult struct {
	check, rid string
	code       int
	start, end time.Time
}

// ridLoad pings checks from several workers, each ping with a fresh run id, and records
// every request, so that the test can later find each acknowledged ping in Kafka.
type ridLoad struct {
	mu      sync.Mutex
	results []pingResult
	stop    context.CancelFunc
	workers sync.WaitGroup
}

func startRIDLoad(t *testing.T, base string, checks []string, workers int) *ridLoad {
	ctx, stop := context.WithCancel(context.Background())
	l := &ridLoad{stop: stop}
	// A test that fails before finish must not leave its workers pinging.
	t.Cleanup(func() { l.finish() })
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range workers {
		l.workers.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				check := checks[i%len(checks)]
				rid := schemas.NewID().String()
				start := time.Now()
				code := 0
				if resp, err := client.Get(base + "/ping/" + check + "?rid=" + rid); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				l.mu.Lock()
				l.results = append(l.results, pingResult{check: check, rid: rid, code: code, start: start, end: time.Now()})
				l.mu.Unlock()
			}
		})
	}
	return l
}

// firstAckedAfter returns when the first ping sent after t was acknowledged.
func (l *ridLoad) firstAckedAfter(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.results {
		if r.code == 200 && r.start.After(t) {
			return r.end, true
		}
	}
	return time.Time{}, false
}

// finish stops the load, waits for the requests in flight, and returns every result.
func (l *ridLoad) finish() []pingResult {
	l.stop()
	l.workers.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.results
}

// ackedInKafka checks that every acknowledged ping of results is among the records of
// the events topic on brokers, and returns the distinct ping events found there.
func ackedInKafka(t *testing.T, brokers []string, topic string, results []pingResult) map[schemas.ID]bool {
	t.Helper()
	found := map[string]bool{}
	events := map[schemas.ID]bool{}
	for _, m := range testenv.ReadAllFrom(t, brokers, topic) {
		ev, err := kafkarec.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := ev.Body.(schemas.PingReceived); ok {
			events[ev.ID] = true
			if p.HasRunID {
				found[p.RunID.String()] = true
			}
		}
	}
	acked, lost := 0, 0
	for _, r := range results {
		if r.code == 200 {
			acked++
			if !found[r.rid] {
				lost++
			}
		}
	}
	t.Logf("%d pings sent, %d acknowledged, %d ping records in Kafka", len(results), acked, len(found))
	if lost > 0 {
		t.Errorf("%d acknowledged pings are missing from Kafka", lost)
	}
	return events
}

// The broker stops under load: while it is down no ping gets 200, each is refused with
// 503 within the publish bound; after it restarts ingest recovers by itself, and every
// ping acknowledged at any time is in Kafka.
func TestFaultBrokerStopDuringLoad(t *testing.T) {
	env := isolatedEnv(t)
	env["HC_INGEST_PUBLISH_TIMEOUT"] = "2s"
	s := startStack(t, env)
	keys := s.createProject(t)
	created := do(t, "POST", s.base+"/api/v3/checks/", keys["api_key"], `{"name": "under load"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	id := created.json(t)["uuid"].(string)
	t.Cleanup(func() { localStack(t, "kafka.sh", "up") })
	// A clean stop (SIGTERM), then a crash (SIGKILL) of the broker.
	for _, stop := range []string{"down", "stop-hard"} {
		t.Run(stop, func(t *testing.T) { brokerOutageUnderLoad(t, s, env, id, stop) })
	}
}

func brokerOutageUnderLoad(t *testing.T, s *stack, env map[string]string, id, stop string) {
	load := startRIDLoad(t, s.base, []string{id}, 16)
	time.Sleep(2 * time.Second) //nolint:forbidigo // load runs for a while before the fault
	localStack(t, "kafka.sh", stop)
	down := time.Now()
	time.Sleep(6 * time.Second) //nolint:forbidigo // the outage lasts a while under load
	up := time.Now()
	localStack(t, "kafka.sh", "up")
	var recovered time.Time
	testenv.Eventually(t, 60*time.Second, "ingest did not recover after the broker restarted", func() bool {
		var ok bool
		recovered, ok = load.firstAckedAfter(up)
		return ok
	})
	time.Sleep(time.Second) //nolint:forbidigo // some load after recovery
	results := load.finish()
	t.Logf("recovered %v after the broker was started", recovered.Sub(up).Round(time.Millisecond))

	var during, refused int
	for _, r := range results {
		if r.start.After(down) && r.end.Before(up) {
			during++
			if r.code != http.StatusServiceUnavailable {
				t.Errorf("ping while the broker was down got %d", r.code)
			}
			if took := r.end.Sub(r.start); took > 3*time.Second {
				t.Errorf("ping while the broker was down took %v, bound 2s", took)
			}
			refused++
		}
	}
	if during == 0 {
		t.Fatal("no ping was sent while the broker was down")
	}
	t.Logf("%d refused with 503 during the outage", refused)
	ackedInKafka(t, testenv.KafkaBrokers(t), env["HC_KAFKA_TOPIC_EVENTS"], results)
}

// ClickHouse stops for a minute under a steady load of pings. Ingest acknowledges every
// ping throughout (it needs only Kafka); the projector keeps retrying its batch instead
// of crashing, and once ClickHouse is back it catches up within a bound: every
// acknowledged ping is stored exactly once, and no check that kept pinging flips down.
func TestFaultClickHouseDownForAMinute(t *testing.T) {
	const outage, catchUpBound = time.Minute, time.Minute
	env := isolatedEnv(t)
	s := startStack(t, env)
	db := env["HC_CLICKHOUSE_DATABASE"]
	checks := createChecks(t, env, s.base, 10, `"timeout": 60, "grace": 60`)
	ctx, stopPings := context.WithCancel(context.Background())
	defer stopPings()
	// Ten checks every 40 ms: up to 250 pings a second, each check far inside its timeout.
	pings := pingRounds(ctx, s.base, checks, 40*time.Millisecond)
	time.Sleep(5 * time.Second) //nolint:forbidigo // load runs for a while before the fault
	if _, n, _ := pings.snapshot(); n == 0 {
		t.Fatal("no ping was acknowledged before the fault")
	}
	retriesBefore := metricValue(t, s.base, "hcstream_projector_flush_retries_total")

	// Registered last, so it runs first: ClickHouse is back before hcstream shuts down.
	t.Cleanup(func() { localStack(t, "clickhouse.sh", "up") })
	_, beforeOutage, _ := pings.snapshot()
	localStack(t, "clickhouse.sh", "down")
	down := time.Now()
	time.Sleep(outage) //nolint:forbidigo // the outage lasts a minute while pings continue
	retries := metricValue(t, s.base, "hcstream_projector_flush_retries_total") - retriesBefore
	if len(s.done) != 0 {
		t.Fatal("hcstream exited while ClickHouse was down")
	}
	starting := time.Now()
	localStack(t, "clickhouse.sh", "up")
	up := time.Now()
	want, atUp, _ := pings.snapshot()
	conn := testenv.ClickHouseConn(t)
	awaitStored(t, conn, db, want, catchUpBound)
	catchUp := time.Since(up)
	t.Logf("ClickHouse stopped for %v and took %v to start; %d pings acknowledged meanwhile; %v failed flush attempts retried; "+
		"caught up with the %d pings acknowledged by then %v after ClickHouse answered",
		starting.Sub(down).Round(time.Second), up.Sub(starting).Round(time.Millisecond), atUp-beforeOutage, retries, atUp,
		catchUp.Round(time.Millisecond))
	if atUp-beforeOutage == 0 {
		t.Error("no ping was acknowledged while ClickHouse was down (ingest needs only Kafka)")
	}
	if retries == 0 {
		t.Error("the projector reported no failed flush while ClickHouse was down: it did not wait and retry")
	}

	time.Sleep(3 * time.Second) //nolint:forbidigo // the load continues under the recovered projector
	stopPings()
	acked, total, refused := pings.wait(t)
	if len(s.done) != 0 {
		t.Fatal("hcstream exited after ClickHouse came back")
	}
	if len(refused) > 0 {
		t.Errorf("%d of %d pings were not acknowledged, first %q", len(refused), total+int64(len(refused)), refused[0])
	}
	exactlyOncePerCheck(t, db, acked)

	// Every check pinged many times a minute: its only flip is its first ping's new > up.
	stored := storedFlips(t, conn, db)
	published := publishedFlips(t, env["HC_KAFKA_TOPIC_FLIPS"])
	for _, id := range checks {
		if got := stored[id]; len(got) != 1 || got[0].to != "up" {
			t.Errorf("check %s kept pinging; flips table %v, want only new>up", id, got)
		}
		if got := distinctFlips(published[id]); len(got) != 1 || got[0].New != schemas.StatusUp {
			t.Errorf("check %s kept pinging; flips topic %+v, want only new>up", id, got)
		}
	}
}

// metricValue returns the sum of a metric's samples on base's /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping %s/metrics: %v", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scraping %s/metrics: %v", base, err)
	}
	var sum float64
	found := false
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		t.Fatalf("%s/metrics has no %s", base, name)
	}
	return sum
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
