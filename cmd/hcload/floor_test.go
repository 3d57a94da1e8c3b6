package main

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/ingest"
	"github.com/hcstream/hcstream/schemas"
)

// everyCheck is a registry in which every UUID is a check of one project.
type everyCheck struct{}

func (everyCheck) Check(schemas.ID) (schemas.ID, bool) { return schemas.ID{1}, true }
func (everyCheck) Taken(schemas.ID) bool               { return true }
func (everyCheck) Slug(string, string) (schemas.ID, bool, []schemas.ID) {
	return schemas.ID{}, false, nil
}
func (everyCheck) Checks(schemas.ID) int                           { return 1 }
func (everyCheck) Sync(context.Context) error                      { return nil }
func (everyCheck) Publish(context.Context, ...kafka.Message) error { return nil }

// The floor's stand-in must cost what hcstream's answer costs to write: the same status,
// header names and body as the ping handler's 200 (values that vary, as Date and
// Expires, are compared by name only).
func TestStandInAnswersAsAnAcknowledgedPing(t *testing.T) {
	pings := ingest.New(ingest.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, everyCheck{}, everyCheck{}, time.Now).Handler("/ping/")
	answer := func(h http.Handler) (int, string, http.Header) {
		// A real server, so that net/http adds its own headers (Date, Content-Length) to both.
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/ping/" + schemas.NewID().String())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body), resp.Header
	}
	wantCode, wantBody, want := answer(pings)
	code, body, got := answer(floorAnswer)
	if wantCode != http.StatusOK || code != wantCode || body != wantBody {
		t.Errorf("stand-in answered %d %q, hcstream %d %q", code, body, wantCode, wantBody)
	}
	if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
		t.Errorf("stand-in's headers %v, hcstream's %v", g, w)
	}
	for name, values := range want {
		if name != "Date" && name != "Expires" && !slices.Equal(got[name], values) {
			t.Errorf("%s: stand-in %q, hcstream %q", name, got[name], values)
		}
	}
}

func TestMachineTicks(t *testing.T) {
	stat := "cpu  100 5 50 1000 20 3 7 11 40 0\ncpu0 50 2 25 500 10 1 3 5 20 0\ncpu1 50 3 25 500 10 2 4 6 20 0\nintr 1 2 3\nctxt 9\n"
	busy, idle, steal, cores, err := machineTicks(stat)
	if err != nil {
		t.Fatal(err)
	}
	// user, nice, system, irq and softirq are busy; idle and iowait idle; guest is in user.
	if busy != 165 || idle != 1020 || steal != 11 || cores != 2 {
		t.Errorf("busy %d, idle %d, steal %d, cores %d; want 165, 1020, 11, 2", busy, idle, steal, cores)
	}
	for _, bad := range []string{"", "intr 1 2\n", "cpu 1 2 3\n", "cpu 1 2 3 x 5 6 7 8\n"} {
		if _, _, _, _, err := machineTicks(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestProcessTicks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	// A command name may hold spaces and parentheses; utime and stime are fields 14 and 15.
	stat := "4242 (hc (load) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0 9 0 100 2000000 500 18446744073709551615\n"
	if err := os.WriteFile(path, []byte(stat), 0o600); err != nil {
		t.Fatal(err)
	}
	ticks, err := processTicks(path)
	if err != nil || ticks != 1234+567 {
		t.Errorf("processTicks = %d, %v; want %d", ticks, err, 1234+567)
	}
	if err := os.WriteFile(path, []byte("4242 (hcload) S 1 2 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := processTicks(path); err == nil {
		t.Error("a short stat line was accepted")
	}
}
