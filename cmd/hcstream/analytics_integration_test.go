//go:build integration

package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// The analytics endpoints answer from ClickHouse: counts by kind from the hourly
// rollups (check_hours for a check, project_hours for a project), run durations from
// the pings, uptime from the flips.
func TestAnalyticsFromClickHouse(t *testing.T) {
	t.Parallel()
	s := startStack(t, isolatedEnv(t))
	key := s.createProject(t)["api_key"]
	var ids []string
	for _, name := range []string{"backup", "report"} {
		created := do(t, "POST", s.base+"/api/v3/checks/", key, `{"name": "`+name+`", "timeout": 3600}`)
		if created.code != http.StatusCreated {
			t.Fatalf("create: %d %s", created.code, created.body)
		}
		ids = append(ids, created.json(t)["uuid"].(string))
	}
	begin := time.Now().UTC()
	for _, path := range []string{"/start", "", "/start", "/fail", "/log", "", "/0"} {
		if got := do(t, "POST", s.base+"/ping/"+ids[0]+path, "", ""); got.code != 200 {
			t.Fatalf("ping %s: %d", path, got.code)
		}
		time.Sleep(20 * time.Millisecond) //nolint:forbidigo // runs get durations of a few milliseconds
	}
	if got := do(t, "GET", s.base+"/ping/"+ids[1], "", ""); got.code != 200 {
		t.Fatalf("ping: %d", got.code)
	}
	testenv.Eventually(t, 20*time.Second, "the pings never reached the checks", func() bool {
		return do(t, "GET", s.base+"/api/v3/checks/"+ids[0], key, "").json(t)["n_pings"] == 7.0 &&
			do(t, "GET", s.base+"/api/v3/checks/"+ids[1], key, "").json(t)["n_pings"] == 1.0
	})

	type analytics struct {
		Checks int      `json:"checks"`
		Uptime *float64 `json:"uptime"`
		Down   float64  `json:"down_seconds"`
		Pings  struct {
			Total, Success, Fail, Start, Log, Ign uint64
		} `json:"pings"`
		FailureRatio *float64 `json:"failure_ratio"`
		Runs         struct {
			Count             uint64
			P50, P99, Longest *float64
		} `json:"runs"`
		Series []struct {
			Start string `json:"start"`
			Pings struct{ Total uint64 }
		} `json:"series"`
	}
	get := func(path string) analytics {
		t.Helper()
		got := do(t, "GET", s.base+path, key, "")
		if got.code != 200 {
			t.Fatalf("GET %s: %d %s", path, got.code, got.body)
		}
		var a analytics
		if err := json.Unmarshal([]byte(got.body), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	window := "?from=" + begin.Add(-time.Hour).Format(time.RFC3339) + "&to=" + time.Now().UTC().Add(time.Minute).Format(time.RFC3339)
	one := get("/api/v3/checks/" + ids[0] + "/analytics/" + window)
	if p := one.Pings; p.Total != 7 || p.Success != 3 || p.Fail != 1 || p.Start != 2 || p.Log != 1 || p.Ign != 0 {
		t.Errorf("ping counts of one check: %+v", p)
	}
	if one.FailureRatio == nil || *one.FailureRatio != 0.25 || one.Runs.Count != 2 || one.Runs.P50 == nil || *one.Runs.Longest < 0.02 {
		t.Errorf("failure ratio %v, runs %+v", one.FailureRatio, one.Runs)
	}
	// Nearest rank: the median of two runs is the shorter, p99 the longer.
	if r := one.Runs; r.P50 == nil || r.P99 == nil || r.Longest == nil || *r.P50 >= *r.Longest || *r.P99 != *r.Longest {
		t.Errorf("percentiles of two runs: p50 %v, p99 %v, longest %v; want p50 the shorter, p99 the longer", *r.P50, *r.P99, *r.Longest)
	}
	// up, down at the fail, up again at the next success: the down time is the gap
	// between those two pings.
	if one.Uptime == nil || *one.Uptime >= 100 || one.Down <= 0 || one.Down > 5 {
		t.Errorf("uptime %v, down %v s", one.Uptime, one.Down)
	}
	var total uint64
	for _, b := range one.Series {
		total += b.Pings.Total
	}
	if total != 7 || len(one.Series) < 2 {
		t.Errorf("series %+v", one.Series)
	}

	all := get("/api/v3/analytics/" + window + "&bucket=day")
	if all.Checks != 2 || all.Pings.Total != 8 || all.Pings.Success != 4 || all.Runs.Count != 2 || all.Runs.P50 != nil || all.Runs.Longest == nil {
		t.Errorf("project analytics: %+v", all)
	}
}
