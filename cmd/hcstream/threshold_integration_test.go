//go:build integration

package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// A failure threshold counts across a projector restart: the count is part of the
// check's stored state, so the second failure in a row takes the check down even when a
// new projector folds it, and a recovery threshold of 2 needs two successes.
func TestThresholdsSurviveProjectorRestart(t *testing.T) {
	t.Parallel()
	s := startSplitStack(t)
	db := s.env["HC_CLICKHOUSE_DATABASE"]
	conn := testenv.ClickHouseConn(t)
	id := createChecks(t, s.env, s.query, 1, `"timeout": 3600, "failure_threshold": 2, "recovery_threshold": 2`)[0]
	ping := func(path string, wantStored int64) {
		t.Helper()
		if code, err := pingOnce(s.ingest + "/ping/" + id + path); code != http.StatusOK {
			t.Fatalf("ping %s: %d %v", path, code, err)
		}
		awaitStored(t, conn, db, map[string]int64{id: wantStored}, 30*time.Second)
	}
	flips := func() []string {
		var out []string
		for _, f := range storedFlips(t, conn, db)[id] {
			out = append(out, f.from+">"+f.to+" "+f.reason)
		}
		return out
	}

	ping("", 1)
	ping("/fail", 2)
	terminate(t, s.projector, 30*time.Second)
	projectorProcess(t, s.env)
	ping("/1", 3)
	ping("", 4)
	ping("/fail", 5)
	ping("", 6)
	ping("/0", 7)
	testenv.Eventually(t, 30*time.Second, "the second success after the failures did not bring the check up", func() bool {
		return len(flips()) == 3
	})
	want := []string{"new>up ", "up>down fail", "down>up "}
	if got := flips(); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("flips %q, want %q", got, want)
	}
}
