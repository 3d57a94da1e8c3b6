package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hcstream/hcstream/deploy/testenv"
	"github.com/hcstream/hcstream/ingest/logthrottle"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/auth"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// A kept list shows exactly what a list reading every check afresh shows, in creation
// order, whatever happened between two reads: pings, pauses, renames and retags,
// deletions, checks created before others, time moving statuses on, and journals that
// no longer reach back.
func TestKeptListMatchesAFreshList(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testKeptListMatchesAFreshList(t, seed) })
	}
}

func testKeptListMatchesAFreshList(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var clock atomic.Int64
	clock.Store(testNow.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	kept, log := newTestAPIWithClock(t, now)
	project := schemas.ID{1}
	created := map[string]time.Time{}
	var ids []schemas.ID
	slugs, tags := []string{"", "a", "b"}, []string{"", "x", "y", "x y"}
	config := func() schemas.CheckConfig {
		return schemas.CheckConfig{Name: "c", Slug: slugs[rng.IntN(len(slugs))], Tags: tags[rng.IntN(len(tags))],
			Kind: schemas.KindSimple, Timeout: time.Minute, Grace: time.Minute}
	}
	appendEvent := func(id schemas.ID, at time.Time, body schemas.Body) {
		t.Helper()
		if _, err := log.Append(t.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: id, At: at, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	change := func() {
		var some schemas.ID
		if len(ids) > 0 {
			some = ids[rng.IntN(len(ids))]
		}
		switch op := rng.IntN(10); {
		case op < 2 && len(ids) < 25 || len(ids) == 0:
			// Minutes apart or at the same instant, before or after the checks there are.
			id, at := schemas.NewID(), testNow.Add(time.Duration(rng.IntN(4))*time.Minute)
			appendEvent(id, at, schemas.CheckCreated{Config: config()})
			ids, created[id.String()] = append(ids, id), at
		case op < 5:
			for range 1 + rng.IntN(2) {
				appendEvent(some, now(), schemas.PingReceived{Kind: schemas.PingKind(rng.IntN(3))})
			}
		case op == 5:
			appendEvent(some, now(), schemas.CheckUpdated{Config: config()})
		case op == 6 && rng.IntN(3) == 0:
			appendEvent(some, now(), schemas.CheckDeleted{})
		case op == 6:
			appendEvent(some, now(), schemas.CheckPaused{})
		case op == 7:
			clock.Add(int64(time.Duration(rng.IntN(90)) * time.Second))
		case op == 8 && rng.IntN(4) == 0:
			log.mu.Lock()
			log.journalEpoch++
			log.mu.Unlock()
		}
	}
	// An API over the same log that reads every check at every list shows the truth.
	fresh := mux.NewRouter()
	New(Config{SiteRoot: "http://hc.example"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, unjournaled(log), log, now).Register(fresh)
	for step := range 150 {
		// Several changes between two reads, the same check's among them at times.
		for range 1 + rng.IntN(3) {
			change()
		}
		for _, path := range []string{"/api/v3/checks/", "/api/v3/checks/?slug=a", "/api/v3/checks/?tag=x", "/api/v1/checks/?tag=x&tag=y"} {
			got, want := call(kept, "GET", path, rwKey, "").Body.Bytes(), listBody(t, fresh, path, rwKey)
			type placed struct {
				created int64
				id      schemas.ID
				check   json.RawMessage
			}
			order := make([]placed, len(want))
			for i, c := range want {
				uuid := uuidOf(t, c)
				id, _ := schemas.ParseID(uuid)
				order[i] = placed{created[uuid].UnixNano(), id, c}
			}
			slices.SortFunc(order, func(a, b placed) int { return history.ListOrder(a.created, &a.id, b.created, &b.id) })
			shown := make([][]byte, len(order))
			for i := range order {
				shown[i] = order[i].check
			}
			if want := slices.Concat([]byte(`{"checks": [`), bytes.Join(shown, []byte(", ")), []byte("]}")); !bytes.Equal(got, want) {
				t.Fatalf("step %d, GET %s: the kept list shows\n%s\nwant\n%s", step, path, got, want)
			}
		}
		// Read-only keys see no UUIDs: compare what is shown, in any order.
		got, want := listBody(t, kept, "/api/v3/checks/", roKey), listBody(t, fresh, "/api/v3/checks/", roKey)
		sorted := func(list []json.RawMessage) []string {
			out := make([]string, len(list))
			for i, c := range list {
				out[i] = string(c)
			}
			slices.Sort(out)
			return out
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Fatalf("step %d, read-only list: the kept list shows\n%s\nwant\n%s", step, got, want)
		}
	}
}

func listBody(t *testing.T, r http.Handler, path, key string) []json.RawMessage {
	t.Helper()
	rec := call(r, "GET", path, key, "")
	var out struct{ Checks []json.RawMessage }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	return out.Checks
}

func uuidOf(t *testing.T, c json.RawMessage) string {
	t.Helper()
	var fields struct {
		UUID      string `json:"uuid"`
		UpdateURL string `json:"update_url"`
	}
	if err := json.Unmarshal(c, &fields); err != nil {
		t.Fatal(err)
	}
	if fields.UUID == "" {
		// Version 1 names a check only in its URLs.
		fields.UUID = fields.UpdateURL[strings.LastIndex(fields.UpdateURL, "/")+1:]
	}
	return fields.UUID
}

// Kept lists stay within their bound: the least recently used go first, a list bigger
// than the bound on its own is not kept and drops no other, and a dropped list's later
// size is not counted.
func TestKeptListsStayWithinTheirBound(t *testing.T) {
	lists := checkLists{limit: 100}
	key := func(n byte) listKey { return listKey{project: schemas.ID{n}} }
	a, b, c := lists.get(key(1)), lists.get(key(2)), lists.get(key(3))
	lists.account(key(1), a, 40)
	lists.account(key(2), b, 40)
	lists.account(key(1), a, 40)
	lists.account(key(3), c, 40)
	if lists.get(key(1)) != a || lists.get(key(3)) != c || lists.get(key(2)) == b || lists.bytes != 80 {
		t.Fatalf("after 120 bytes of lists: want the least recently used dropped and 80 bytes kept, have %d", lists.bytes)
	}
	lists.account(key(2), b, 50)
	if lists.bytes != 80 {
		t.Fatalf("a dropped list was counted: %d bytes", lists.bytes)
	}
	lists.account(key(3), c, 500)
	if lists.get(key(3)) == c || lists.get(key(1)) != a || lists.bytes != 40 {
		t.Fatalf("a list over the bound: want it dropped alone and 40 bytes kept, have %d", lists.bytes)
	}
}

// failingChecks is the fake log with its single-check reads failing while fail is set.
type failingChecks struct {
	*fakeLog
	fail atomic.Bool
}

func (f *failingChecks) Check(ctx context.Context, project, id schemas.ID) (history.CheckRow, error) {
	if f.fail.Load() {
		return history.CheckRow{}, errors.New("store down")
	}
	return f.fakeLog.Check(ctx, project, id)
}

// A list that cannot read a check whose status time has moved on answers 503 rather
// than show the old status, and the next list shows the new one.
func TestKeptListFailsRatherThanShowAStaleStatus(t *testing.T) {
	var clock atomic.Int64
	clock.Store(testNow.UnixNano())
	var st *failingChecks
	r, log := newTestAPIOver(t, func() time.Time { return time.Unix(0, clock.Load()).UTC() }, nil, func(log *fakeLog) Store {
		st = &failingChecks{fakeLog: log}
		return st
	})
	id := schemas.NewID()
	for _, body := range []schemas.Body{
		schemas.CheckCreated{Config: schemas.CheckConfig{Name: "c", Kind: schemas.KindSimple, Timeout: time.Minute, Grace: time.Minute}},
		schemas.PingReceived{Kind: schemas.PingSuccess},
	} {
		if _, err := log.Append(t.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: schemas.ID{1}, CheckID: id, At: testNow, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	listed := 1
	status := func() string {
		t.Helper()
		var out struct{ Checks []struct{ Status string } }
		if err := json.Unmarshal(call(r, "GET", "/api/v3/checks/", rwKey, "").Body.Bytes(), &out); err != nil || len(out.Checks) != listed {
			t.Fatalf("list: %v, %d checks, want %d", err, len(out.Checks), listed)
		}
		return out.Checks[0].Status
	}
	if got := status(); got != "up" {
		t.Fatalf("status %s, want up", got)
	}
	clock.Add(int64(90 * time.Second))
	// A check created meanwhile comes with the failed read's changes.
	other := schemas.NewID()
	if _, err := log.Append(t.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: schemas.ID{1}, CheckID: other, At: testNow.Add(time.Second),
		Body: schemas.CheckCreated{Config: schemas.CheckConfig{Name: "d", Kind: schemas.KindSimple, Timeout: time.Hour, Grace: time.Hour}}}); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	if rec := call(r, "GET", "/api/v3/checks/", rwKey, ""); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "store unavailable") {
		t.Fatalf("list with the store down: %d %s", rec.Code, rec.Body.String())
	}
	st.fail.Store(false)
	if listed = 2; status() != "grace" {
		t.Fatal("the check whose status time moved on is not in the grace period")
	}
}

// A list being read is brought up to date between reads, and left alone once it has
// not been read for a while.
func TestKeptListRefreshesWhileRead(t *testing.T) {
	log := &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{auth.Hash(rwKey): {ID: schemas.ID{1}}}}
	api := New(Config{SiteRoot: "http://hc.example"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, log, log, func() time.Time { return testNow })
	api.lists.refreshInterval, api.lists.refreshIdle = 5*time.Millisecond, 300*time.Millisecond
	r := mux.NewRouter()
	api.Register(r)
	id := schemas.NewID()
	appendEvent := func(body schemas.Body) {
		t.Helper()
		if _, err := log.Append(t.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: schemas.ID{1}, CheckID: id, At: testNow, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	appendEvent(schemas.CheckCreated{Config: schemas.CheckConfig{Name: "c", Kind: schemas.KindSimple, Timeout: time.Hour, Grace: time.Hour}})
	listBody(t, r, "/api/v3/checks/", rwKey)
	list := api.lists.get(listKey{project: schemas.ID{1}, variant: renderVariant{apiVersion: 3, badgeSecret: api.badgeKeys.secret}})
	// caughtUp is whether the list has followed the log to its end, and whether it is
	// still refreshed.
	caughtUp := func() (bool, bool) {
		log.mu.Lock()
		end := uint64(len(log.journal))
		log.mu.Unlock()
		list.mu.Lock()
		defer list.mu.Unlock()
		return len(list.cursor) == 1 && list.cursor[0].Next == end, list.refreshing
	}
	if done, refreshing := caughtUp(); !done || !refreshing {
		t.Fatalf("after a read: caught up %v, refreshed %v", done, refreshing)
	}
	appendEvent(schemas.PingReceived{Kind: schemas.PingSuccess})
	testenv.Eventually(t, time.Second, "the list was not refreshed between reads", func() bool { done, _ := caughtUp(); return done })
	testenv.Eventually(t, 5*time.Second, "the list was still refreshed long after its last read", func() bool { _, refreshing := caughtUp(); return !refreshing })
	appendEvent(schemas.PingReceived{Kind: schemas.PingSuccess})
	time.Sleep(50 * time.Millisecond)
	if done, _ := caughtUp(); done {
		t.Fatal("a list no longer read was refreshed")
	}
	var out struct {
		Checks []struct {
			NPings int `json:"n_pings"`
		}
	}
	if err := json.Unmarshal(call(r, "GET", "/api/v3/checks/", rwKey, "").Body.Bytes(), &out); err != nil || len(out.Checks) != 1 || out.Checks[0].NPings != 2 {
		t.Fatalf("read after the refreshes stopped: %v, %+v", err, out.Checks)
	}
	// The create was rendered by the first read, the first ping between reads, the
	// second by the last read; only the first read read every check.
	counted := func(c prometheus.Metric) float64 {
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			t.Fatal(err)
		}
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
		return m.Counter.GetValue()
	}
	for name, c := range map[string]struct {
		metric prometheus.Metric
		want   float64
	}{
		"renders on reads":      {api.metrics.listRenders.WithLabelValues("read"), 2},
		"renders between reads": {api.metrics.listRenders.WithLabelValues("refresh"), 1},
		"full reads":            {api.metrics.listFullReads, 1},
		"kept lists":            {api.metrics.keptLists, 1},
	} {
		if got := counted(c.metric); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	if got := counted(api.metrics.keptListBytes); got < 500 {
		t.Errorf("kept list bytes %v, want the size of one rendering", got)
	}
}

// While the store is down every read fails: the log says so once per interval, not once
// per request.
func TestStoreFailuresLogSparingly(t *testing.T) {
	var logged bytes.Buffer
	clock := testNow
	st := &failingChecks{fakeLog: &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{auth.Hash(rwKey): {ID: schemas.ID{1}}}}}
	api := New(Config{SiteRoot: "http://hc.example"}, slog.New(slog.NewTextHandler(&logged, nil)), nil, st, st.fakeLog, func() time.Time { return clock })
	r := mux.NewRouter()
	api.Register(r)
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "a"}`)
	var c struct{ UUID string }
	if err := json.Unmarshal(created.Body.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	read := func(n int) {
		for range n {
			if rec := call(r, "GET", "/api/v3/checks/"+c.UUID, rwKey, ""); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("a read with the store down: %d", rec.Code)
			}
		}
	}
	read(20)
	if n := strings.Count(logged.String(), "level=ERROR"); n != 1 {
		t.Errorf("20 failed reads logged %d lines, want 1:\n%s", n, logged.String())
	}
	clock = clock.Add(logthrottle.Interval)
	read(1)
	if n := strings.Count(logged.String(), "level=ERROR"); n != 2 || !strings.Contains(logged.String(), "not_logged=19") {
		t.Errorf("after the interval: %d lines, want 2, the second counting 19 left out:\n%s", n, logged.String())
	}
}
