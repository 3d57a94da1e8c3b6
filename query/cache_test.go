package query

import (
	"context"
	"io"
	"log/slog"
	"net/http"
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

// gatedStore holds its key and secret reads at a gate while one is set.
type gatedStore struct {
	*fakeLog
	mu                    sync.Mutex
	keyGate, secretGate   chan struct{}
	keyReads, secretReads atomic.Int32
}

func (s *gatedStore) gates() (key, secret chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyGate, s.secretGate
}

func (s *gatedStore) ProjectKeys(ctx context.Context, createdSince time.Time) ([]store.ProjectKey, error) {
	if gate, _ := s.gates(); gate != nil {
		<-gate
	}
	defer s.keyReads.Add(1)
	return s.fakeLog.ProjectKeys(ctx, createdSince)
}

func (s *gatedStore) Secret(ctx context.Context, name string) (string, error) {
	if _, gate := s.gates(); gate != nil {
		<-gate
	}
	defer s.secretReads.Add(1)
	return s.fakeLog.Secret(ctx, name)
}

// Once a key and the badge secret are known, no request waits for ClickHouse to read
// them again: the keys are re-read in the background once a minute old, and a key
// found gone is forgotten; the secret, settled, is never re-read.
func TestCachedReadsNeverWaitForTheStore(t *testing.T) {
	log := &fakeLog{checks: map[schemas.ID]history.CheckRow{}, projects: map[string]store.Project{auth.Hash(rwKey): {ID: schemas.ID{1}}}}
	st := &gatedStore{fakeLog: log}
	var clock atomic.Int64
	clock.Store(testNow.UnixNano())
	api := New(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, st, log, func() time.Time { return time.Unix(0, clock.Load()) })
	r := mux.NewRouter()
	api.Register(r)
	list := func() int {
		t.Helper()
		done := make(chan int)
		go func() { done <- call(r, "GET", "/api/v3/checks/", rwKey, "").Code }()
		select {
		case code := <-done:
			return code
		case <-time.After(10 * time.Second):
			t.Fatal("a request waited for a held store read")
			return 0
		}
	}
	if code := list(); code != http.StatusOK {
		t.Fatalf("first list: %d", code)
	}

	setGates := func(key, secret chan struct{}) {
		st.mu.Lock()
		st.keyGate, st.secretGate = key, secret
		st.mu.Unlock()
	}
	waitFor := func(what string, done func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}

	keyGate := make(chan struct{})
	setGates(keyGate, nil)
	clock.Add(int64(keyringMaxAge)) // the keys are due for a read in the background
	if code := list(); code != http.StatusOK {
		t.Fatalf("list while the key is re-read: %d", code)
	}
	close(keyGate)
	waitFor("the keys were not read again", func() bool { return st.keyReads.Load() == 2 })

	log.mu.Lock()
	delete(log.projects, auth.Hash(rwKey))
	log.mu.Unlock()
	clock.Add(int64(keyringMaxAge))
	waitFor("a key removed from the store was still accepted after its re-read", func() bool { return list() == http.StatusUnauthorized })
	if n := st.secretReads.Load(); n != 1 {
		t.Errorf("the secret was read %d times, want once", n)
	}
}
