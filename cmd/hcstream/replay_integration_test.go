//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// tableDigests summarises what readers see of each table: row counts and order-free
// hashes of every column the projector derives.
func tableDigests(t *testing.T, db string) string {
	t.Helper()
	conn := testenv.ClickHouseConn(t)
	var out []string
	for _, q := range []string{
		"SELECT count(), sum(cityHash64(toString(check_id), toString(event_id), n, received_us, toString(kind), exit_status, rid, duration_us, scheme, remote_addr, method, ua, body)) FROM %s.pings FINAL",
		"SELECT count(), sum(cityHash64(toString(check_id), flip_seq, at_us, toString(old_status), toString(new_status), reason)) FROM %s.flips FINAL",
		"SELECT count(), sum(cityHash64(toString(check_id), version, n_pings, toString(status), flip_seq, last_ping_us, last_start_us, last_duration_us, held_us, name, streak, tally_hour_us, tally_pings, tally_run_us_sum)) FROM %s.checks FINAL",
		"SELECT count(), sum(cityHash64(toString(check_id), hour, pings, successes, failures, starts, logs, ignored, runs, run_us_sum, run_us_max)) FROM %s.check_hours FINAL",
		"SELECT count(), sum(cityHash64(toString(project_id), hour, partition, version, pings, successes, failures, starts, logs, ignored, runs, run_us_sum, run_us_max)) FROM %s.project_hours FINAL",
		"SELECT count(), sum(cityHash64(toString(project_id), name, api_key_hash, ping_key, version)) FROM %s.projects FINAL",
	} {
		var n, h uint64
		if err := conn.QueryRow(context.Background(), fmt.Sprintf(q, db)).Scan(&n, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d/%d", n, h))
	}
	return fmt.Sprint(out)
}

// `hcstream replay` rebuilds, from the log alone, exactly the rows the live projector
// wrote: pings, flips (timeouts included), check states, hourly rollups and projects.
func TestReplayIsIdentical(t *testing.T) {
	t.Parallel()
	s := startStack(t, isolatedEnv(t))
	key := s.createProject(t)["api_key"]
	var ids []string
	for i := range 5 {
		created := do(t, "POST", s.base+"/api/v3/checks/", key, fmt.Sprintf(`{"name": "replayed-%d", "timeout": 60, "grace": 60}`, i))
		if created.code != http.StatusCreated {
			t.Fatalf("create: %d %s", created.code, created.body)
		}
		ids = append(ids, created.json(t)["uuid"].(string))
	}
	for i := range 200 {
		suffix := []string{"", "/start", "/fail", "/0", "/log", "/3"}[i%6]
		if got := do(t, "POST", s.base+"/ping/"+ids[i%len(ids)]+suffix+"?rid=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "", "body "+fmt.Sprint(i)); got.code != 200 {
			t.Fatalf("ping: %d", got.code)
		}
	}
	db := s.env["HC_CLICKHOUSE_DATABASE"]
	conn := testenv.ClickHouseConn(t)
	testenv.Eventually(t, 20*time.Second, "the live projector did not catch up", func() bool {
		var n uint64
		_ = conn.QueryRow(context.Background(), "SELECT sum(n_pings) FROM "+db+".checks FINAL").Scan(&n)
		return n == 200
	})
	// Every ping is counted once in the hourly rollup, whichever hours they fell in.
	var hourPings, hourRuns, pingRuns uint64
	if err := conn.QueryRow(context.Background(), "SELECT sum(pings), sum(runs) FROM "+db+".check_hours FINAL").Scan(&hourPings, &hourRuns); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".pings FINAL WHERE duration_us >= 0").Scan(&pingRuns); err != nil {
		t.Fatal(err)
	}
	var projectPings, projectRuns uint64
	if err := conn.QueryRow(context.Background(), "SELECT sum(pings), sum(runs) FROM "+db+".project_hours FINAL").Scan(&projectPings, &projectRuns); err != nil {
		t.Fatal(err)
	}
	if projectPings != 200 || projectRuns != pingRuns {
		t.Errorf("project_hours counts %d pings and %d runs; the pings table has 200 pings and %d runs", projectPings, projectRuns, pingRuns)
	}
	if hourPings != 200 || hourRuns != pingRuns {
		t.Errorf("check_hours counts %d pings and %d runs; the pings table has 200 pings and %d runs", hourPings, hourRuns, pingRuns)
	}
	// Ticks keep arriving, but no deadline falls within the test, so they change no row.
	time.Sleep(1500 * time.Millisecond) //nolint:forbidigo // the last batch settles

	into := db + "_replay"
	t.Cleanup(func() { testenv.DropDatabase(t, conn, into) })
	var out bytes.Buffer
	if code := run(context.Background(), []string{"replay", "--into", into}, func(k string) string { return s.env[k] }, &out, io.Discard); code != 0 {
		t.Fatalf("replay exited %d", code)
	}
	var summary struct {
		Events int64 `json:"events"`
	}
	if err := json.Unmarshal(out.Bytes(), &summary); err != nil || summary.Events < 200 {
		t.Fatalf("replay printed %q", out.String())
	}
	if live, replayed := tableDigests(t, db), tableDigests(t, into); replayed != live {
		t.Errorf("replay differs from the live projection:\n live   %s\n replay %s", live, replayed)
	}
	if code := run(context.Background(), []string{"replay", "--into", db}, func(k string) string { return s.env[k] }, io.Discard, io.Discard); code != 2 {
		t.Errorf("replay into the live database exited %d, want 2", code)
	}
}
