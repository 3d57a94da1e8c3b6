//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// rollupTotals sums a rollup table's counts for the hours before or from an hour.
func rollupTotals(t *testing.T, db, table, hours string, at time.Time) string {
	t.Helper()
	var pings, successes, failures, starts, logs, ignored, runs uint64
	var runSum, runMax int64
	err := testenv.ClickHouseConn(t).QueryRow(context.Background(), fmt.Sprintf("SELECT sum(pings), sum(successes), sum(failures), sum(starts), sum(logs), sum(ignored), sum(runs), sum(run_us_sum), max(run_us_max) "+
		"FROM %s.%s FINAL WHERE hour %s toDateTime(%d)", db, table, hours, at.Unix())).Scan(&pings, &successes, &failures, &starts, &logs, &ignored, &runs, &runSum, &runMax)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pings %d, success %d, fail %d, start %d, log %d, ign %d, runs %d (%d us, longest %d us)", pings, successes, failures, starts, logs, ignored, runs, runSum, runMax)
}

// Pings stored before the rollups existed are rolled up by `hcstream backfill-rollups`
// exactly as the projector rolls up pings: copies of the live pings moved two days back
// (as a database from before the rollups would hold them) come out with the projector's
// counts, the projector's own hours are left alone, and a second run changes nothing.
func TestBackfillRollupsCountsAsTheProjector(t *testing.T) {
	t.Parallel()
	s := startStack(t, isolatedEnv(t))
	key := s.createProject(t)["api_key"]
	created := do(t, "POST", s.base+"/api/v3/checks/", key, `{"name": "backfilled", "methods": "POST"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	ping := s.base + "/ping/" + created.json(t)["uuid"].(string)
	for i, suffix := range []string{"/start?rid=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "?rid=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "/fail", "/log", "/start", "/0", "/3", ""} {
		method := "POST"
		if i == len("12345678")-1 {
			method = "GET" // ignored: the check takes POST only
		}
		if got := do(t, method, ping+suffix, "", "body"); got.code != http.StatusOK {
			t.Fatalf("ping %s: %d", suffix, got.code)
		}
		time.Sleep(10 * time.Millisecond) //nolint:forbidigo // runs last a few milliseconds
	}
	db := s.env["HC_CLICKHOUSE_DATABASE"]
	conn := testenv.ClickHouseConn(t)
	// The projector writes the two rollups with concurrent inserts, so either can be
	// stored first.
	testenv.Eventually(t, 20*time.Second, "the projector did not roll the pings up", func() bool {
		for _, table := range []string{"check_hours", "project_hours"} {
			var n uint64
			if err := conn.QueryRow(context.Background(), "SELECT sum(pings) FROM "+db+"."+table+" FINAL").Scan(&n); err != nil || n != 8 {
				return false
			}
		}
		return true
	})
	var began uint32
	if err := conn.QueryRow(context.Background(), "SELECT toUInt32(min(hour)) FROM "+db+".project_hours").Scan(&began); err != nil {
		t.Fatal(err)
	}
	since := time.Unix(int64(began), 0)
	live := rollupTotals(t, db, "check_hours", ">=", since)
	if want := rollupTotals(t, db, "project_hours", ">=", since); live != want {
		t.Fatalf("the live rollups disagree: %s and %s", live, want)
	}

	t.Logf("live rollups: %s", live)
	const back = 48 * 3600
	if err := conn.Exec(context.Background(), fmt.Sprintf("INSERT INTO %[1]s.pings SELECT project_id, check_id, event_id, n, toDateTime(toUInt32(ts) - %[2]d), received_us - %[2]d000000, "+
		"kind, exit_status, rid, duration_us, scheme, remote_addr, method, ua, body FROM %[1]s.pings", db, back)); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return s.env[k] }
	for attempt := range 2 {
		var out, stderr bytes.Buffer
		if code := run(context.Background(), []string{"backfill-rollups"}, env, &out, &stderr); code != 0 {
			t.Log(stderr.String())
			t.Fatalf("backfill-rollups exited %d", code)
		}
		var result struct{ Pings uint64 }
		if err := json.Unmarshal(out.Bytes(), &result); err != nil || result.Pings != 8 {
			t.Fatalf("run %d printed %q, want 8 pings", attempt+1, out.String())
		}
		for _, table := range []string{"check_hours", "project_hours"} {
			if got := rollupTotals(t, db, table, "<", since); got != live {
				t.Errorf("run %d, %s before the rollups began: %s, want the projector's %s", attempt+1, table, got, live)
			}
			if got := rollupTotals(t, db, table, ">=", since); got != live {
				t.Errorf("run %d, %s from the rollups on: %s, want it left at %s", attempt+1, table, got, live)
			}
		}
	}
}
