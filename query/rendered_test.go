package query

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hcstream/hcstream/schemas"
)

// A list reuses a check's rendering only while nothing it shows can differ: a new
// version, time moving the status on, another API version or key type each render the
// check again.
func TestListRendersWhatChanged(t *testing.T) {
	t.Run("kept list", func(t *testing.T) { testListRendersWhatChanged(t, func(log *fakeLog) Store { return log }) })
	t.Run("every check read", func(t *testing.T) { testListRendersWhatChanged(t, unjournaled) })
}

func testListRendersWhatChanged(t *testing.T, storeOf func(*fakeLog) Store) {
	// The clock is read by the API's background refreshes too.
	var clock atomic.Int64
	setNow := func(at time.Time) time.Time { clock.Store(at.UnixNano()); return at }
	now := setNow(testNow)
	r, log := newTestAPIOver(t, func() time.Time { return time.Unix(0, clock.Load()).UTC() }, nil, storeOf)
	list := func(path, key string) map[string]any {
		t.Helper()
		rec := call(r, "GET", path, key, "")
		var out struct {
			Checks []map[string]any `json:"checks"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || len(out.Checks) != 1 {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
		return out.Checks[0]
	}
	created := call(r, "POST", "/api/v3/checks/", rwKey, `{"name": "backup", "timeout": 60, "grace": 60}`)
	if created.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Code, created.Body.String())
	}
	var c struct{ UUID string }
	_ = json.Unmarshal(created.Body.Bytes(), &c)
	id, _ := schemas.ParseID(c.UUID)
	if got := list("/api/v3/checks/", rwKey); got["status"] != "new" || got["n_pings"] != 0.0 {
		t.Fatalf("new check listed as %v", got)
	}

	// A ping is a new version.
	if _, err := log.Append(t.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: schemas.ID{1}, CheckID: id, At: now,
		Body: schemas.PingReceived{Kind: schemas.PingSuccess}}); err != nil {
		t.Fatal(err)
	}
	if got := list("/api/v3/checks/", rwKey); got["status"] != "up" || got["n_pings"] != 1.0 || got["last_ping"] == nil {
		t.Errorf("after a ping: %v", got)
	}
	// Time alone moves the status on; the version stays.
	now = setNow(now.Add(90 * time.Second))
	if got := list("/api/v3/checks/", rwKey); got["status"] != "grace" {
		t.Errorf("in the grace period: %v", got)
	}
	// A read from before a rendering's instant (a list that began earlier, a clock set
	// back) does not take it.
	if setNow(now.Add(-45 * time.Second)); list("/api/v3/checks/", rwKey)["status"] != "up" {
		t.Errorf("back before the grace period: not up")
	}
	// The grace period ends exactly at timeout + grace.
	for _, step := range []struct {
		at   time.Duration
		want string
	}{{119*time.Second + 999*time.Millisecond, "grace"}, {120 * time.Second, "down"}, {90 * time.Second, "grace"}} {
		setNow(testNow.Add(step.at))
		if got := list("/api/v3/checks/", rwKey); got["status"] != step.want {
			t.Errorf("%v after the ping: %v, want %s", step.at, got["status"], step.want)
		}
	}
	// Another API version renders the same version at the same instant with its own URLs.
	if got := list("/api/v1/checks/", rwKey); got["update_url"] != "http://hc.example/api/v1/checks/"+c.UUID {
		t.Errorf("v1 in the grace period: %v", got)
	}
	if got := list("/api/v3/checks/", rwKey); got["status"] != "grace" || got["update_url"] != "http://hc.example/api/v3/checks/"+c.UUID {
		t.Errorf("v3 after v1: %v", got)
	}
	// A read-only key sees the unique key instead of the UUID and URLs.
	if got := list("/api/v3/checks/", roKey); got["uuid"] != nil || got["unique_key"] == nil {
		t.Errorf("read-only: %v", got)
	}
	if got := list("/api/v3/checks/", rwKey); got["uuid"] != c.UUID || got["unique_key"] != nil {
		t.Errorf("read-write after read-only: %v", got)
	}
	// A new version with the same status and instant still shows its change.
	if rec := call(r, "POST", "/api/v3/checks/"+c.UUID, rwKey, `{"name": "backups"}`); rec.Code != http.StatusOK {
		t.Fatalf("update: %d %s", rec.Code, rec.Body.String())
	}
	if got := list("/api/v3/checks/", rwKey); got["name"] != "backups" || got["status"] != "grace" {
		t.Errorf("after renaming: %v", got)
	}
}
