package query

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

func TestAnalyticsWindow(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 34, 56, 0, time.UTC)
	tests := []struct {
		query            string
		wantFrom, wantTo time.Time
		wantBucket       string
		wantMsg          string
	}{
		{"", now.Add(-defaultWindow).Truncate(time.Hour), now.Truncate(time.Hour).Add(time.Hour), "hour", ""},
		{"from=2026-11-25T10:00:00Z&to=2026-11-25T11:00:00Z", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), "hour", ""},
		{"from=2026-11-25T10:30:00%2B02:00&to=2026-11-25T11:00:01Z", time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), "hour", ""},
		{"from=2026-11-01T05:00:00Z&bucket=day", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), "day", ""},
		{"from=yesterday", time.Time{}, time.Time{}, "", "from is not an RFC 3339 time"},
		{"to=1764000000", time.Time{}, time.Time{}, "", "to is not an RFC 3339 time"},
		{"bucket=minute", time.Time{}, time.Time{}, "", "bucket must be hour or day"},
		{"from=2026-11-25T12:00:00Z&to=2026-11-25T12:00:00Z", time.Time{}, time.Time{}, "", "from must be before to"},
		{"from=2025-01-01T00:00:00Z", time.Time{}, time.Time{}, "", "the window holds more than 10000 buckets; choose a shorter window or bucket=day"},
		{"from=2025-01-01T00:00:00Z&bucket=day", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), "day", ""},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		from, to, _, bucket, msg := analyticsWindow(q, now)
		if msg != tt.wantMsg {
			t.Errorf("%q: message %q, want %q", tt.query, msg, tt.wantMsg)
			continue
		}
		if msg == "" && (!from.Equal(tt.wantFrom) || !to.Equal(tt.wantTo) || bucket != tt.wantBucket) {
			t.Errorf("%q: [%v, %v) by %s, want [%v, %v) by %s", tt.query, from, to, bucket, tt.wantFrom, tt.wantTo, tt.wantBucket)
		}
	}
}

func TestStatusTime(t *testing.T) {
	from := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	to := from.Add(10 * time.Hour)
	at := func(h float64) time.Time { return from.Add(time.Duration(h * float64(time.Hour))) }
	tests := []struct {
		name                string
		history             store.StatusHistory
		wantDown, wantWatch time.Duration
	}{
		{"up throughout", store.StatusHistory{Initial: "up"}, 0, 10 * time.Hour},
		{"new, then up at 4h", store.StatusHistory{Initial: "new", Changes: []store.StatusChange{{At: at(4), Status: "up"}}}, 0, 6 * time.Hour},
		{"down 2h to 3.5h", store.StatusHistory{Initial: "up", Changes: []store.StatusChange{{At: at(2), Status: "down"}, {At: at(3.5), Status: "up"}}},
			90 * time.Minute, 10 * time.Hour},
		{"paused while down", store.StatusHistory{Initial: "down", Changes: []store.StatusChange{{At: at(1), Status: "paused"}, {At: at(9), Status: "new"}}},
			time.Hour, time.Hour},
		{"down to the end", store.StatusHistory{Initial: "up", Changes: []store.StatusChange{{At: at(9), Status: "down"}}}, time.Hour, 10 * time.Hour},
	}
	for _, tt := range tests {
		down, watched := statusTime(tt.history, from, to)
		if down != tt.wantDown || watched != tt.wantWatch {
			t.Errorf("%s: down %v of %v monitored, want %v of %v", tt.name, down, watched, tt.wantDown, tt.wantWatch)
		}
	}
}

func TestCheckAnalytics(t *testing.T) {
	r, log := newTestAPI(t)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "backup"}`)
	var body map[string]any
	_ = json.Unmarshal(created.Body.Bytes(), &body)
	id := body["uuid"].(string)
	hour := testNow.Truncate(time.Hour)
	log.analytics = fakeAnalytics{
		buckets: []store.Bucket{
			{Start: hour.Add(-2 * time.Hour), Pings: 10, Successes: 6, Failures: 2, Starts: 1, Logs: 1, Runs: 2, RunTotal: 3 * time.Minute},
			{Start: hour, Pings: 4, Successes: 3, Ignored: 1},
		},
		runs:      store.RunStats{Count: 2, Mean: 90 * time.Second, HasPercentiles: true, P50: time.Minute, P95: 2 * time.Minute, P99: 2 * time.Minute, Longest: 2 * time.Minute},
		histories: []store.StatusHistory{{Initial: "up", Changes: []store.StatusChange{{At: hour.Add(-90 * time.Minute), Status: "down"}, {At: hour.Add(-60 * time.Minute), Status: "up"}}}},
	}
	url := "/api/v3/checks/" + id + "/analytics/?from=" + hour.Add(-3*time.Hour).Format(time.RFC3339) + "&to=" + hour.Add(time.Hour).Format(time.RFC3339)
	rec := call(r, "GET", url, roKey, "")
	if rec.Code != 200 {
		t.Fatalf("analytics: %d %s", rec.Code, rec.Body.String())
	}
	var got analyticsJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	// In float64 arithmetic, as the API computes it (constants would fold exactly).
	uptime := func(down, monitored float64) float64 { return 100 * (1 - down/monitored) }
	want := analyticsJSON{
		From: "2026-11-25T09:00:00+00:00", To: "2026-11-25T13:00:00+00:00", Bucket: "hour", Checks: 1,
		// The window reaches 13:00, but it is 12:00: the last hour is not monitored yet.
		Uptime: f(uptime(1800, 10800)), DownSeconds: 1800, MonitoredSeconds: 10800,
		Pings:        pingCounts{Total: 14, Success: 9, Fail: 2, Start: 1, Log: 1, Ign: 1},
		FailureRatio: f(2.0 / 11),
		Runs:         runsJSON{Count: 2, Mean: f(90), P50: f(60), P95: f(120), P99: f(120), Longest: f(120)},
		Series: []bucketJSON{
			{Start: "2026-11-25T09:00:00+00:00"},
			{Start: "2026-11-25T10:00:00+00:00", Pings: pingCounts{Total: 10, Success: 6, Fail: 2, Start: 1, Log: 1}, FailureRatio: f(0.25), Runs: 2, RunMean: f(90)},
			{Start: "2026-11-25T11:00:00+00:00"},
			{Start: "2026-11-25T12:00:00+00:00", Pings: pingCounts{Total: 4, Success: 3, Ign: 1}, FailureRatio: f(0)},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("analytics (-want +got):\n%s", diff)
	}
	if len(log.scopes) != 1 || log.scopes[0].Check.String() != id || log.scopes[0].Project != (schemas.ID{1}) {
		t.Errorf("store asked for scopes %v", log.scopes)
	}

	for _, tt := range []struct {
		path, key string
		code      int
		body      string
	}{
		{"/api/v3/checks/" + id + "/analytics/?bucket=week", rwKey, 400, `{"error": "bucket must be hour or day"}`},
		{"/api/v3/checks/" + id + "/analytics/", otherKey, 403, ""},
		{"/api/v3/checks/00000000-0000-4000-8000-000000000000/analytics/", rwKey, 404, ""},
		{"/api/v3/checks/" + id + "/analytics/", "", 401, `{"error": "missing api key"}`},
		{"/api/v3/analytics/?from=x", rwKey, 400, `{"error": "from is not an RFC 3339 time"}`},
	} {
		rec := call(r, "GET", tt.path, tt.key, "")
		if rec.Code != tt.code || (tt.body != "" && rec.Body.String() != tt.body) {
			t.Errorf("GET %s: %d %s, want %d %s", tt.path, rec.Code, rec.Body.String(), tt.code, tt.body)
		}
	}
	if rec := call(r, "GET", "/api/v3/checks/"+id+"/analytics", rwKey, ""); rec.Code != 301 {
		t.Errorf("without the slash: %d, want a redirect", rec.Code)
	}
}

func TestProjectAnalyticsCountsChecks(t *testing.T) {
	r, log := newTestAPI(t)
	for _, name := range []string{"a", "b", "c"} {
		call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "`+name+`"}`)
	}
	rec := call(r, "GET", "/api/v3/analytics/?bucket=day", roKey, "")
	var got analyticsJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("project analytics: %d %s", rec.Code, rec.Body.String())
	}
	if got.Checks != 3 || got.Bucket != "day" || len(got.Series) != 31 || got.Uptime != nil || got.FailureRatio != nil || got.Runs.P50 != nil {
		t.Errorf("project analytics of checks without history: %+v", got)
	}
	if len(log.scopes) != 1 || !log.scopes[0].Check.IsZero() {
		t.Errorf("store asked for scopes %v, want the whole project", log.scopes)
	}
	// The counts are read once ClickHouse holds what the check list shows.
	if want := []string{"await 3 rows", "buckets"}; !slices.Equal(log.reads, want) {
		t.Errorf("store reads %q, want %q", log.reads, want)
	}
}

// A deleted check leaves no flip behind: the project's uptime leaves it out, as its
// check count does, instead of counting its last status on for good.
func TestProjectAnalyticsLeavesOutDeletedChecks(t *testing.T) {
	r, log := newTestAPI(t)
	ids := map[string]schemas.ID{}
	for _, name := range []string{"kept", "deleted"} {
		var c struct{ UUID string }
		_ = json.Unmarshal(call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "`+name+`"}`).Body.Bytes(), &c)
		ids[name] = mustParseID(t, c.UUID)
	}
	if rec := call(r, "DELETE", "/api/v3/checks/"+ids["deleted"].String(), rwKey, ""); rec.Code != 200 {
		t.Fatalf("delete: %d", rec.Code)
	}
	log.analytics.histories = []store.StatusHistory{{Check: ids["kept"], Initial: "up"}, {Check: ids["deleted"], Initial: "down"}}
	hour := testNow.Truncate(time.Hour)
	rec := call(r, "GET", "/api/v3/analytics/?from="+hour.Add(-3*time.Hour).Format(time.RFC3339)+"&to="+hour.Add(-time.Hour).Format(time.RFC3339), roKey, "")
	var got analyticsJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("project analytics: %d %s", rec.Code, rec.Body.String())
	}
	if got.Checks != 1 || got.MonitoredSeconds != 7200 || got.DownSeconds != 0 || got.Uptime == nil || *got.Uptime != 100 {
		t.Errorf("checks %d, monitored %v s, down %v s, uptime %v; want 1, 7200, 0, 100", got.Checks, got.MonitoredSeconds, got.DownSeconds, got.Uptime)
	}
}

// Durations print as the microseconds they are.
func TestSecondsPrintAsStored(t *testing.T) {
	if got, _ := json.Marshal(seconds(9708704 * time.Microsecond)); string(got) != "9.708704" {
		t.Errorf("9,708,704 µs printed as %s", got)
	}
}
