//go:build integration

package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// notFoundHTML marks a 404 whose body is Healthchecks' (Django's) HTML page.
const notFoundHTML = "<h1>Not Found</h1>"

// Every error path of the Management API (contract §2) on the real stack, for v1, v2
// and v3: key sources and their order, read-only keys, other projects' checks, unknown
// checks, validation, conflicts, methods and CORS preflights. A want body of "" means an
// empty body; notFoundHTML means the HTML not-found page.
func TestManagementAPIErrorPathsOnRealStack(t *testing.T) {
	t.Parallel()
	env := isolatedEnv(t)
	s := startStack(t, env)
	own, other := s.createProject(t), s.createProject(t)
	rw, ro, otherRW := own["api_key"], own["api_key_readonly"], other["api_key"]
	mine := do(t, "POST", s.base+"/api/v3/checks/", rw, `{"name": "mine"}`)
	theirs := do(t, "POST", s.base+"/api/v3/checks/", otherRW, `{"name": "theirs"}`)
	if mine.code != http.StatusCreated || theirs.code != http.StatusCreated {
		t.Fatalf("creating checks: %d %s, %d %s", mine.code, mine.body, theirs.code, theirs.body)
	}
	myID, theirID := mine.json(t)["uuid"].(string), theirs.json(t)["uuid"].(string)
	if got := do(t, "GET", s.base+"/ping/"+myID, "", ""); got.code != http.StatusOK {
		t.Fatalf("ping: %d %s", got.code, got.body)
	}
	const unknownID = "00000000-0000-4000-8000-000000000000"
	unknownKey := strings.Repeat("a", 40)
	wrongKey := "hcw_" + strings.Repeat("z", 28)

	for version := 1; version <= 3; version++ {
		api := s.base + "/api/v" + strconv.Itoa(version) + "/"
		for _, tc := range []struct {
			name, method, path, key, body string
			code                          int
			want                          string
		}{
			// Keys: absent, short, unknown; header wins; body keys only for rw POSTs.
			{"no key", "GET", "checks/", "", "", 401, `{"error": "missing api key"}`},
			{"short key", "GET", "checks/", "hcw_short", "", 401, `{"error": "missing api key"}`},
			{"unknown key", "GET", "checks/", wrongKey, "", 401, `{"error": "wrong api key"}`},
			{"body key on GET", "GET", "checks/", "", `{"api_key": "` + rw + `"}`, 401, `{"error": "missing api key"}`},
			{"body key on DELETE", "DELETE", "checks/" + myID, "", `{"api_key": "` + rw + `"}`, 401, `{"error": "missing api key"}`},
			{"header wins over body key", "POST", "checks/", wrongKey, `{"api_key": "` + rw + `"}`, 401, `{"error": "wrong api key"}`},
			// Body errors come before the key check.
			{"unparsable body", "POST", "checks/", "", `{"name":`, 400, `{"error": "could not parse request body"}`},
			{"body not an object", "POST", "checks/", "", `123`, 400, `{"error": "json validation error: value is not an object"}`},
			{"null body", "POST", "checks/", "", `null`, 400, `{"error": "json validation error: value is not an object"}`},
			{"a DELETE's body is not read", "DELETE", "checks/" + unknownID, rw, `garbage`, 404, notFoundHTML},
			{"no such route", "GET", "nonexistent", rw, "", 404, notFoundHTML},
			{"trailing slash on a check", "GET", "checks/" + myID + "/", rw, "", 404, notFoundHTML},
			{"pause body not an object", "POST", "checks/" + myID + "/pause", rw, `[1]`, 400, `{"error": "json validation error: value is not an object"}`},
			// Read-only keys: reads of checks and flips only.
			{"read-only create", "POST", "checks/", ro, `{"name": "x"}`, 401, `{"error": "wrong api key"}`},
			{"read-only update", "POST", "checks/" + myID, ro, `{}`, 401, `{"error": "wrong api key"}`},
			{"read-only delete", "DELETE", "checks/" + myID, ro, "", 401, `{"error": "wrong api key"}`},
			{"read-only pause", "POST", "checks/" + myID + "/pause", ro, "", 401, `{"error": "wrong api key"}`},
			{"read-only pings", "GET", "checks/" + myID + "/pings/", ro, "", 401, `{"error": "wrong api key"}`},
			{"read-only ping body", "GET", "checks/" + myID + "/pings/1/body", ro, "", 401, `{"error": "wrong api key"}`},
			{"read-only channels", "GET", "channels/", ro, "", 401, `{"error": "wrong api key"}`},
			// Another project's check: 403 with an empty body, after the key check.
			{"other's check", "GET", "checks/" + theirID, rw, "", 403, ""},
			{"other's update", "POST", "checks/" + theirID, rw, `{"name": "mine now"}`, 403, ""},
			{"other's delete", "DELETE", "checks/" + theirID, rw, "", 403, ""},
			{"other's pause", "POST", "checks/" + theirID + "/pause", rw, "", 403, ""},
			{"other's resume", "POST", "checks/" + theirID + "/resume", rw, "", 403, ""},
			{"other's pings", "GET", "checks/" + theirID + "/pings/", rw, "", 403, ""},
			{"other's ping body", "GET", "checks/" + theirID + "/pings/1/body", rw, "", 403, ""},
			{"other's flips", "GET", "checks/" + theirID + "/flips/", rw, "", 403, ""},
			// Unknown checks.
			{"unknown check", "GET", "checks/" + unknownID, rw, "", 404, notFoundHTML},
			{"unknown update", "POST", "checks/" + unknownID, rw, `{}`, 404, notFoundHTML},
			{"unknown delete", "DELETE", "checks/" + unknownID, rw, "", 404, notFoundHTML},
			{"unknown pause", "POST", "checks/" + unknownID + "/pause", rw, "", 404, notFoundHTML},
			{"unknown pings", "GET", "checks/" + unknownID + "/pings/", rw, "", 404, notFoundHTML},
			{"unknown flips", "GET", "checks/" + unknownID + "/flips/", rw, "", 404, notFoundHTML},
			{"unknown unique_key", "GET", "checks/" + unknownKey, ro, "", 404, ""},
			{"unknown unique_key flips", "GET", "checks/" + unknownKey + "/flips/", ro, "", 404, ""},
			{"body of a ping without one", "GET", "checks/" + myID + "/pings/1/body", rw, "", 404, notFoundHTML},
			{"body of a ping never sent", "GET", "checks/" + myID + "/pings/7/body", rw, "", 404, notFoundHTML},
			// Validation, channels and conflicts.
			{"timeout too small", "POST", "checks/", rw, `{"timeout": 59}`, 400, `{"error": "json validation error: timeout is too small"}`},
			{"grace not a number", "POST", "checks/" + myID, rw, `{"grace": "60"}`, 400, `{"error": "json validation error: grace is not a number"}`},
			{"bad schedule", "POST", "checks/", rw, `{"schedule": "* * *"}`, 400, `{"error": "json validation error: schedule is not a valid cron or OnCalendar expression"}`},
			{"bad time zone", "POST", "checks/", rw, `{"schedule": "* * * * *", "tz": "Mars/Olympus"}`, 400, `{"error": "json validation error: tz is not a valid timezone"}`},
			{"unknown channel", "POST", "checks/", rw, `{"channels": "pager"}`, 400, `{"error": "invalid channel identifier: pager"}`},
			{"empty channel", "POST", "checks/" + myID, rw, `{"channels": "a,,b"}`, 400, `{"error": "empty channel identifier"}`},
			{"resume a running check", "POST", "checks/" + myID + "/resume", rw, "", 409, "check is not paused"},
			{"bad flips window", "GET", "checks/" + myID + "/flips/?start=yesterday", rw, "", 400, ""},
			// Methods and CORS.
			{"PUT on the list", "PUT", "checks/", rw, "", 405, ""},
			{"GET on pause", "GET", "checks/" + myID + "/pause", rw, "", 405, ""},
			{"POST on pings", "POST", "checks/" + myID + "/pings/", rw, "", 405, ""},
			{"POST on channels", "POST", "channels/", rw, "", 405, ""},
			{"POST on badges", "POST", "badges/", rw, "", 405, ""},
			{"DELETE by unique_key", "DELETE", "checks/" + unknownKey, rw, "", 405, ""},
			{"preflight without a key", "OPTIONS", "checks/" + myID, "", "", 204, ""},
		} {
			got := do(t, tc.method, api+tc.path, tc.key, tc.body)
			bodyOK := got.body == tc.want
			if tc.want == notFoundHTML {
				bodyOK = strings.Contains(got.body, notFoundHTML) && strings.HasPrefix(got.header.Get("Content-Type"), "text/html")
			}
			if got.code != tc.code || !bodyOK {
				t.Errorf("v%d %s: %s %s → %d %q, want %d %q", version, tc.name, tc.method, tc.path, got.code, got.body, tc.code, tc.want)
			}
			if tc.code != 404 && got.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("v%d %s: no CORS header on a %d", version, tc.name, got.code)
			}
			// Django builds the HTML 404 past the view's CORS decorator.
			if tc.want == notFoundHTML && got.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("v%d %s: CORS headers on the HTML 404 page", version, tc.name)
			}
		}
		// APPEND_SLASH: a route with a trailing slash is reached without it by a 301.
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, path := range []string{"checks", "channels", "badges", "checks/" + myID + "/pings", "checks/" + myID + "/flips", "checks/" + unknownKey + "/flips"} {
			req, _ := http.NewRequest("GET", api+path, nil)
			req.Header.Set("X-Api-Key", rw)
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/api/v"+strconv.Itoa(version)+"/"+path+"/" {
				t.Errorf("v%d GET %s: %d to %q, want 301 to the slashed URL", version, path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
	// Nothing above changed the checks.
	if got := do(t, "GET", s.base+"/api/v3/checks/"+theirID, otherRW, ""); got.code != 200 || got.json(t)["name"] != "theirs" {
		t.Errorf("the other project's check after the refused writes: %d %s", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/api/v3/checks/", rw, ""); got.code != 200 || strings.Count(got.body, `"name": `) != 1 {
		t.Errorf("own checks after the refused writes: %d %s", got.code, got.body)
	}
}

// With a path in HC_SITE_ROOT, every route is served under it, as Healthchecks mounts
// them, and the URLs in API responses work.
func TestSitePathOnRealStack(t *testing.T) {
	t.Parallel()
	env := isolatedEnv(t)
	env["HC_SITE_ROOT"] += "/hc"
	s := startStack(t, env)
	key := s.createProject(t)["api_key"]
	created := do(t, "POST", s.base+"/hc/api/v3/checks/", key, `{"name": "under a path"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("creating a check under /hc: %d %s", created.code, created.body)
	}
	check := created.json(t)
	if !strings.HasPrefix(check["ping_url"].(string), s.base+"/hc/ping/") {
		t.Errorf("ping_url %v is not under the site path", check["ping_url"])
	}
	if got := do(t, "GET", check["ping_url"].(string), "", ""); got.code != http.StatusOK || got.body != "OK" {
		t.Errorf("pinging ping_url: %d %q", got.code, got.body)
	}
	if got := do(t, "GET", check["update_url"].(string), key, ""); got.code != http.StatusOK || got.json(t)["name"] != "under a path" {
		t.Errorf("reading update_url: %d %s", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/hc/api/v3/status/", "", ""); got.code != http.StatusOK {
		t.Errorf("status under the site path: %d %q", got.code, got.body)
	}
	if got := do(t, "GET", s.base+"/hc/nothing-here", "", ""); got.code != http.StatusNotFound || !strings.Contains(got.body, notFoundHTML) {
		t.Errorf("a route miss under the site path: %d %q, want the HTML 404", got.code, got.body)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.base + "/hc/api/v3/checks?tag=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/hc/api/v3/checks/?tag=x" {
		t.Errorf("the slash redirect under the site path: %d to %q, want 301 to /hc/api/v3/checks/?tag=x", resp.StatusCode, resp.Header.Get("Location"))
	}
}
