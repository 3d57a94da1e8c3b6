//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// stack is one in-process hcstream on isolated topics and database.
type stack struct {
	base string
	env  map[string]string
	done chan int
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// isolatedEnv returns settings that point one test at its own topics, group and database.
func isolatedEnv(t *testing.T) map[string]string {
	t.Helper()
	name := testenv.UniqueName(t)
	env := map[string]string{
		"HC_LISTEN":               freeAddr(t),
		"HC_KAFKA_BROKERS":        strings.Join(testenv.KafkaBrokers(t), ","),
		"HC_KAFKA_TOPIC_EVENTS":   name + "_events",
		"HC_KAFKA_TOPIC_REGISTRY": name + "_registry",
		"HC_KAFKA_TOPIC_FLIPS":    name + "_flips",
		"HC_KAFKA_PARTITIONS":     "3",
		"HC_PROJECTOR_GROUP":      name,
		"HC_CLICKHOUSE_ADDR":      testenv.ClickHouseAddr(t),
		"HC_CLICKHOUSE_DATABASE":  name,
		"HC_LOG_LEVEL":            "warn",
	}
	env["HC_SITE_ROOT"] = "http://" + env["HC_LISTEN"]
	testenv.DeleteTopicsAfter(t, env["HC_KAFKA_TOPIC_EVENTS"], env["HC_KAFKA_TOPIC_REGISTRY"], env["HC_KAFKA_TOPIC_FLIPS"])
	conn := testenv.ClickHouseConn(t)
	t.Cleanup(func() { testenv.DropDatabase(t, conn, env["HC_CLICKHOUSE_DATABASE"]) })
	return env
}

// launch runs `hcstream all` in-process until the test ends, checking that it shuts
// down cleanly, and returns at once.
func launch(t *testing.T, env map[string]string) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{base: "http://" + env["HC_LISTEN"], env: env, done: make(chan int, 1)}
	go func() {
		s.done <- run(ctx, []string{"all"}, func(k string) string { return env[k] }, io.Discard, testWriter{t})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-s.done:
			if code != 0 {
				t.Errorf("hcstream exited with %d after shutdown", code)
			}
		case <-time.After(30 * time.Second):
			t.Error("hcstream did not shut down within 30s")
		}
	})
	return s
}

// startStack launches hcstream and waits for 200 on the status endpoint.
func startStack(t *testing.T, env map[string]string) *stack {
	t.Helper()
	s := launch(t, env)
	testenv.Eventually(t, 60*time.Second, "status endpoint never answered 200", func() bool {
		resp, err := http.Get(s.base + "/api/v3/status/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// createProject runs `hcstream project create` against the stack's settings.
func (s *stack) createProject(t *testing.T) map[string]string {
	t.Helper()
	var out bytes.Buffer
	code := run(context.Background(), []string{"project", "create", "--name", "e2e"}, func(k string) string { return s.env[k] }, &out, testWriter{t})
	if code != 0 {
		t.Fatalf("project create exited %d", code)
	}
	var keys map[string]string
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil {
		t.Fatalf("project create printed %q: %v", out.String(), err)
	}
	for _, k := range []string{"project_id", "api_key", "api_key_readonly", "ping_key"} {
		if keys[k] == "" {
			t.Fatalf("project create output lacks %s: %s", k, out.String())
		}
	}
	return keys
}

type response struct {
	code   int
	body   string
	header http.Header
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("response %d %q is not JSON: %v", r.code, r.body, err)
	}
	return v
}

func do(t *testing.T, method, url, key, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, body: string(b), header: resp.Header}
}

// The slice of issue A: a check created through the API is listed at once and pingable
// at once; a ping is acknowledged, folded, stored once in ClickHouse and listed.
func TestSliceCreateCheckPingAndRead(t *testing.T) {
	t.Parallel()
	s := startStack(t, isolatedEnv(t))
	keys := s.createProject(t)
	key := keys["api_key"]

	created := do(t, "POST", s.base+"/api/v3/checks/", key, `{"name": "Backups", "tags": "prod db", "timeout": 3600, "grace": 300}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	check := created.json(t)
	id, _ := check["uuid"].(string)
	if check["status"] != "new" || check["timeout"] != 3600.0 || check["grace"] != 300.0 || check["ping_url"] != s.base+"/ping/"+id {
		t.Errorf("created check: %s", created.body)
	}
	// Key order is Healthchecks' to_dict order.
	if !strings.HasPrefix(created.body, `{"name": "Backups", "slug": "", "tags": "prod db", "desc": "", "grace": 300, "n_pings": 0, "status": "new"`) {
		t.Errorf("key order: %s", created.body)
	}

	list := do(t, "GET", s.base+"/api/v3/checks/", key, "")
	if list.code != 200 || !strings.Contains(list.body, id) {
		t.Fatalf("the caller's next read must see its write: %d %s", list.code, list.body)
	}

	beforePings := time.Now().UTC()
	ping := do(t, "GET", s.base+"/ping/"+id, "", "")
	if ping.code != 200 || ping.body != "OK" || ping.header.Get("Access-Control-Allow-Origin") != "*" || ping.header.Get("Ping-Body-Limit") != "10000" {
		t.Fatalf("ping right after create: %d %q %v", ping.code, ping.body, ping.header)
	}
	if got := do(t, "POST", s.base+"/ping/"+id+"/fail?rid=9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D", "", "disk full"); got.code != 200 {
		t.Fatalf("fail ping: %d %s", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/ping/00000000-0000-4000-8000-000000000000", "", ""); got.code != 404 || got.body != "not found" {
		t.Errorf("unknown check: %d %q", got.code, got.body)
	}

	var one map[string]any
	testenv.Eventually(t, 10*time.Second, "the pings never reached the check state", func() bool {
		one = do(t, "GET", s.base+"/api/v3/checks/"+id, key, "").json(t)
		return one["n_pings"] == 2.0
	})
	if one["status"] != "down" || one["last_ping"] == nil {
		t.Errorf("after success then fail: %v", one)
	}
	// The same check, as its history tells it at two instants.
	stateAt := func(at time.Time) map[string]any {
		got := do(t, "GET", s.base+"/api/v3/checks/"+id+"/state?at="+at.Format(time.RFC3339Nano), key, "")
		if got.code != 200 {
			t.Fatalf("state at %v: %d %s", at, got.code, got.body)
		}
		return got.json(t)
	}
	if past := stateAt(beforePings); past["status"] != "new" || past["n_pings"] != 0.0 || past["last_ping"] != nil || past["flip_seq"] != 0.0 {
		t.Errorf("state before the pings: %v", past)
	}
	// Neither ping had a start to measure from: no last_duration, in either answer.
	if now := stateAt(time.Now().UTC()); now["status"] != "down" || now["n_pings"] != 2.0 || now["last_ping"] != one["last_ping"] || now["flip_seq"] != 2.0 ||
		now["last_duration"] != nil || one["last_duration"] != nil {
		t.Errorf("state now: %v, check: %v", now, one)
	}
	pings := do(t, "GET", s.base+"/api/v3/checks/"+id+"/pings/", key, "")
	var list2 struct {
		Pings []map[string]any `json:"pings"`
	}
	if err := json.Unmarshal([]byte(pings.body), &list2); err != nil || len(list2.Pings) != 2 {
		t.Fatalf("pings: %d %s", pings.code, pings.body)
	}
	if p := list2.Pings[0]; p["type"] != "fail" || p["n"] != 2.0 || p["rid"] != "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" || p["method"] != "POST" || p["body_url"] == nil {
		t.Errorf("newest ping: %v", p)
	}
	if p := list2.Pings[1]; p["type"] != "success" || p["n"] != 1.0 || p["body_url"] != nil {
		t.Errorf("oldest ping: %v", p)
	}

	if got := do(t, "GET", list2.Pings[0]["body_url"].(string), key, ""); got.code != 200 || got.body != "disk full" || got.header.Get("Content-Type") != "text/plain" {
		t.Errorf("ping body: %d %q %v", got.code, got.body, got.header.Get("Content-Type"))
	}
	if got := do(t, "GET", s.base+"/api/v3/checks/"+id+"/pings/1/body", key, ""); got.code != 404 {
		t.Errorf("a ping without a body: %d", got.code)
	}

	// The read-only key sees the check without secrets and may not list pings.
	ro := do(t, "GET", s.base+"/api/v3/checks/", keys["api_key_readonly"], "")
	if ro.code != 200 || strings.Contains(ro.body, id) || !strings.Contains(ro.body, "unique_key") {
		t.Errorf("read-only list: %d %s", ro.code, ro.body)
	}
	if got := do(t, "GET", s.base+"/api/v3/checks/"+id+"/pings/", keys["api_key_readonly"], ""); got.code != 401 {
		t.Errorf("read-only pings: %d %s", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/api/v3/checks/", "", ""); got.code != 401 || got.body != `{"error": "missing api key"}` {
		t.Errorf("no key: %d %q", got.code, got.body)
	}

	// Pause, resume and delete go through the log like everything else; a deleted check
	// can no longer be pinged.
	if got := do(t, "POST", s.base+"/api/v3/checks/"+id+"/pause", key, ""); got.code != 200 || got.json(t)["status"] != "paused" {
		t.Errorf("pause: %d %s", got.code, got.body)
	}
	if got := do(t, "POST", s.base+"/api/v3/checks/"+id+"/resume", key, ""); got.code != 200 || got.json(t)["status"] != "new" {
		t.Errorf("resume: %d %s", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/api/v3/checks/"+id, key, ""); got.json(t)["status"] != "new" {
		t.Errorf("the caller's next read after resume: %s", got.body)
	}

	// Exactly one row per ping in ClickHouse, even before merges.
	conn := testenv.ClickHouseConn(t)
	var rows uint64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.pings", s.env["HC_CLICKHOUSE_DATABASE"])).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Errorf("%d ping rows in ClickHouse, want 2", rows)
	}

	if got := do(t, "DELETE", s.base+"/api/v3/checks/"+id, key, ""); got.code != 200 {
		t.Fatalf("delete: %d %s", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/ping/"+id, "", ""); got.code != 404 {
		t.Errorf("ping after delete: %d %q", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/api/v3/checks/"+id, key, ""); got.code != 404 {
		t.Errorf("get after delete: %d", got.code)
	}

	// The projector's producers count what they sent by topic: the project's and the
	// check's registry records, and the check's two flips (up, then down).
	for topic, records := range map[string]float64{"registry": 2, "flips": 2} {
		testenv.Eventually(t, 10*time.Second, "the projector's "+topic+" producer did not count its records", func() bool {
			return metricValue(t, s.base, `hcstream_projector_produce_records_total{topic="`+topic+`"}`) >= records &&
				metricValue(t, s.base, `hcstream_projector_produce_requests_total{topic="`+topic+`"}`) >= 1
		})
	}
}

// A check that stops pinging goes down when stream time passes its deadline, with a
// timeout flip dated exactly at last_ping + timeout + grace, however late the projector
// learns that time has passed.
func TestTimeoutFlipByStreamTime(t *testing.T) {
	t.Parallel()
	s := startStack(t, isolatedEnv(t))
	key := s.createProject(t)["api_key"]
	created := do(t, "POST", s.base+"/api/v3/checks/", key, `{"name": "nightly", "timeout": 60, "grace": 60}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	id := created.json(t)["uuid"].(string)
	if got := do(t, "GET", s.base+"/ping/"+id, "", ""); got.code != 200 {
		t.Fatalf("ping: %d", got.code)
	}
	testenv.Eventually(t, 10*time.Second, "the ping was not folded", func() bool {
		return do(t, "GET", s.base+"/api/v3/checks/"+id, key, "").json(t)["status"] == "up"
	})

	// Three minutes of stream time pass, tick by tick, faster than the wall clock (as
	// when a projector catches up a backlog). A single jump would be an ingest outage.
	brokers := testenv.KafkaBrokers(t)
	topic := s.env["HC_KAFKA_TOPIC_EVENTS"]
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: kafkarec.Balancer(), RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Transport: &kafka.Transport{}}
	defer w.Close()
	now := time.Now()
	var ticks []kafka.Message
	partitions, _ := strconv.Atoi(s.env["HC_KAFKA_PARTITIONS"])
	for second := 1; second <= 180; second++ {
		for p := range partitions {
			m, err := kafkarec.Message(schemas.Event{ID: schemas.NewID(), At: now.Add(time.Duration(second) * time.Second), Body: schemas.ClockTicked{}})
			if err != nil {
				t.Fatal(err)
			}
			m.Key = kafkarec.PartitionKey(p, partitions)
			ticks = append(ticks, m)
		}
	}
	if err := w.WriteMessages(context.Background(), ticks...); err != nil {
		t.Fatal(err)
	}

	conn := testenv.ClickHouseConn(t)
	db := s.env["HC_CLICKHOUSE_DATABASE"]
	type flip struct {
		seq      uint64
		old, new string
		reason   string
		atMicros int64
	}
	var got []flip
	testenv.Eventually(t, 15*time.Second, "no timeout flip was written", func() bool {
		rows, err := conn.Query(context.Background(), "SELECT f.flip_seq, f.old_status, f.new_status, f.reason, f.at_us FROM "+db+".flips AS f FINAL ORDER BY f.flip_seq")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got = got[:0]
		for rows.Next() {
			var f flip
			if err := rows.Scan(&f.seq, &f.old, &f.new, &f.reason, &f.atMicros); err != nil {
				t.Fatal(err)
			}
			got = append(got, f)
		}
		return len(got) == 2
	})
	// The tables of one write are inserted at once, so the flips can be in before the
	// ping they follow.
	var lastPing int64
	testenv.Eventually(t, 15*time.Second, "the ping row was not written", func() bool {
		return conn.QueryRow(context.Background(), "SELECT received_us FROM "+db+".pings FINAL").Scan(&lastPing) == nil
	})
	if got[0].new != "up" || got[1].old != "up" || got[1].new != "down" || got[1].reason != "timeout" {
		t.Errorf("flips: %+v", got)
	}
	if want := lastPing + 120_000_000; got[1].atMicros != want {
		t.Errorf("timeout flip dated %d, want last ping + 120 s = %d", got[1].atMicros, want)
	}
	// Notifiers read the same flips from the flips topic.
	var published []schemas.StatusChanged
	for _, m := range testenv.ReadAll(t, s.env["HC_KAFKA_TOPIC_FLIPS"]) {
		ev, err := kafkarec.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		if ev.CheckID.String() != id || string(m.Key) != id {
			t.Errorf("flip record for %s keyed %q", ev.CheckID, m.Key)
		}
		published = append(published, ev.Body.(schemas.StatusChanged))
	}
	if len(published) != 2 || published[1].Reason != "timeout" || published[1].New != schemas.StatusDown || published[1].FlipSeq != 2 {
		t.Errorf("flips topic: %+v", published)
	}
	// The API lists them too, newest first.
	flips := do(t, "GET", s.base+"/api/v3/checks/"+id+"/flips/", key, "")
	var listed struct {
		Flips []struct {
			Timestamp string `json:"timestamp"`
			Up        int    `json:"up"`
		} `json:"flips"`
	}
	if err := json.Unmarshal([]byte(flips.body), &listed); err != nil || len(listed.Flips) != 2 || listed.Flips[0].Up != 0 || listed.Flips[1].Up != 1 {
		t.Errorf("flips list: %d %s", flips.code, flips.body)
	}
	if got := do(t, "GET", s.base+"/api/v3/checks/"+id+"/flips/?start=abc", key, ""); got.code != 400 || got.body != "" {
		t.Errorf("bad flips filter: %d %q", got.code, got.body)
	}
	// Flips and check states are separate INSERTs of one batch: the state follows shortly.
	testenv.Eventually(t, 10*time.Second, "the check's status did not become down", func() bool {
		return do(t, "GET", s.base+"/api/v3/checks/"+id, key, "").json(t)["status"] == "down"
	})
}
