//go:build integration

package main

import (
	"net/http"
	"strings"
	"testing"
)

// Badges on the real stack: the list names every tag, its URLs answer with the
// checks' status from ClickHouse, a check's badge_url draws its badge, and a check of
// another project or a forged signature gets nothing. The Prometheus endpoint agrees.
func TestBadgesOnRealStack(t *testing.T) {
	t.Parallel()
	env := isolatedEnv(t)
	s := startStack(t, env)
	keys := s.createProject(t)
	created := do(t, "POST", s.base+"/api/v3/checks/", keys["api_key"], `{"name": "nightly <backup>", "tags": "db prod"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	check := created.json(t)
	if got := do(t, "GET", s.base+"/ping/"+check["uuid"].(string)+"/fail", "", ""); got.code != http.StatusOK {
		t.Fatalf("fail ping: %d %s", got.code, got.body)
	}
	// The ping is folded before the read: the next write waits for the projector.
	if got := do(t, "POST", s.base+"/api/v3/checks/", keys["api_key"], `{"name": "other", "tags": "web"}`); got.code != http.StatusCreated {
		t.Fatalf("second create: %d %s", got.code, got.body)
	}

	list := do(t, "GET", s.base+"/api/v3/badges/", keys["api_key_readonly"], "")
	if list.code != http.StatusOK {
		t.Fatalf("badges: %d %s", list.code, list.body)
	}
	badges := list.json(t)["badges"].(map[string]any)
	if len(badges) != 4 {
		t.Fatalf("badges for %d tags, want *, db, prod, web: %s", len(badges), list.body)
	}
	url := func(tag, format string) string { return badges[tag].(map[string]any)[format].(string) }
	for _, tc := range []struct{ tag, format, want string }{
		{"*", "json3", `{"status": "down", "total": 2, "grace": 0, "down": 1}`},
		{"web", "json", `{"status": "up", "total": 1, "grace": 0, "down": 0}`},
		{"prod", "shields", `{"schemaVersion": 1, "label": "prod", "message": "down", "color": "critical"}`},
	} {
		if got := do(t, "GET", url(tc.tag, tc.format), "", ""); got.code != http.StatusOK || got.body != tc.want {
			t.Errorf("%s %s: %d %s, want %s", tc.tag, tc.format, got.code, got.body, tc.want)
		}
	}
	svg := do(t, "GET", check["badge_url"].(string), "", "")
	if svg.code != http.StatusOK || !strings.Contains(svg.body, ">nightly &lt;backup&gt;</text>") || !strings.Contains(svg.body, ">down</text>") {
		t.Errorf("badge_url: %d %s", svg.code, svg.body)
	}
	forged := strings.Replace(url("db", "svg3"), "/db.svg", "/web.svg", 1)
	if got := do(t, "GET", forged, "", ""); got.code != http.StatusNotFound {
		t.Errorf("a signature for another tag: %d %s, want 404", got.code, got.body)
	}

	// Healthchecks' Prometheus endpoint reads the same states, checks in the order
	// they were created.
	uniqueKey, _ := do(t, "GET", s.base+"/api/v3/checks/", keys["api_key_readonly"], "").json(t)["checks"].([]any)[0].(map[string]any)["unique_key"].(string)
	scrape := do(t, "GET", s.base+"/projects/"+keys["project_id"]+"/metrics/"+keys["api_key_readonly"], "", "")
	up := "hc_check_up{name=\"nightly <backup>\", tags=\"db prod\", unique_key=\"" + uniqueKey + "\"} 0\nhc_check_up{name=\"other\""
	if scrape.code != http.StatusOK || !strings.Contains(scrape.body, up) || !strings.Contains(scrape.body, "hc_tag_up{tag=\"db\"} 0\nhc_tag_up{tag=\"prod\"} 0\nhc_tag_up{tag=\"web\"} 1\n") ||
		!strings.Contains(scrape.body, "hc_checks_total 2\n") || !strings.Contains(scrape.body, "hc_checks_down_total 1\n") {
		t.Errorf("metrics: %d\n%s", scrape.code, scrape.body)
	}
	if got := do(t, "GET", s.base+"/projects/"+keys["project_id"]+"/metrics/"+keys["api_key"], "", ""); got.code != http.StatusForbidden {
		t.Errorf("metrics with the read-write key: %d, want 403", got.code)
	}
}
