package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/auth"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// fakeLog is an event log whose "projector" folds every appended event at once.
type fakeLog struct {
	mu       sync.Mutex
	projects map[string]store.Project
	checks   map[schemas.ID]history.CheckRow
	offset   uint64
	// analytics is what the analytics reads return; scopes records what they were asked.
	analytics fakeAnalytics
	scopes    []store.Scope
	// reads lists the waits for rows and the analytics reads, in order.
	reads     []string
	secretErr error
	// journal lists the checks Append changed, in order, for ProjectChanges; a new
	// journalEpoch makes every earlier cursor useless, as a partition folded afresh does.
	journal      []schemas.ID
	journalEpoch uint64
}

type fakeAnalytics struct {
	buckets   []store.Bucket
	runs      store.RunStats
	histories []store.StatusHistory
}

func (f *fakeLog) Buckets(_ context.Context, s store.Scope, _, _ time.Time, _ time.Duration) ([]store.Bucket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = append(f.scopes, s)
	f.reads = append(f.reads, "buckets")
	return f.analytics.buckets, nil
}

func (f *fakeLog) AwaitRowsWritten(_ context.Context, rows []history.CheckRow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, fmt.Sprintf("await %d rows", len(rows)))
	return nil
}

func (f *fakeLog) RunDurations(context.Context, store.Scope, time.Time, time.Time) (store.RunStats, error) {
	return f.analytics.runs, nil
}

func (f *fakeLog) StatusHistories(context.Context, store.Scope, time.Time, time.Time) ([]store.StatusHistory, error) {
	return f.analytics.histories, nil
}

func (f *fakeLog) Append(_ context.Context, ev schemas.Event) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offset++
	row := f.checks[ev.CheckID]
	row.State, _ = check.Apply(row.State, ev)
	row.Version = f.offset
	f.checks[ev.CheckID] = row
	f.journal = append(f.journal, ev.CheckID)
	return f.offset, nil
}

// ProjectChanges answers as a projector holding one partition: the checks appended to
// after since, or all of them when since is not a position in the current journal.
func (f *fakeLog) ProjectChanges(project schemas.ID, since history.ChangeCursor) (history.ProjectChanges, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changes := history.ProjectChanges{Next: history.ChangeCursor{{Epoch: f.journalEpoch, Next: uint64(len(f.journal))}}}
	var changed []schemas.ID
	if len(since) == 1 && since[0].Epoch == f.journalEpoch && since[0].Next <= uint64(len(f.journal)) {
		changed = f.journal[since[0].Next:]
	} else {
		changes.Complete, changed = true, slices.Collect(maps.Keys(f.checks))
	}
	var rows []history.CheckRow
	for _, id := range changed {
		if row := f.checks[id]; row.State.ProjectID == project {
			rows = append(rows, row)
		}
	}
	changes.Rows = eachRow(rows)
	return changes, true
}

// ProjectKeys returns every key, however recent the projects asked for: the keyring
// must cope with more than it asked for.
func (f *fakeLog) ProjectKeys(context.Context, time.Time) ([]store.ProjectKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []store.ProjectKey
	for hash, p := range f.projects {
		keys = append(keys, store.ProjectKey{Hash: hash, Project: p})
	}
	return keys, nil
}

func (f *fakeLog) Checks(_ context.Context, project schemas.ID) ([]history.CheckRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []history.CheckRow
	for _, r := range f.checks {
		if r.State.ProjectID == project && !r.State.Deleted {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeLog) Check(ctx context.Context, project, id schemas.ID) (history.CheckRow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.checks[id]; ok && r.State.ProjectID == project && !r.State.Deleted {
		return r, nil
	}
	return history.CheckRow{}, store.ErrNotFound
}

func (f *fakeLog) CheckProject(_ context.Context, id schemas.ID) (schemas.ID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.checks[id]; ok && !r.State.Deleted {
		return r.State.ProjectID, nil
	}
	return schemas.ID{}, store.ErrNotFound
}

// AwaitCheckVersion never waits: the fake folds every event as it is appended, so a
// version it does not hold now it never will.
func (f *fakeLog) AwaitCheckVersion(_ context.Context, _, id schemas.ID, version uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.checks[id].Version; got < version {
		return fmt.Errorf("check %v is at version %d, not %d", id, got, version)
	}
	return nil
}

func (f *fakeLog) Pings(context.Context, schemas.ID, int) ([]store.Ping, error) { return nil, nil }

func (f *fakeLog) CheckCount(ctx context.Context, project schemas.ID) (int, error) {
	rows, err := f.Checks(ctx, project)
	return len(rows), err
}

func (f *fakeLog) PingBody(context.Context, schemas.ID, uint64) ([]byte, bool, error) {
	return nil, false, nil
}

func (f *fakeLog) Flips(context.Context, schemas.ID, time.Time, time.Time) ([]store.Flip, error) {
	return nil, nil
}

// Secret is the site secret; secretErr, when set, is the store failing to read it.
func (f *fakeLog) Secret(context.Context, string) (string, error) {
	return "test site secret", f.secretErr
}

func (f *fakeLog) StateAt(context.Context, schemas.ID, time.Time) (store.PastState, error) {
	return store.PastState{Status: "up", NPings: 3, LastPing: testNow.Add(-time.Hour), LastDuration: 90 * time.Second}, nil
}

const (
	rwKey    = "hcw_aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	roKey    = "hcr_bbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	otherKey = "hcw_cccccccccccccccccccccccccccc"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newTestAPI(t testing.TB) (*mux.Router, *fakeLog) {
	return newTestAPIWithClock(t, func() time.Time { return testNow })
}

func newTestAPIWithClock(t testing.TB, now func() time.Time) (*mux.Router, *fakeLog) {
	return newInstrumentedTestAPI(t, now, nil)
}

// newInstrumentedTestAPI is newTestAPIWithClock with the API's metrics registered in reg.
func newInstrumentedTestAPI(t testing.TB, now func() time.Time, reg prometheus.Registerer) (*mux.Router, *fakeLog) {
	return newTestAPIOver(t, now, reg, func(log *fakeLog) Store { return log })
}

// newTestAPIOver is newInstrumentedTestAPI with the API reading the fake log through
// the Store storeOf makes of it.
func newTestAPIOver(t testing.TB, now func() time.Time, reg prometheus.Registerer, storeOf func(*fakeLog) Store) (*mux.Router, *fakeLog) {
	t.Helper()
	project, other := schemas.ID{1}, schemas.ID{2}
	log := &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{
		auth.Hash(rwKey):    {ID: project},
		auth.Hash(roKey):    {ID: project, ReadOnly: true},
		auth.Hash(otherKey): {ID: other},
	}}
	api := New(Config{SiteRoot: "http://hc.example"}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, storeOf(log), log, now)
	r := mux.NewRouter()
	api.Register(r)
	return r, log
}

// unjournaled hides the fake log's ProjectChanges, as a Store reading ClickHouse has
// none: lists then read every check.
func unjournaled(log *fakeLog) Store { return struct{ Store }{log} }

func call(r http.Handler, method, target, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func TestCreateValidation(t *testing.T) {
	r, _ := newTestAPI(t)
	tests := []struct {
		body, want string
	}{
		{`{"timeout": 59}`, "json validation error: timeout is too small"},
		{`{"timeout": 31536001}`, "json validation error: timeout is too large"},
		{`{"timeout": 3600.0}`, "json validation error: timeout is not a number"},
		{`{"timeout": "3600"}`, "json validation error: timeout is not a number"},
		{`{"timeout": true}`, "json validation error: timeout is too small"},
		{`{"grace": null}`, "json validation error: grace is not a number"},
		{`{"name": 5}`, "json validation error: name is not a string"},
		{`{"name": "` + strings.Repeat("n", 101) + `"}`, "json validation error: name is too long"},
		{`{"slug": "Bad Slug"}`, "json validation error: slug does not match pattern"},
		{`{"methods": "GET"}`, "json validation error: methods has unexpected value"},
		{`{"manual_resume": 1}`, "json validation error: manual_resume is not a boolean"},
		{`{"failure_threshold": 0}`, "json validation error: failure_threshold is too small"},
		{`{"failure_threshold": 1001}`, "json validation error: failure_threshold is too large"},
		{`{"failure_threshold": "3"}`, "json validation error: failure_threshold is not a number"},
		{`{"recovery_threshold": 2.5}`, "json validation error: recovery_threshold is not a number"},
		{`{"recovery_threshold": null}`, "json validation error: recovery_threshold is not a number"},
		{`{"recovery_threshold": -1}`, "json validation error: recovery_threshold is too small"},
		{`{"tz": "Mars/Olympus"}`, "json validation error: tz is not a valid timezone"},
		{`{"tz": "utc"}`, "json validation error: tz is not a valid timezone"},
		{`{"tz": "Local"}`, "json validation error: tz is not a valid timezone"},
		{`{"tz": ""}`, "json validation error: tz is not a valid timezone"},
		{`{"tz": null}`, "json validation error: tz is not a string"},
		{`{"schedule": 5}`, "json validation error: schedule is not a string"},
		{`{"schedule": ""}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"schedule": "@daily"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"schedule": "* * * * * *"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"schedule": "0 0 31 2 *"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"schedule": "bad-expression"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"schedule": "12:34 Europe/surprise"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"schedule": "Surprise 12:34"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"schedule": "12:34\nsurprise"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		// It parses, but never matches after 2000.
		{`{"schedule": "1999-01-01"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"tags": "` + strings.Repeat("é", 501) + `"}`, "json validation error: tags is too long"},
		{`{"unique": ["color"]}`, "json validation error: an item in 'unique' has unexpected value"},
		{`{"unique": ["name slug"]}`, "json validation error: an item in 'unique' has unexpected value"},
		{`{"unique": ["name", ""]}`, "json validation error: an item in 'unique' has unexpected value"},
		{`{"unique": "name"}`, "json validation error: unique is not an array"},
		// Field declaration order decides which error is reported.
		{`{"timeout": 1, "grace": 1, "name": 1}`, "json validation error: grace is too small"},
		{`{"tz": "utc", "schedule": "@daily"}`, "json validation error: schedule is not a valid cron or OnCalendar expression"},
		{`{"channels": "a,,b"}`, "empty channel identifier"},
		{`{"channels": "pager"}`, "invalid channel identifier: pager"},
		{`not json`, "could not parse request body"},
		{`[1, 2]`, "json validation error: value is not an object"},
		// Python's json module reads NaN and the infinities, and the fields refuse them.
		{`{"timeout": NaN}`, "json validation error: timeout is not a number"},
		{`{"grace": Infinity}`, "json validation error: grace is not a number"},
		{`{"name": -Infinity}`, "json validation error: name is not a string"},
		{`{"unique": [NaN]}`, "json validation error: an item in 'unique' has unexpected value"},
		{`{"manual_resume": NaN, "name": "NaN"}`, "json validation error: manual_resume is not a boolean"},
		{`{"timeout": NaNa}`, "could not parse request body"},
		{`{"timeout": nan}`, "could not parse request body"},
		{`{"timeout": -NaN}`, "could not parse request body"},
		{`{"timeout": 1NaN}`, "could not parse request body"},
		{`{"timeout": NaN1}`, "could not parse request body"},
		{`{"timeout":NaN}`, "json validation error: timeout is not a number"},
		{`{"unique":[Infinity,NaN]}`, "json validation error: an item in 'unique' has unexpected value"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			rec := call(r, "POST", "/api/v3/checks/", rwKey, tt.body)
			var got map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			if rec.Code != 400 || got["error"] != tt.want {
				t.Errorf("got %d %s, want 400 %q", rec.Code, rec.Body.String(), tt.want)
			}
		})
	}
}

// Constants inside strings are text, and a body with a constant in a field Healthchecks
// ignores is taken whole.
func TestPythonConstantsOutsideFields(t *testing.T) {
	r, _ := newTestAPI(t)
	rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "NaN \"Infinity\" -Infinity", "extra": [NaN, -Infinity, {"x": Infinity}]}`)
	var c struct{ Name string }
	if err := json.Unmarshal(rec.Body.Bytes(), &c); rec.Code != 201 || err != nil || c.Name != `NaN "Infinity" -Infinity` {
		t.Errorf("%d %s, want 201 with the name as sent", rec.Code, rec.Body.String())
	}
}

// Standard JSON is never changed (it cannot hold the constants outside strings), a
// stand-in keeps the body's length, and a body is rewritten once.
func FuzzPythonConstants(f *testing.F) {
	for _, seed := range []string{`{"a": NaN}`, `[Infinity,-Infinity]`, `{"s": "NaN \"x\" NaN"}`, `1NaN`, `NaN`, `{"a": -1e5, "b": "\\"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := withoutPythonConstants(raw)
		if len(out) != len(raw) {
			t.Fatalf("%q became %q, of another length", raw, out)
		}
		if json.Valid(raw) && !bytes.Equal(out, raw) {
			t.Fatalf("standard JSON %q became %q", raw, out)
		}
		if again := withoutPythonConstants(out); !bytes.Equal(again, out) {
			t.Fatalf("%q rewritten again to %q", out, again)
		}
	})
}

// Healthchecks detects the kind, and stores and returns the current name of a legacy zone.
func TestCreateScheduleAndZone(t *testing.T) {
	r, log := newTestAPI(t)
	tests := []struct {
		schedule, tz string
		wantKind     schemas.ScheduleKind
		wantTZ       string
	}{
		{"12:34", "Europe/Kiev", schemas.KindOnCalendar, "Europe/Kyiv"},
		{"*-*~1 12:00", "UCT", schemas.KindOnCalendar, "Etc/UTC"},
		{"Mon *-*-* 09:00", "US/Pacific", schemas.KindOnCalendar, "America/Los_Angeles"},
		{"12:34\n13:45", "Europe/Riga", schemas.KindOnCalendar, "Europe/Riga"},
		{"daily", "UTC", schemas.KindOnCalendar, "UTC"},
		{"hourly", "CET", schemas.KindOnCalendar, "Europe/Brussels"},
		{"0 9 * * mon-fri", "Etc/GMT+5", schemas.KindCron, "Etc/GMT+5"},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(map[string]string{"schedule": tt.schedule, "tz": tt.tz})
		rec := call(r, "POST", "/api/v3/checks/", rwKey, string(body))
		var got map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != 201 || got["schedule"] != tt.schedule || got["tz"] != tt.wantTZ {
			t.Errorf("%q in %s: %d %s, want schedule kept and tz %s", tt.schedule, tt.tz, rec.Code, rec.Body.String(), tt.wantTZ)
			continue
		}
		id, _ := schemas.ParseID(got["uuid"].(string))
		if cfg := log.checks[id].State.Config; cfg.Kind != tt.wantKind || cfg.TZ != tt.wantTZ {
			t.Errorf("%q in %s: stored kind %v tz %s, want %v %s", tt.schedule, tt.tz, cfg.Kind, cfg.TZ, tt.wantKind, tt.wantTZ)
		}
	}
}

func TestCreateAndReadShapes(t *testing.T) {
	r, _ := newTestAPI(t)
	rec := call(r, "POST", "/api/v1/checks/", "", `{"api_key": "`+rwKey+`", "name": "Nightly DB Backup!", "schedule": "0 3 * * *", "tz": "Europe/Riga", "grace": 120}`)
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	var created map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	id := created["uuid"].(string)
	wantKeys := []string{"name", "slug", "tags", "desc", "grace", "n_pings", "status", "started", "last_ping", "next_ping", "manual_resume",
		"methods", "subject", "subject_fail", "start_kw", "success_kw", "failure_kw", "filter_subject", "filter_body", "filter_http_body",
		"filter_default_fail", "failure_threshold", "recovery_threshold", "badge_url", "uuid", "ping_url", "update_url", "pause_url", "resume_url", "channels", "schedule", "tz"}
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	_, _ = dec.Token()
	var gotKeys []string
	for dec.More() {
		tok, _ := dec.Token()
		gotKeys = append(gotKeys, tok.(string))
		var skip any
		_ = dec.Decode(&skip)
	}
	if strings.Join(gotKeys, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("keys\n got %v\nwant %v", gotKeys, wantKeys)
	}
	if created["slug"] != "nightly-db-backup" || created["update_url"] != "http://hc.example/api/v1/checks/"+id || created["tz"] != "Europe/Riga" {
		t.Errorf("v1 create: %v", created)
	}

	if rec := call(r, "GET", "/api/v3/checks/"+id, otherKey, ""); rec.Code != 403 || rec.Body.Len() != 0 {
		t.Errorf("other project's check: %d %q", rec.Code, rec.Body.String())
	}
	if rec := call(r, "GET", "/api/v3/checks/"+schemas.ID{9}.String(), rwKey, ""); rec.Code != 404 {
		t.Errorf("unknown check: %d", rec.Code)
	}
	ro := call(r, "GET", "/api/v3/checks/"+id, roKey, "")
	if ro.Code != 200 || strings.Contains(ro.Body.String(), `"uuid"`) || !strings.Contains(ro.Body.String(), `"unique_key": "`) {
		t.Errorf("read-only get: %d %s", ro.Code, ro.Body.String())
	}
	if rec := call(r, "POST", "/api/v3/checks/", roKey, `{}`); rec.Code != 401 || !strings.Contains(rec.Body.String(), "wrong api key") {
		t.Errorf("read-only create: %d %s", rec.Code, rec.Body.String())
	}
	if rec := call(r, "GET", "/api/v3/checks/?tag=prod", rwKey, ""); rec.Code != 200 || rec.Body.String() != `{"checks": []}` {
		t.Errorf("tag filter: %d %s", rec.Code, rec.Body.String())
	}
}

// Tags are Healthchecks' tags_list (split on single spaces, each trimmed), and a
// repeated slug parameter counts by its last value, as Django's QueryDict.get.
func TestListFiltersReadAsHealthchecks(t *testing.T) {
	r, _ := newTestAPI(t)
	for _, body := range []string{`{"name": "a", "slug": "a", "tags": "prod  db"}`, `{"name": "b", "slug": "b", "tags": "tx1\ttx2"}`} {
		if rec := call(r, "POST", "/api/v3/checks/", rwKey, body); rec.Code != 201 {
			t.Fatalf("creating %s: %d %s", body, rec.Code, rec.Body.String())
		}
	}
	names := func(target string) string {
		t.Helper()
		rec := call(r, "GET", target, rwKey, "")
		var list struct{ Checks []struct{ Name string } }
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %s", target, rec.Code, rec.Body.String())
		}
		var got []string
		for _, c := range list.Checks {
			got = append(got, c.Name)
		}
		slices.Sort(got)
		return strings.Join(got, ",")
	}
	for target, want := range map[string]string{
		"/api/v3/checks/?tag=prod&tag=db": "a",
		"/api/v3/checks/?tag=tx1":         "",
		"/api/v3/checks/?tag=tx1%09tx2":   "b",
		"/api/v3/checks/?slug=a&slug=b":   "b",
		"/api/v3/checks/?slug=b&slug=a":   "a",
		"/api/v3/checks/?slug=":           "a,b",
	} {
		if got := names(target); got != want {
			t.Errorf("%s lists %q, want %q", target, got, want)
		}
	}
	if tags := tagList(" a  b\tc \t d "); !slices.Equal(tags, []string{"a", "b\tc", "d"}) {
		t.Errorf("tagList: %q", tags)
	}
}

// A list's tag filter asks for every tag given, repeats counting once, whatever the
// order of the tags on the check or in the request.
func TestListFilterTags(t *testing.T) {
	many := make([]string, 9999)
	for i := range many {
		many[i] = "t" + strconv.Itoa(i)
	}
	for _, tt := range []struct {
		checkTags string
		want      []string
		shown     bool
	}{
		{"prod db", nil, true},
		{"prod db", []string{"db"}, true},
		{"prod db", []string{"db", "prod"}, true},
		{"prod db", []string{"prod", "db", "prod", "db"}, true},
		{"db db", []string{"db", "db"}, true},
		{"prod db", []string{"db", "web"}, false},
		{"a b c d e", []string{"e", "a", "c"}, true},
		{"a b c d e", []string{"e", "a", "f"}, false},
		{"", []string{"a"}, false},
		{"t1 t5000 t9998", many, false},
		{strings.Join(many, " "), many, true},
		{strings.Join(many[1:], " "), many, false},
	} {
		if got := listFilter("", tt.want)("", tt.checkTags); got != tt.shown {
			t.Errorf("check tags %.40q, asked %.5q (%d): shown %v, want %v", tt.checkTags, tt.want, len(tt.want), got, tt.shown)
		}
	}
}

func TestAuthAndCORS(t *testing.T) {
	r, _ := newTestAPI(t)
	tests := []struct {
		method, target, key string
		wantCode            int
		wantBody            string
	}{
		{"GET", "/api/v3/checks/", "", 401, `{"error": "missing api key"}`},
		{"GET", "/api/v3/checks/", "short", 401, `{"error": "missing api key"}`},
		{"GET", "/api/v3/checks/", "hcw_zzzzzzzzzzzzzzzzzzzzzzzzzzzz", 401, `{"error": "wrong api key"}`},
		{"OPTIONS", "/api/v3/checks/", "", 204, ""},
		{"DELETE", "/api/v3/checks/", rwKey, 405, ""},
		{"GET", "/api/v3/checks", rwKey, 301, ""},
	}
	for _, tt := range tests {
		rec := call(r, tt.method, tt.target, tt.key, "")
		if rec.Code != tt.wantCode || strings.TrimSpace(rec.Body.String()) != tt.wantBody && tt.wantCode != 301 {
			t.Errorf("%s %s: got %d %q, want %d %q", tt.method, tt.target, rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
		}
		if tt.wantCode != 301 && (rec.Header().Get("Access-Control-Allow-Origin") != "*" || rec.Header().Get("Access-Control-Max-Age") != "600") {
			t.Errorf("%s %s: CORS headers missing: %v", tt.method, tt.target, rec.Header())
		}
	}
}

// FuzzCreateCheck: any body is either created or refused with a 400, never a 500 or a panic.
func FuzzCreateCheck(f *testing.F) {
	for _, seed := range []string{`{"name":"a","timeout":60}`, `{"schedule":"0 3 * * *","tz":"UTC"}`, `{"unique":["name"]}`, `[]`, `{"grace":null}`, `{"channels":"*"}`} {
		f.Add(seed)
	}
	r, _ := newTestAPI(f)
	f.Fuzz(func(t *testing.T, body string) {
		rec := call(r, "POST", "/api/v3/checks/", rwKey, body)
		if rec.Code != 201 && rec.Code != 400 {
			t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body.String())
		}
	})
}

// Badge URLs are public and bookmarked: the key derived from a check must never change.
func TestUpdatePauseResumeDelete(t *testing.T) {
	r, _ := newTestAPI(t)
	rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "nightly", "channels": ""}`)
	var created map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	url := "/api/v3/checks/" + created["uuid"].(string)
	field := func(rec *httptest.ResponseRecorder, key string) any {
		var v map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		return v[key]
	}
	steps := []struct {
		method, path, key, body string
		wantCode                int
		wantField, wantValue    string
	}{
		{"POST", url, rwKey, `{"timeout": 120, "tags": "a b"}`, 200, "tags", "a b"},
		{"POST", url, rwKey, `{"grace": 5}`, 400, "error", "json validation error: grace is too small"},
		{"POST", url + "/pause", roKey, ``, 401, "error", "wrong api key"},
		{"POST", url + "/pause", rwKey, ``, 200, "status", "paused"},
		{"POST", url + "/pause", rwKey, ``, 200, "status", "paused"},
		{"POST", url + "/resume", rwKey, ``, 200, "status", "new"},
		{"POST", url + "/resume", rwKey, ``, 409, "", ""},
		{"GET", url + "/pause", rwKey, ``, 405, "", ""},
		{"DELETE", url, otherKey, ``, 403, "", ""},
		{"DELETE", url, rwKey, ``, 200, "name", "nightly"},
		{"GET", url, rwKey, ``, 404, "", ""},
	}
	for _, st := range steps {
		rec := call(r, st.method, st.path, st.key, st.body)
		if rec.Code != st.wantCode {
			t.Fatalf("%s %s: %d %s, want %d", st.method, st.path, rec.Code, rec.Body.String(), st.wantCode)
		}
		if st.wantField != "" && field(rec, st.wantField) != st.wantValue {
			t.Errorf("%s %s: %s = %v, want %q (%s)", st.method, st.path, st.wantField, field(rec, st.wantField), st.wantValue, rec.Body.String())
		}
	}
	if rec := call(r, "POST", url+"/resume", rwKey, ""); rec.Code != 404 {
		t.Errorf("resume of a deleted check: %d", rec.Code)
	}
}

func TestFlipFilter(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	tests := []struct {
		query    string
		ok       bool
		from, to int64
	}{
		{"", true, 0, 0},
		{"start=100&end=200", true, 100, 200},
		{"start=%20100%20", true, 100, 0},
		{"seconds=60", true, 2_000_000_000 - 60, 0},
		{"seconds=0", true, 0, 0},
		{"seconds=", true, 0, 0},
		{"start=", false, 0, 0},
		{"start=1.5", false, 0, 0},
		{"seconds=60.0", true, 2_000_000_000 - 60, 0},
		{"start=100.", true, 100, 0},
		{"end=200.000", true, 0, 200},
		{"start=.0", false, 0, 0},
		{"start=1.05", false, 0, 0},
		{"start=-123", false, 0, 0},
		{"end=abc", false, 0, 0},
		{"seconds=31536001", false, 0, 0},
		{"start=10000000001", false, 0, 0},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		from, to, ok := flipFilter(q, now)
		unix := func(t time.Time) int64 {
			if t.IsZero() {
				return 0
			}
			return t.Unix()
		}
		if ok != tt.ok || (ok && (unix(from) != tt.from || unix(to) != tt.to)) {
			t.Errorf("%q: from %d to %d ok %v, want %d %d %v", tt.query, unix(from), unix(to), ok, tt.from, tt.to, tt.ok)
		}
	}
}

func TestUniqueUpsertAndUniqueKey(t *testing.T) {
	r, _ := newTestAPI(t)
	first := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "db", "tags": "x", "unique": ["name"]}`)
	again := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "db", "tags": "y", "unique": ["name"]}`)
	other := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "web", "unique": ["name", "tags"]}`)
	var a, b map[string]any
	_ = json.Unmarshal(first.Body.Bytes(), &a)
	_ = json.Unmarshal(again.Body.Bytes(), &b)
	if first.Code != 201 || again.Code != 200 || a["uuid"] != b["uuid"] || b["tags"] != "y" {
		t.Errorf("upsert: %d %s / %d %s", first.Code, first.Body.String(), again.Code, again.Body.String())
	}
	if other.Code != 201 {
		t.Errorf("a unique field missing from the body creates: %d", other.Code)
	}
	ro := call(r, "GET", "/api/v3/checks/", roKey, "")
	var list struct {
		Checks []map[string]any `json:"checks"`
	}
	_ = json.Unmarshal(ro.Body.Bytes(), &list)
	key, _ := list.Checks[0]["unique_key"].(string)
	if got := call(r, "GET", "/api/v3/checks/"+key, roKey, ""); got.Code != 200 || !strings.Contains(got.Body.String(), `"unique_key"`) {
		t.Errorf("by unique_key: %d %s", got.Code, got.Body.String())
	}
	if got := call(r, "GET", "/api/v3/checks/"+strings.Repeat("a", 40), roKey, ""); got.Code != 404 || got.Body.Len() != 0 {
		t.Errorf("unknown unique_key: %d %q", got.Code, got.Body.String())
	}
	if got := call(r, "POST", "/api/v3/checks/"+key, rwKey, "{}"); got.Code != 405 {
		t.Errorf("POST by unique_key: %d", got.Code)
	}
	if got := call(r, "GET", "/api/v3/checks/"+key+"/flips/", roKey, ""); got.Code != 200 || got.Body.String() != `{"flips": []}` {
		t.Errorf("flips by unique_key: %d %s", got.Code, got.Body.String())
	}
}

func TestChannels(t *testing.T) {
	r, _ := newTestAPI(t)
	if got := call(r, "GET", "/api/v3/channels/", rwKey, ""); got.Code != 200 || got.Body.String() != `{"channels": []}` {
		t.Errorf("channels: %d %s", got.Code, got.Body.String())
	}
	if got := call(r, "GET", "/api/v3/channels/", roKey, ""); got.Code != 401 {
		t.Errorf("channels with a read-only key: %d", got.Code)
	}
	if got := call(r, "POST", "/api/v3/channels/", rwKey, ""); got.Code != 405 {
		t.Errorf("POST channels: %d", got.Code)
	}
}

// Bodies are what Python's json.dumps writes for the same value (the wants were
// printed by Python 3).
func TestPythonJSON(t *testing.T) {
	for _, tc := range []struct {
		value any
		want  string
	}{
		{json.RawMessage(`{"a":"x,y: \\\"z\",:","b":[1,2,{"c":null}],"d":""}`), `{"a": "x,y: \\\"z\",:", "b": [1, 2, {"c": null}], "d": ""}`},
		{map[string]any{"a": "<é>&\u2028😀\\u003c", "b": []int{1, 2}, "c\"d": "x\ty\u0001"},
			`{"a": "<\u00e9>&\u2028\ud83d\ude00\\u003c", "b": [1, 2], "c\"d": "x\ty\u0001"}`},
		{"Straße ☃", `"Stra\u00dfe \u2603"`},
	} {
		compact, err := json.Marshal(tc.value)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(pythonJSON(compact)); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestStateAt(t *testing.T) {
	r, _ := newTestAPI(t)
	rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "past"}`)
	var created map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	id, _ := created["uuid"].(string)
	base := "/api/v3/checks/" + id + "/state"
	for _, tt := range []struct {
		name, query, key string
		wantCode         int
		wantBody         string
	}{
		{"no time", "", rwKey, 400, `{"error": "at is not an RFC 3339 time"}`},
		{"not RFC 3339", "?at=yesterday", rwKey, 400, `{"error": "at is not an RFC 3339 time"}`},
		{"future", "?at=" + url.QueryEscape(testNow.Add(time.Minute).Format(time.RFC3339)), rwKey, 400, `{"error": "at is in the future"}`},
		{"before the check existed", "?at=" + url.QueryEscape(testNow.Add(-time.Second).Format(time.RFC3339)), rwKey, 404, `{"error": "the check did not exist at that time"}`},
		{"another project's check", "?at=" + url.QueryEscape(testNow.Format(time.RFC3339)), otherKey, 403, ""},
		{"read-only key", "?at=" + url.QueryEscape(testNow.Format(time.RFC3339Nano)), roKey, 200,
			`{"at": "2026-11-25T12:00:00+00:00", "status": "up", "started": false, "n_pings": 3, "last_ping": "2026-11-25T11:00:00+00:00", "last_duration": 90, "flip_seq": 0}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(r, "GET", base+tt.query, tt.key, "")
			if rec.Code != tt.wantCode || (tt.wantBody != "" && rec.Body.String() != tt.wantBody) {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestThresholdFields(t *testing.T) {
	r, _ := newTestAPI(t)
	thresholds := func(rec *httptest.ResponseRecorder) [2]any {
		var v map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		return [2]any{v["failure_threshold"], v["recovery_threshold"]}
	}
	rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "flaky", "failure_threshold": 3}`)
	if got := thresholds(rec); rec.Code != 201 || got != [2]any{3.0, 1.0} {
		t.Fatalf("create: %d thresholds %v, want 201 [3 1]", rec.Code, got)
	}
	var created map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	url := "/api/v3/checks/" + created["uuid"].(string)
	if rec := call(r, "POST", url, rwKey, `{"recovery_threshold": 2}`); rec.Code != 200 || thresholds(rec) != [2]any{3.0, 2.0} {
		t.Fatalf("update: %d thresholds %v, want 200 [3 2]", rec.Code, thresholds(rec))
	}
	if rec := call(r, "GET", url, roKey, ``); thresholds(rec) != [2]any{3.0, 2.0} {
		t.Errorf("read-only read: thresholds %v, want [3 2]", thresholds(rec))
	}
}

// FuzzQueryStrings sends arbitrary query strings to every GET endpoint that reads one:
// none may answer 500.
func FuzzQueryStrings(f *testing.F) {
	for _, seed := range []string{"tag=a&tag=b&slug=x", "start=1&end=2&seconds=60", "from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z&bucket=day",
		"at=2026-11-25T10:00:00Z", "from=%zz", "bucket=", "seconds=-1", "a=" + strings.Repeat("x", 300)} {
		f.Add(seed)
	}
	r, log := newTestAPI(f)
	rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "fuzzed"}`)
	var created map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	id := created["uuid"].(string)
	log.analytics = fakeAnalytics{buckets: []store.Bucket{{Start: testNow.Truncate(time.Hour), Pings: 1, Successes: 1}},
		histories: []store.StatusHistory{{Initial: "up", Changes: []store.StatusChange{{At: testNow.Add(-time.Hour), Status: "down"}}}}}
	paths := []string{"/api/v3/checks/", "/api/v3/checks/" + id + "/flips/", "/api/v3/checks/" + id + "/analytics/",
		"/api/v3/analytics/", "/api/v3/checks/" + id + "/state", "/api/v1/checks/", "/api/v3/checks/" + id}
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range paths {
			req := httptest.NewRequest("GET", "/", nil)
			req.URL.Path, req.URL.RawQuery = path, query
			req.Header.Set("X-Api-Key", rwKey)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("GET %s?%s: %d %s", path, query, rec.Code, rec.Body.String())
			}
		}
	})
}

// A project at its check limit gets 403 with an empty body for a new check; an upsert
// that finds its check still updates it, and other projects are not affected.
func TestCheckLimit(t *testing.T) {
	project, other := schemas.ID{1}, schemas.ID{2}
	log := &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{
		auth.Hash(rwKey): {ID: project}, auth.Hash(otherKey): {ID: other}}}
	r := mux.NewRouter()
	New(Config{CheckLimit: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, log, log, func() time.Time { return testNow }).Register(r)
	for _, tt := range []struct {
		key, body string
		wantCode  int
	}{
		{rwKey, `{"name": "a"}`, 201},
		{rwKey, `{"name": "b"}`, 201},
		{rwKey, `{"name": "c"}`, 403},
		{rwKey, `{"name": "b", "tags": "x", "unique": ["name"]}`, 200},
		{rwKey, `{"name": "d", "unique": ["name"]}`, 403},
		{rwKey, `{"name": 5}`, 400},
		{otherKey, `{"name": "c"}`, 201},
	} {
		rec := call(r, "POST", "/api/v3/checks/", tt.key, tt.body)
		if rec.Code != tt.wantCode || (tt.wantCode == 403 && rec.Body.Len() != 0) {
			t.Errorf("%s: %d %q, want %d", tt.body, rec.Code, rec.Body.String(), tt.wantCode)
		}
	}
}

// gatedRegistry is an ingest registry whose Sync waits for its gate.
type gatedRegistry struct{ gate chan struct{} }

func (g gatedRegistry) Sync(ctx context.Context) error {
	select {
	case <-g.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A change to a check returns only once an ingest in the same process has read it, so
// a deleted check no longer answers pings when the delete returns.
func TestWritesWaitForIngestToReadThem(t *testing.T) {
	log := &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{auth.Hash(rwKey): {ID: schemas.ID{1}}}}
	registry := gatedRegistry{gate: make(chan struct{})}
	api := New(Config{SiteRoot: "http://hc.example", IngestRegistry: registry}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, log, log, func() time.Time { return testNow })
	r := mux.NewRouter()
	api.Register(r)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "backup"}`)
	if created.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Code, created.Body)
	}
	var c struct{ UUID string }
	_ = json.Unmarshal(created.Body.Bytes(), &c)
	deleted := make(chan int)
	go func() { deleted <- call(r, "DELETE", "/api/v3/checks/"+c.UUID, rwKey, "").Code }()
	select {
	case code := <-deleted:
		t.Fatalf("the delete returned (%d) before ingest read it", code)
	case <-time.After(50 * time.Millisecond):
	}
	close(registry.gate)
	if code := <-deleted; code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
}

// Healthchecks parses a POST body before the key check and wants a JSON object: any
// other JSON value, null included, is refused on every endpoint that takes a body.
func TestBodyMustBeAnObject(t *testing.T) {
	r, _ := newTestAPI(t)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "target"}`)
	var c struct{ UUID string }
	_ = json.Unmarshal(created.Body.Bytes(), &c)
	endpoints := []string{"/api/v3/checks/", "/api/v3/checks/" + c.UUID, "/api/v3/checks/" + c.UUID + "/pause", "/api/v3/checks/" + c.UUID + "/resume"}
	for _, path := range endpoints {
		for _, tt := range []struct{ body, want string }{
			{`null`, `{"error": "json validation error: value is not an object"}`},
			{` null `, `{"error": "json validation error: value is not an object"}`},
			{`[1, 2]`, `{"error": "json validation error: value is not an object"}`},
			{`[]`, `{"error": "json validation error: value is not an object"}`},
			{`123`, `{"error": "json validation error: value is not an object"}`},
			{`"text"`, `{"error": "json validation error: value is not an object"}`},
			{`true`, `{"error": "json validation error: value is not an object"}`},
			{`{"name": }`, `{"error": "could not parse request body"}`},
			{`null null`, `{"error": "could not parse request body"}`},
			// Healthchecks decodes the body as UTF-8 before parsing it.
			{"{\"name\": \"caf\xe9\"}", `{"error": "could not parse request body"}`},
		} {
			// No key at all: the body is refused before the key is looked at.
			rec := call(r, "POST", path, "", tt.body)
			if rec.Code != http.StatusBadRequest || rec.Body.String() != tt.want {
				t.Errorf("POST %s %s: %d %s, want 400 %s", path, tt.body, rec.Code, rec.Body.String(), tt.want)
			}
		}
	}
}

// Only a POST body is read (it may carry api_key); a DELETE body is ignored whatever it
// holds, and its key must come in the header.
func TestDeleteIgnoresBody(t *testing.T) {
	r, _ := newTestAPI(t)
	for _, tt := range []struct {
		name, key, body string
		wantCode        int
		wantBody        string
	}{
		{"not JSON", rwKey, "garbage", 200, ""},
		{"not an object", rwKey, "null", 200, ""},
		{"key only in the body", "", `{"api_key": "` + rwKey + `"}`, 401, `{"error": "missing api key"}`},
		{"over the body cap", rwKey, strings.Repeat("x", 2621441), 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "doomed"}`)
			var c struct{ UUID string }
			_ = json.Unmarshal(created.Body.Bytes(), &c)
			rec := call(r, "DELETE", "/api/v3/checks/"+c.UUID, tt.key, tt.body)
			if rec.Code != tt.wantCode || (tt.wantBody != "" && rec.Body.String() != tt.wantBody) {
				t.Errorf("%d %s, want %d %s", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}

// A POST body over Django's limit is refused before the view: its HTML 400 page, without
// the view's CORS headers.
func TestOversizedBodyIsDjangosBadRequest(t *testing.T) {
	r, _ := newTestAPI(t)
	rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"desc": "`+strings.Repeat("x", 2621440)+`"}`)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "<h1>Bad Request (400)</h1>") ||
		rec.Header().Get("Content-Type") != "text/html; charset=utf-8" || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("%d %s %q (CORS %q), want Django's 400 page without CORS", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), rec.Header().Get("Access-Control-Allow-Origin"))
	}
	if rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"desc": "`+strings.Repeat("x", 2621000)+`"}`); rec.Code != 201 {
		t.Errorf("a body just under the limit: %d", rec.Code)
	}
}

// A ping body limit above Django's cap raises the cap for API bodies too, as
// Healthchecks' settings do.
func TestPingBodyLimitRaisesTheBodyCap(t *testing.T) {
	log := &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{auth.Hash(rwKey): {ID: schemas.ID{1}}}}
	api := New(Config{SiteRoot: "http://hc.example", PingBodyLimit: 3_000_000}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, log, log, func() time.Time { return testNow })
	r := mux.NewRouter()
	api.Register(r)
	desc := func(n int) string { return `{"desc": "` + strings.Repeat("x", n-len(`{"desc": ""}`)) + `"}` }
	if rec := call(r, "POST", "/api/v3/checks/", rwKey, desc(3_000_000)); rec.Code != 201 {
		t.Errorf("a body of the ping body limit: %d %.200s", rec.Code, rec.Body.String())
	}
	if rec := call(r, "POST", "/api/v3/checks/", rwKey, desc(3_000_001)); rec.Code != 400 || !strings.Contains(rec.Body.String(), "<h1>Bad Request (400)</h1>") {
		t.Errorf("a body over the ping body limit: %d %.200s", rec.Code, rec.Body.String())
	}
}

// An upsert compares the values the request gives, so a timeout sent beside a schedule
// still picks the check (Healthchecks compares spec.timeout even though applying the
// schedule ignores it).
func TestUniqueComparesGivenValues(t *testing.T) {
	for _, tt := range []struct {
		name     string
		existing string
		upsert   string
		wantCode int
	}{
		{"timeout with a schedule, no check has it", `{"name": "daily"}`,
			`{"name": "want-300", "schedule": "0 0 * * *", "timeout": 300, "unique": ["timeout"]}`, 201},
		{"timeout with a schedule, a check has it", `{"name": "five-minutes", "timeout": 300}`,
			`{"name": "want-300", "schedule": "0 0 * * *", "timeout": 300, "unique": ["timeout"]}`, 200},
		{"timeout alone", `{"name": "five-minutes", "timeout": 300}`,
			`{"timeout": 300, "unique": ["timeout"]}`, 200},
		{"grace with a schedule", `{"name": "slow", "grace": 600}`,
			`{"schedule": "0 0 * * *", "grace": 600, "unique": ["grace"]}`, 200},
		{"v1 slug given", `{"name": "x", "slug": "nightly"}`,
			`{"name": "Other Name", "slug": "nightly", "unique": ["slug"]}`, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestAPI(t)
			if rec := call(r, "POST", "/api/v1/checks/", rwKey, tt.existing); rec.Code != http.StatusCreated {
				t.Fatalf("creating the existing check: %d %s", rec.Code, rec.Body.String())
			}
			if rec := call(r, "POST", "/api/v1/checks/", rwKey, tt.upsert); rec.Code != tt.wantCode {
				t.Errorf("%s: %d %s, want %d", tt.upsert, rec.Code, rec.Body.String(), tt.wantCode)
			}
		})
	}
}

// Django's APPEND_SLASH redirects a slash-less URL to every route that has a trailing
// slash, in every API version; routes without one never get a slash added or removed.
func TestTrailingSlashRedirects(t *testing.T) {
	r, _ := newTestAPI(t)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "x"}`)
	var c struct{ UUID string }
	_ = json.Unmarshal(created.Body.Bytes(), &c)
	key := uniqueKey(mustParseID(t, c.UUID))
	for _, version := range []string{"v1", "v2", "v3"} {
		api := "/api/" + version
		for _, tt := range []struct {
			path         string
			wantCode     int
			wantLocation string
		}{
			{api + "/checks", 301, api + "/checks/"},
			{api + "/checks?tag=a&tag=b", 301, api + "/checks/?tag=a&tag=b"},
			{api + "/channels", 301, api + "/channels/"},
			{api + "/badges", 301, api + "/badges/"},
			{api + "/analytics", 301, api + "/analytics/"},
			{api + "/checks/" + c.UUID + "/pings", 301, api + "/checks/" + c.UUID + "/pings/"},
			{api + "/checks/" + c.UUID + "/flips", 301, api + "/checks/" + c.UUID + "/flips/"},
			{api + "/checks/" + c.UUID + "/analytics", 301, api + "/checks/" + c.UUID + "/analytics/"},
			{api + "/checks/" + key + "/flips", 301, api + "/checks/" + key + "/flips/"},
			{api + "/checks/" + c.UUID + "/", 404, ""},
			{api + "/checks/" + c.UUID + "/pause/", 404, ""},
			{api + "/checks/" + key + "/", 404, ""},
		} {
			rec := call(r, "GET", tt.path, rwKey, "")
			if rec.Code != tt.wantCode || rec.Header().Get("Location") != tt.wantLocation {
				t.Errorf("GET %s: %d to %q, want %d to %q", tt.path, rec.Code, rec.Header().Get("Location"), tt.wantCode, tt.wantLocation)
			}
			if tt.wantCode == 301 && rec.Body.Len() != 0 {
				t.Errorf("GET %s: a redirect with a body %q; Django's has none", tt.path, rec.Body.String())
			}
		}
	}
}

func mustParseID(t testing.TB, s string) schemas.ID {
	t.Helper()
	id, err := schemas.ParseID(s)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return id
}

// Django builds the page for a raised Http404 past the view's decorators, so it has no
// CORS headers; every response the decorated view returns itself has them, a 404 with an
// empty body included.
func TestCORSHeadersBypassedByRaisedNotFound(t *testing.T) {
	r, log := newTestAPI(t)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "x"}`)
	var c struct{ UUID string }
	_ = json.Unmarshal(created.Body.Bytes(), &c)
	own := "/api/v3/checks/" + c.UUID
	id := mustParseID(t, c.UUID)
	row := log.checks[id]
	row.State.NPings = 150 // so pings 1 to 50 are past the log limit of 100
	log.checks[id] = row
	missing := "/api/v3/checks/" + schemas.ID{9}.String()
	for _, tt := range []struct {
		name, method, path, key, body string
		wantCode                      int
		wantCORS                      bool
	}{
		{"get a missing check", "GET", missing, rwKey, "", 404, false},
		{"update a missing check", "POST", missing, rwKey, "{}", 404, false},
		{"delete a missing check", "DELETE", missing, rwKey, "", 404, false},
		{"pause a missing check", "POST", missing + "/pause", rwKey, "", 404, false},
		{"resume a missing check", "POST", missing + "/resume", rwKey, "", 404, false},
		{"pings of a missing check", "GET", missing + "/pings/", rwKey, "", 404, false},
		{"flips of a missing check", "GET", missing + "/flips/", rwKey, "", 404, false},
		{"ping body of a missing check", "GET", missing + "/pings/1/body", rwKey, "", 404, false},
		{"ping body past the log limit", "GET", own + "/pings/50/body", rwKey, "", 404, false},
		{"ping body number 0", "GET", own + "/pings/0/body", rwKey, "", 404, false},
		{"ping without a body", "GET", own + "/pings/120/body", rwKey, "", 404, false},
		{"missing unique_key", "GET", "/api/v3/checks/" + strings.Repeat("a", 40), rwKey, "", 404, true},
		{"get", "GET", own, rwKey, "", 200, true},
		{"another project's check", "GET", own, otherKey, "", 403, true},
		{"no key", "GET", missing, "", "", 401, true},
		{"body not an object", "POST", missing, rwKey, "null", 400, true},
		{"not paused", "POST", own + "/resume", rwKey, "", 409, true},
		{"method not allowed", "PUT", missing, rwKey, "", 405, true},
		{"options", "OPTIONS", missing, "", "", 204, true},
		{"flips with a bad filter", "GET", own + "/flips/?seconds=abc", rwKey, "", 400, true},
		{"list, method not allowed", "PUT", "/api/v3/checks/", rwKey, "", 405, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(r, tt.method, tt.path, tt.key, tt.body)
			if rec.Code != tt.wantCode {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body.String(), tt.wantCode)
			}
			want := map[string]string{}
			if tt.wantCORS {
				want = map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "X-Api-Key",
					"Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS", "Access-Control-Max-Age": "600"}
				if strings.HasSuffix(tt.path, "/resume") {
					want["Access-Control-Allow-Methods"] = "POST, OPTIONS"
				}
				switch tt.name {
				case "missing unique_key", "flips with a bad filter":
					want["Access-Control-Allow-Methods"] = "GET, OPTIONS"
				case "list, method not allowed":
					want["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
				}
			}
			got := map[string]string{}
			for name := range rec.Header() {
				if strings.HasPrefix(name, "Access-Control-") {
					got[name] = rec.Header().Get(name)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CORS headers (-want +got):\n%s", diff)
			}
			// Django's bare responses, bodies or not, are HTML; JSON is JsonResponse.
			wantType := "text/html; charset=utf-8"
			if rec.Body.Len() > 0 && strings.HasPrefix(rec.Body.String(), "{") {
				wantType = "application/json"
			}
			if got := rec.Header().Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type %q, want %q", got, wantType)
			}
		})
	}
}

// The page is Django's default 404 page byte for byte, its leading newline included.
func TestNotFoundPage(t *testing.T) {
	r, _ := newTestAPI(t)
	rec := call(r, "GET", "/api/v3/checks/"+schemas.ID{9}.String(), rwKey, "")
	want := "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n" +
		"  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n"
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" || rec.Body.String() != want || rec.Body.Len() != 179 {
		t.Errorf("%d %s %q (%d bytes), want 404 text/html %q (179 bytes)", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), rec.Body.Len(), want)
	}
}

// last_duration is shown whenever the check's duration is not zero, truncated to whole
// seconds as Python's int() truncates: a sub-second run as 0, a negative one (ingest
// clocks skewed between a start and its success) as it is.
func TestLastDurationShownAsHealthchecks(t *testing.T) {
	r, log := newTestAPI(t)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "timed"}`)
	var c struct{ UUID string }
	_ = json.Unmarshal(created.Body.Bytes(), &c)
	id := mustParseID(t, c.UUID)
	for duration, want := range map[time.Duration]string{
		0:                        "",
		500 * time.Millisecond:   `"last_duration": 0`,
		90 * time.Second:         `"last_duration": 90`,
		-1500 * time.Millisecond: `"last_duration": -1`,
	} {
		log.mu.Lock()
		row := log.checks[id]
		row.State.LastDuration = duration
		log.checks[id] = row
		log.mu.Unlock()
		body := call(r, "GET", "/api/v3/checks/"+c.UUID, rwKey, "").Body.String()
		if got := strings.Contains(body, `"last_duration"`); got != (want != "") || want != "" && !strings.Contains(body, want) {
			t.Errorf("duration %v: %s, want %q", duration, body, want)
		}
	}
}
