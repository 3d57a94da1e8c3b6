//go:build integration

package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// With HC_CHECK_LIMIT, the API refuses a project's check beyond the limit with an empty
// 403, and ?create=1 stops at twice the limit with 404 `not found`.
func TestCheckLimitOnRealStack(t *testing.T) {
	t.Parallel()
	env := isolatedEnv(t)
	env["HC_CHECK_LIMIT"] = "1"
	s := startStack(t, env)
	keys := s.createProject(t)
	if got := do(t, "POST", s.base+"/api/v3/checks/", keys["api_key"], `{"name": "first"}`); got.code != http.StatusCreated {
		t.Fatalf("first check: %d %s", got.code, got.body)
	}
	if got := do(t, "POST", s.base+"/api/v3/checks/", keys["api_key"], `{"name": "second"}`); got.code != http.StatusForbidden || got.body != "" {
		t.Errorf("over the limit: %d %q, want 403 with an empty body", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/ping/"+keys["ping_key"]+"/auto-1?create=1", "", ""); got.code != http.StatusCreated {
		t.Fatalf("create=1 below twice the limit: %d %q", got.code, got.body)
	}
	// Ingest counts from its registry: once it knows auto-1, the project holds two.
	testenv.Eventually(t, 10*time.Second, "ingest never learnt of auto-1", func() bool {
		return do(t, "GET", s.base+"/ping/"+keys["ping_key"]+"/auto-1", "", "").code == http.StatusOK
	})
	if got := do(t, "GET", s.base+"/ping/"+keys["ping_key"]+"/auto-2?create=1", "", ""); got.code != http.StatusNotFound || got.body != "not found" {
		t.Errorf("create=1 at twice the limit: %d %q, want 404 not found", got.code, got.body)
	}
}
