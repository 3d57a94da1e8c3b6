package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	dto "github.com/prometheus/client_model/go"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/auth"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// countedKeys is the fake log with reads of every key that take a while and are
// counted, and that fail while failing is set.
type countedKeys struct {
	*fakeLog
	reads   atomic.Int32
	failing atomic.Bool
}

func (s *countedKeys) ProjectKeys(ctx context.Context, createdSince time.Time) ([]store.ProjectKey, error) {
	s.reads.Add(1)
	time.Sleep(20 * time.Millisecond)
	if s.failing.Load() {
		return nil, errors.New("connection refused")
	}
	return s.fakeLog.ProjectKeys(ctx, createdSince)
}

func newCountedKeysAPI(t *testing.T) (*countedKeys, http.Handler) {
	t.Helper()
	st := &countedKeys{fakeLog: &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{auth.Hash(rwKey): {ID: schemas.ID{1}}}}}
	api := New(Config{SiteRoot: "http://hc.example"}, slog.New(slog.DiscardHandler), nil, st, st.fakeLog, func() time.Time { return testNow })
	r := mux.NewRouter()
	api.Register(r)
	return st, r
}

// A flood of made-up keys shares a few reads of the store instead of making one read
// each; every one still gets its 401, and a real key is then answered from memory.
func TestMadeUpKeysShareReadsOfTheStore(t *testing.T) {
	st, r := newCountedKeysAPI(t)
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	for i := range 200 {
		wg.Go(func() {
			codes <- call(r, "GET", "/api/v3/checks/", "hcw_"+fmt.Sprintf("%028d", i), "").Code
		})
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusUnauthorized {
			t.Errorf("a made-up key: %d, want 401", code)
		}
	}
	reads := st.reads.Load()
	if reads > 3 {
		t.Errorf("200 made-up keys read the store %d times, want at most 3", reads)
	}
	if rec := call(r, "GET", "/api/v3/checks/", rwKey, ""); rec.Code != http.StatusOK {
		t.Errorf("the real key afterwards: %d", rec.Code)
	}
	if got := st.reads.Load(); got != reads {
		t.Errorf("the real key read the store again (%d reads, then %d)", reads, got)
	}
}

// The keys of a project created after the keyring was read work on their first
// request: a key not held waits for a read that started after it arrived.
func TestKeysOfANewProjectWorkAtOnce(t *testing.T) {
	st, r := newCountedKeysAPI(t)
	if rec := call(r, "GET", "/api/v3/checks/", rwKey, ""); rec.Code != http.StatusOK {
		t.Fatalf("first key: %d", rec.Code)
	}
	const newKey = "hcr_cccccccccccccccccccccccccccc"
	st.mu.Lock()
	st.projects[auth.Hash(newKey)] = store.Project{ID: schemas.ID{2}, ReadOnly: true}
	st.mu.Unlock()
	if rec := call(r, "GET", "/api/v3/checks/", newKey, ""); rec.Code != http.StatusOK {
		t.Errorf("the new project's read-only key: %d %s", rec.Code, rec.Body)
	}
	if rec := call(r, "POST", "/api/v3/checks/", newKey, `{"name": "x"}`); rec.Code != http.StatusUnauthorized {
		t.Errorf("the new read-only key writing: %d, want 401", rec.Code)
	}
}

// While the store cannot be read, a key not held gets 503, not 401 (it may be a
// real key), and keys already held keep working; once the store answers, so does
// the key.
func TestKeysNotHeldWaitForTheStore(t *testing.T) {
	st, r := newCountedKeysAPI(t)
	if rec := call(r, "GET", "/api/v3/checks/", rwKey, ""); rec.Code != http.StatusOK {
		t.Fatalf("first key: %d", rec.Code)
	}
	const newKey = "hcw_dddddddddddddddddddddddddddd"
	st.mu.Lock()
	st.projects[auth.Hash(newKey)] = store.Project{ID: schemas.ID{3}}
	st.mu.Unlock()
	st.failing.Store(true)
	if rec := call(r, "GET", "/api/v3/checks/", newKey, ""); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "store unavailable") {
		t.Errorf("a key not held while the store fails: %d %s, want 503", rec.Code, rec.Body)
	}
	if rec := call(r, "GET", "/api/v3/checks/", rwKey, ""); rec.Code != http.StatusOK {
		t.Errorf("a key held while the store fails: %d", rec.Code)
	}
	st.failing.Store(false)
	if rec := call(r, "GET", "/api/v3/checks/", newKey, ""); rec.Code != http.StatusOK {
		t.Errorf("the key once the store answers: %d %s", rec.Code, rec.Body)
	}
}

// keyList is a keyStore answering with a function's keys.
type keyList func() ([]store.ProjectKey, error)

func (f keyList) ProjectKeys(context.Context, time.Time) ([]store.ProjectKey, error) { return f() }

// A stored hash that is not a SHA-256 in hexadecimal opens nothing, and does not
// stop the others from being read.
func TestKeyringSkipsHashesThatAreNotDigests(t *testing.T) {
	want := store.Project{ID: schemas.ID{4}}
	keys := []store.ProjectKey{
		{Hash: "abc"},
		{Hash: strings.Repeat("a", 66)},
		{Hash: strings.Repeat("z", 64)},
		{Hash: ""},
		{Hash: auth.Hash(rwKey), Project: want},
	}
	ring := newKeyring(keyList(func() ([]store.ProjectKey, error) { return keys, nil }), time.Now, newMetrics(nil), slog.New(slog.DiscardHandler))
	got, found, err := ring.project(context.Background(), rwKey)
	if err != nil || !found || got != want {
		t.Errorf("got %v %v %v, want %v", got, found, err, want)
	}
	if _, found, _ := ring.project(context.Background(), "hcw_zzzzzzzzzzzzzzzzzzzzzzzzzzzz"); found {
		t.Error("a made-up key was found")
	}
}

// A request whose context ends while it waits for the keys gets the context's error.
func TestKeyringWaitEndsWithTheRequest(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ring := newKeyring(keyList(func() ([]store.ProjectKey, error) { <-release; return nil, nil }), time.Now, newMetrics(nil), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ring.project(ctx, rwKey); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// datedKeys is a keyStore of projects with creation times that answers as ClickHouse
// does, only the projects created since the time asked, and records what was asked.
type datedKeys struct {
	mu    sync.Mutex
	keys  []store.ProjectKey
	asked []time.Time
}

func (d *datedKeys) add(key string, id byte, created time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys = append(d.keys, store.ProjectKey{Hash: auth.Hash(key), Project: store.Project{ID: schemas.ID{id}}, Created: created})
}

func (d *datedKeys) ProjectKeys(_ context.Context, createdSince time.Time) ([]store.ProjectKey, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, createdSince)
	var keys []store.ProjectKey
	for _, k := range d.keys {
		if !k.Created.Before(createdSince) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// A key not held is looked for among the projects created lately, not among all of
// them; a project created long before the newest held is found by the read of every
// key that follows once the last one is a minute old.
func TestKeysNotHeldAreLookedForAmongNewProjects(t *testing.T) {
	start := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := start
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	keys := &datedKeys{}
	ring := newKeyring(keys, now, newMetrics(nil), slog.New(slog.DiscardHandler))
	found := func(key string, want byte) {
		t.Helper()
		p, ok, err := ring.project(context.Background(), key)
		if err != nil || ok != (want != 0) || p.ID != (schemas.ID{want}) {
			t.Errorf("%s: project %v, found %v, err %v; want project %d", key, p.ID, ok, err, want)
		}
	}
	const first, second, late = "hcw_aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "hcw_bbbbbbbbbbbbbbbbbbbbbbbbbbbb", "hcw_cccccccccccccccccccccccccccc"
	created := start.Add(-time.Minute)
	keys.add(first, 1, created)
	found(first, 1)
	keys.add(second, 2, created.Add(10*time.Second))
	found(second, 2)
	keys.add(late, 3, created.Add(-2*keyringCreationSlack))
	found(late, 0)
	found(first, 1) // still held, after reads of new projects only
	mu.Lock()
	clock = clock.Add(keyringMaxAge)
	mu.Unlock()
	found(late, 3)

	want := []time.Time{{}, created.Add(-keyringCreationSlack), created.Add(10*time.Second - keyringCreationSlack), {}}
	keys.mu.Lock()
	defer keys.mu.Unlock()
	if !slices.Equal(keys.asked, want) {
		t.Errorf("reads asked for projects created since %v, want %v", keys.asked, want)
	}
}

// A request waiting for a read of keys is counted while it waits.
func TestKeyringCountsTheRequestsWaiting(t *testing.T) {
	release := make(chan struct{})
	m := newMetrics(nil)
	ring := newKeyring(keyList(func() ([]store.ProjectKey, error) { <-release; return nil, nil }), time.Now, m, slog.New(slog.DiscardHandler))
	waiting := func() float64 {
		var metric dto.Metric
		if err := m.keyringWaiting.Write(&metric); err != nil {
			t.Fatal(err)
		}
		return metric.GetGauge().GetValue()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ring.project(context.Background(), rwKey)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for waiting() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("waiting requests: %v, want 1", waiting())
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-done
	if got := waiting(); got != 0 {
		t.Errorf("waiting requests after the read: %v, want 0", got)
	}
}
