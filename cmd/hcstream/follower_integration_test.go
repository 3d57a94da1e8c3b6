//go:build integration

package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// A query role apart from the projector answers from its own fold of the log: a
// caller reads its writes at once, pings show while no projector runs (ClickHouse
// cannot have them then), and a query role started later restores from ClickHouse and
// folds the rest, counting every ping once.
func TestQueryRoleFollowsTheLog(t *testing.T) {
	s := startSplitStack(t)
	key := (&stack{env: s.env}).createProject(t)["api_key"]
	var checks []string
	for i := range 4 {
		created := do(t, "POST", s.query+"/api/v3/checks/", key, fmt.Sprintf(`{"name": "followed-%d", "timeout": 3600}`, i))
		if created.code != http.StatusCreated {
			t.Fatalf("create: %d %s", created.code, created.body)
		}
		id := created.json(t)["uuid"].(string)
		checks = append(checks, id)
		if got := do(t, "GET", s.query+"/api/v3/checks/"+id, key, ""); got.code != http.StatusOK {
			t.Fatalf("the check just created: %d %s", got.code, got.body)
		}
		if list := do(t, "GET", s.query+"/api/v3/checks/", key, ""); !strings.Contains(list.body, id) {
			t.Fatalf("the list right after creating %s lacks it: %s", id, list.body)
		}
	}
	paused := do(t, "POST", s.query+"/api/v3/checks/"+checks[0]+"/pause", key, "")
	if got := do(t, "GET", s.query+"/api/v3/checks/"+checks[0], key, "").json(t)["status"]; paused.code != http.StatusOK || got != "paused" {
		t.Fatalf("pause answered %d; the next read says %v, want paused", paused.code, got)
	}

	acked := map[string]int64{}
	count := func(d time.Duration) {
		ctx, stop := context.WithTimeout(context.Background(), d)
		defer stop()
		log := pingRounds(ctx, s.ingest, checks, 100*time.Millisecond)
		<-ctx.Done()
		got, _, refused := log.wait(t)
		if len(refused) > 0 {
			t.Fatalf("pings refused: %v", refused)
		}
		for id, n := range got {
			acked[id] += n
		}
	}
	showsEveryPing := func(api, when string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, when+": the query role does not show every acknowledged ping", func() bool {
			for _, id := range checks {
				got := do(t, "GET", api+"/api/v3/checks/"+id, key, "").json(t)["n_pings"]
				if n, ok := got.(float64); !ok || int64(n) != acked[id] {
					t.Logf("%s: check %s shows n_pings %v, acknowledged %d", when, id, got, acked[id])
					return false
				}
			}
			return true
		})
	}
	count(2 * time.Second)
	showsEveryPing(s.query, "with the projector running")

	if err := s.projector.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.projector.Wait()
	count(2 * time.Second)
	showsEveryPing(s.query, "with no projector")
	db := s.env["HC_CLICKHOUSE_DATABASE"]
	stored, err := storedPings(testenv.ClickHouseConn(t), db)
	if err != nil {
		t.Fatal(err)
	}
	var inStore, total int64
	for _, id := range checks {
		inStore += int64(stored[id].nPings)
		total += acked[id]
	}
	if inStore >= total {
		t.Fatalf("ClickHouse holds n_pings %d of %d with no projector running: the test cannot tell the follower's reads from the store's", inStore, total)
	}

	// A second query role restores ClickHouse's older state and folds the rest of the
	// log, some of it already in that state.
	later := startRole(t, s.env, "query")
	awaitReady(t, later)
	showsEveryPing(later, "a query role started later")

	projectorProcess(t, s.env)
	awaitStored(t, testenv.ClickHouseConn(t), db, acked, 60*time.Second)
	exactlyOncePerCheck(t, db, acked)
	count(time.Second)
	showsEveryPing(s.query, "the first query role, after the projector is back")
	showsEveryPing(later, "the second query role, after the projector is back")
}

// An API write through a query role in its own process is written by the projector at
// once, however long the projector's batching intervals: the write's record says that
// someone waits for it. So a check created there is pingable through another process's
// ingest moments after the create returns, not a batching interval later.
func TestSeparateQueryRoleWritesAreNotBatchedAway(t *testing.T) {
	env := isolatedEnv(t)
	slow := maps.Clone(env)
	slow["HC_PROJECTOR_FLUSH_INTERVAL"] = "2m"
	slow["HC_PROJECTOR_WRITE_INTERVAL"] = "2m"
	ingestURL, queryURL := startRole(t, env, "ingest"), startRole(t, env, "query")
	projectorProcess(t, slow)
	for _, base := range []string{ingestURL, queryURL} {
		awaitReady(t, base)
	}
	key := (&stack{env: env}).createProject(t)["api_key"]
	// The project's own record goes through the same batching: wait for it first.
	testenv.Eventually(t, 30*time.Second, "the project never became usable", func() bool {
		return do(t, "GET", queryURL+"/api/v3/checks/", key, "").code == http.StatusOK
	})
	for i := range 3 {
		created := do(t, "POST", queryURL+"/api/v3/checks/", key, fmt.Sprintf(`{"name": "eager-%d"}`, i))
		if created.code != http.StatusCreated {
			t.Fatalf("create: %d %s", created.code, created.body)
		}
		id := created.json(t)["uuid"].(string)
		testenv.Eventually(t, 5*time.Second, "a check created through the query role is not pingable", func() bool {
			code, _ := pingOnce(ingestURL + "/ping/" + id)
			return code == http.StatusOK
		})
	}
}
