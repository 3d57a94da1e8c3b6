package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"

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

func (s *countedKeys) ProjectKeys(ctx context.Context) ([]store.ProjectKey, error) {
	s.reads.Add(1)
	time.Sleep(20 * time.Millisecond)
	if s.failing.Load() {
		return nil, errors.New("connection refused")
	}
	return s.fakeLog.ProjectKeys(ctx)
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

func (f keyList) ProjectKeys(context.Context) ([]store.ProjectKey, error) { return f() }

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
