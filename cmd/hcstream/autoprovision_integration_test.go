//go:build integration

package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// A create=1 ping of a slug whose auto-provisioned check was deleted, or given another
// slug, creates a new check and pings it, as Healthchecks does; the old check is left
// as it was.
func TestAutoProvisionAfterDeleteAndRename(t *testing.T) {
	t.Parallel()
	s := startStack(t, isolatedEnv(t))
	keys := s.createProject(t)
	key, pingURL := keys["api_key"], s.base+"/ping/"+keys["ping_key"]+"/nightly"
	checksOfSlug := func() []any {
		return do(t, "GET", s.base+"/api/v3/checks/?slug=nightly", key, "").json(t)["checks"].([]any)
	}
	// provision pings until one creates a check, then returns the check the slug names,
	// once it shows that ping.
	provision := func(step string) map[string]any {
		t.Helper()
		// Until ingest has read the delete or rename, the slug still names the old check.
		testenv.Eventually(t, 15*time.Second, step+": the slug still names a check", func() bool {
			return do(t, "GET", pingURL, "", "").code == http.StatusNotFound
		})
		if got := do(t, "GET", pingURL+"?create=1", "", ""); got.code != http.StatusCreated {
			t.Fatalf("%s: create=1 answered %d %q, want 201", step, got.code, got.body)
		}
		var check map[string]any
		testenv.Eventually(t, 15*time.Second, step+": the created check never showed its ping", func() bool {
			checks := checksOfSlug()
			if len(checks) != 1 {
				return false
			}
			check = checks[0].(map[string]any)
			return check["n_pings"].(float64) >= 1
		})
		return check
	}

	first := provision("first")
	if got := do(t, "DELETE", first["update_url"].(string), key, ""); got.code != http.StatusOK {
		t.Fatalf("deleting the check: %d %s", got.code, got.body)
	}
	second := provision("after the delete")
	if second["uuid"] == first["uuid"] {
		t.Fatal("the check created after the delete has the deleted check's ID")
	}

	if got := do(t, "POST", second["update_url"].(string), key, `{"slug": "renamed"}`); got.code != http.StatusOK {
		t.Fatalf("renaming the check: %d %s", got.code, got.body)
	}
	renamedPings := do(t, "GET", second["update_url"].(string), key, "").json(t)["n_pings"]
	third := provision("after the rename")
	if third["uuid"] == first["uuid"] || third["uuid"] == second["uuid"] {
		t.Fatalf("the check created after the rename took a taken ID: %v", third["uuid"])
	}
	if got := do(t, "GET", second["update_url"].(string), key, "").json(t); got["slug"] != "renamed" || got["n_pings"] != renamedPings {
		t.Errorf("the renamed check: slug %v, n_pings %v; want renamed, %v (create=1 pings of the old slug are not its own)",
			got["slug"], got["n_pings"], renamedPings)
	}
}
