package query

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

func TestBadgeKeysRoundTrip(t *testing.T) {
	keys := newBadgeKeys("test site secret")
	id, _ := schemas.ParseID("039cfa85-59d7-482f-8830-70392a6ff3e5")
	checkKey, projectKey := keys.checkKey(id), keys.projectKey(id)
	if checkKey == id.String() || projectKey == id.String() || checkKey == projectKey {
		t.Fatalf("keys must differ from the ID and from each other: check %s, project %s", checkKey, projectKey)
	}
	if got, ok := keys.checkOf(checkKey); !ok || got != id {
		t.Errorf("checkOf(checkKey) = %s, %v", got, ok)
	}
	if got, ok := keys.projectOf(projectKey); !ok || got != id {
		t.Errorf("projectOf(projectKey) = %s, %v", got, ok)
	}
	if got, _ := keys.checkOf(projectKey); got == id {
		t.Error("a project key resolves to a check")
	}
	if got, _ := newBadgeKeys("another secret").checkOf(checkKey); got == id {
		t.Error("another site's secret resolves the key")
	}
	for _, bad := range []string{"", "nonsense", strings.ToUpper(checkKey), checkKey + "0"} {
		if _, ok := keys.checkOf(bad); ok {
			t.Errorf("checkOf(%q) accepted", bad)
		}
	}
}

// Badge URLs end up in READMEs and dashboards: the key of a check must never change for
// the same site secret. The values were computed independently with Python's
// cryptography package (AES-128 of the UUID bytes, key = HMAC-SHA256(secret, purpose)).
func TestBadgeKeyIsStable(t *testing.T) {
	id, _ := schemas.ParseID("039cfa85-59d7-482f-8830-70392a6ff3e5")
	keys := newBadgeKeys("test site secret")
	if got, want := keys.checkKey(id), "f3cff1fd-33c8-d8db-a1fc-087021019d59"; got != want {
		t.Errorf("checkKey = %s, want %s", got, want)
	}
	if got, want := keys.projectKey(id), "8930d48d-d2da-cb03-6079-dbe0dff7e4aa"; got != want {
		t.Errorf("projectKey = %s, want %s", got, want)
	}
}

// The vectors come from Django's base64_hmac formula computed with Python's hashlib.
func TestTagSignatureIsHealthchecks(t *testing.T) {
	keys := newBadgeKeys("test site secret")
	const projectKey = "0b1f3c55-9f9e-4f3c-8a55-4b4f3a7c2d10"
	for tag, want := range map[string]string{"db@dc1": "othkAeFB", "*": "qG7Q3Es0"} {
		if got := keys.signature(projectKey, tag); got != want {
			t.Errorf("signature(%q) = %s, want %s", tag, got, want)
		}
	}
}

func TestQuoteTwice(t *testing.T) {
	for in, want := range map[string]string{
		"prod":         "prod",
		"db@dc1":       "db%2540dc1",
		"db@dc1 ü/x~y": "db%2540dc1%2520%25C3%25BC%252Fx~y",
		"a.b_c-d":      "a.b_c-d",
	} {
		if got := quoteTwice(in); got != want {
			t.Errorf("quoteTwice(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTallyBadge(t *testing.T) {
	tests := []struct {
		statuses []string
		states   int
		want     badgeTally
	}{
		{nil, 3, badgeTally{"up", 0, 0, 0}},
		{[]string{"up", "new", "paused"}, 3, badgeTally{"up", 3, 0, 0}},
		{[]string{"up", "grace"}, 3, badgeTally{"late", 2, 1, 0}},
		{[]string{"up", "grace"}, 2, badgeTally{"up", 2, 1, 0}},
		{[]string{"grace", "down", "grace"}, 3, badgeTally{"down", 3, 2, 1}},
		{[]string{"down", "grace"}, 3, badgeTally{"down", 2, 1, 1}},
		{[]string{"down"}, 2, badgeTally{"down", 1, 0, 1}},
	}
	for _, tt := range tests {
		if got := tallyBadge(tt.statuses, tt.states); got != tt.want {
			t.Errorf("tallyBadge(%v, %d) = %+v, want %+v", tt.statuses, tt.states, got, tt.want)
		}
	}
}

func TestBadgeSVGEscapesTheLabel(t *testing.T) {
	svg := badgeSVG(`<script>alert("x")</script> & co`, "down")
	if strings.Contains(svg, "<script") || !strings.Contains(svg, "&lt;script&gt;") {
		t.Errorf("label not escaped: %s", svg)
	}
	if !strings.Contains(svg, `fill="#e05d44"`) {
		t.Errorf("down badge is not red: %s", svg)
	}
	if textWidth("mmmm") <= textWidth("iiii") {
		t.Error("wide letters must measure wider than narrow ones")
	}
}

// The badges list, then every URL in it, as a dashboard would follow them.
func TestBadgesEndToEnd(t *testing.T) {
	r, log := newTestAPI(t)
	create := func(body string) map[string]any {
		rec := call(r, "POST", "/api/v3/checks/", rwKey, body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	up := create(`{"name": "backup", "tags": "db@dc1 prod", "timeout": 3600, "grace": 3600}`)
	late := create(`{"name": "", "tags": "prod", "timeout": 3600, "grace": 3600}`)
	create(`{"name": "other", "tags": "web", "timeout": 3600}`)
	ping := func(id string, at time.Time) {
		checkID, _ := schemas.ParseID(id)
		if _, err := log.Append(t.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: schemas.ID{1}, CheckID: checkID, At: at,
			Body: schemas.PingReceived{Kind: schemas.PingSuccess}}); err != nil {
			t.Fatal(err)
		}
	}
	ping(up["uuid"].(string), testNow.Add(-time.Minute))
	ping(late["uuid"].(string), testNow.Add(-90*time.Minute)) // past its timeout, inside its grace

	rec := call(r, "GET", "/api/v3/badges/", roKey, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("badges: %d %s", rec.Code, rec.Body)
	}
	var list struct {
		Badges map[string]map[string]string `json:"badges"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Badges) != 4 || list.Badges["*"] == nil || list.Badges["db@dc1"] == nil || list.Badges["prod"] == nil || list.Badges["web"] == nil {
		t.Fatalf("badges for %v, want *, db@dc1, prod, web", rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `{"svg": "http://hc.example/badge/`) {
		t.Errorf("want Healthchecks' key order and separators: %s", rec.Body)
	}
	if u := list.Badges["db@dc1"]["svg"]; !strings.HasSuffix(u, "-2/db%2540dc1.svg") {
		t.Errorf("db@dc1 svg URL = %s", u)
	}
	get := func(u string) (int, string, http.Header) {
		rec := call(r, "GET", strings.TrimPrefix(u, "http://hc.example"), "", "")
		return rec.Code, rec.Body.String(), rec.Header()
	}
	for tag, want := range map[string]map[string]string{
		"*":      {"json3": `{"status": "late", "total": 3, "grace": 1, "down": 0}`, "json": `{"status": "up", "total": 3, "grace": 1, "down": 0}`},
		"prod":   {"shields3": `{"schemaVersion": 1, "label": "prod", "message": "late", "color": "important"}`, "shields": `{"schemaVersion": 1, "label": "prod", "message": "up", "color": "success"}`},
		"db@dc1": {"json3": `{"status": "up", "total": 1, "grace": 0, "down": 0}`},
		"web":    {"json3": `{"status": "up", "total": 1, "grace": 0, "down": 0}`},
	} {
		for format, body := range want {
			code, got, h := get(list.Badges[tag][format])
			if code != http.StatusOK || got != body {
				t.Errorf("%s %s: %d %s, want %s", tag, format, code, got, body)
			}
			if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Cache-Control"), "no-cache") {
				t.Errorf("%s %s headers %v", tag, format, h)
			}
		}
	}
	code, svg, h := get(list.Badges["*"]["svg3"])
	if code != http.StatusOK || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, ">hcstream</text>") || !strings.Contains(svg, ">late</text>") {
		t.Errorf("* svg3: %d %v %s", code, h, svg)
	}

	// The check's own badge, from the badge_url of its API response.
	code, svg, _ = get(up["badge_url"].(string))
	if code != http.StatusOK || !strings.Contains(svg, ">backup</text>") || !strings.Contains(svg, ">up</text>") {
		t.Errorf("badge_url: %d %s", code, svg)
	}
	lateKey := strings.TrimSuffix(strings.TrimPrefix(late["badge_url"].(string), "http://hc.example/b/2/"), ".svg")
	for path, want := range map[string]string{
		"/b/3/" + lateKey + ".json":    `{"status": "late", "total": 1, "grace": 1, "down": 0}`,
		"/b/2/" + lateKey + ".json":    `{"status": "up", "total": 1, "grace": 1, "down": 0}`,
		"/b/3/" + lateKey + ".shields": `{"schemaVersion": 1, "label": "` + late["uuid"].(string) + `", "message": "late", "color": "important"}`,
		"/b/4/" + lateKey + ".json":    `{"status": "up", "total": 1, "grace": 1, "down": 0}`, // any states but 3 is two-state
	} {
		if code, got, _ := get(path); code != http.StatusOK || got != want {
			t.Errorf("%s: %d %s, want %s", path, code, got, want)
		}
	}

	// A check created by a ping with ?create=1 has a name-based (version 5) ID.
	autoID := schemas.NameID([]byte("project"), []byte("auto-created"))
	if _, err := log.Append(t.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: schemas.ID{1}, CheckID: autoID, At: testNow,
		Body: schemas.CheckCreated{Config: schemas.CheckConfig{Name: "auto", Kind: schemas.KindSimple, Timeout: time.Hour, Grace: time.Hour}}}); err != nil {
		t.Fatal(err)
	}
	autoBadge := "/b/3/" + newBadgeKeys("test site secret").checkKey(autoID) + ".json"
	if code, got, _ := get(autoBadge); code != http.StatusOK || got != `{"status": "up", "total": 1, "grace": 0, "down": 0}` {
		t.Errorf("badge of a check created by ?create=1: %d %s", code, got)
	}

	good := list.Badges["prod"]["json3"]
	sig := good[strings.Index(good, "/badge/")+len("/badge/")+37:][:8]
	// Healthchecks answers a bad format or signature with an empty 404, an unknown check
	// with its HTML not-found page.
	for name, tc := range map[string]struct{ path, body string }{
		"unknown format":        {strings.Replace(good, ".json", ".png", 1), ""},
		"wrong signature":       {strings.Replace(good, sig, "AAAAAAAA", 1), ""},
		"signature of a tag":    {strings.Replace(good, "/prod.", "/web.", 1), ""},
		"short signature":       {strings.Replace(good, sig, sig[:7], 1), ""},
		"check: unknown format": {"/b/2/" + lateKey + ".png", ""},
		"unknown check":         {"/b/2/" + newBadgeKeys("other").checkKey(schemas.NewID()) + ".svg", notFoundPageMark},
		"check UUID as key":     {"/b/2/" + up["uuid"].(string) + ".svg", notFoundPageMark},
	} {
		code, body, h := get(tc.path)
		if code != http.StatusNotFound || (tc.body == "" && body != "") || !strings.Contains(body, tc.body) {
			t.Errorf("%s (%s): %d %q, want 404 with %q", name, tc.path, code, body, tc.body)
		}
		// The empty 404 is the view's own answer, under its decorators; the page follows
		// a raised Http404, which passes them by.
		decorated := h.Get("Access-Control-Allow-Origin") == "*" && strings.Contains(h.Get("Cache-Control"), "no-cache")
		undecorated := h.Get("Access-Control-Allow-Origin") == "" && h.Get("Cache-Control") == ""
		if (tc.body == "" && !decorated) || (tc.body != "" && !undecorated) {
			t.Errorf("%s: headers %v", name, h)
		}
		if h.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q, want HTML as Django's", name, h.Get("Content-Type"))
		}
	}
	for _, method := range []string{"POST", "HEAD"} {
		if rec := call(r, method, list.Badges["*"]["svg"], "", ""); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s to a badge: %d %v, want 405 as HTML", method, rec.Code, rec.Header())
		}
	}
	if rec := call(r, "OPTIONS", "/b/2/"+lateKey+".svg", "", ""); rec.Code != http.StatusNoContent || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("OPTIONS to a badge: %d %v", rec.Code, rec.Header())
	}

	// A deleted check's badge is gone.
	if rec := call(r, "DELETE", "/api/v3/checks/"+up["uuid"].(string), rwKey, ""); rec.Code != http.StatusOK {
		t.Fatalf("delete: %d", rec.Code)
	}
	if code, _, _ := get(up["badge_url"].(string)); code != http.StatusNotFound {
		t.Errorf("badge of a deleted check: %d, want 404", code)
	}
	if rec := call(r, "GET", "/api/v3/badges", roKey, ""); rec.Code != http.StatusMovedPermanently {
		t.Errorf("badges without the slash: %d", rec.Code)
	}
}

const notFoundPageMark = "<h1>Not Found</h1>"

// The store answers with a settled secret, which never changes: it is read once, and
// a store failing later changes nothing.
func TestBadgeSecretIsReadOnce(t *testing.T) {
	log := &fakeLog{checks: map[schemas.ID]history.CheckRow{}}
	st := &gatedStore{fakeLog: log}
	now := testNow
	api := New(Config{}, slog.New(slog.DiscardHandler), nil, st, log, func() time.Time { return now })
	first, err := api.badgeKeysNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	log.secretErr = errors.New("timeout")
	now = now.Add(24 * time.Hour)
	again, err := api.badgeKeysNow(t.Context())
	if err != nil || again.secret != first.secret || st.secretReads.Load() != 1 {
		t.Errorf("a day later, the store failing: %v, secret kept %v, %d reads; want nil, true, 1", err, again.secret == first.secret, st.secretReads.Load())
	}
}

// Without the site secret no URL can be made or checked: 503, as for any store failure.
func TestBadgesNeedTheSiteSecret(t *testing.T) {
	r, log := newTestAPI(t)
	log.secretErr = errors.New("connection refused")
	for _, path := range []string{"/api/v3/badges/", "/api/v3/checks/", "/b/2/2c6f30f9-4ce5-e5c4-6d8b-57f1a0f4d0a2.svg"} {
		if rec := call(r, "GET", path, rwKey, ""); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %s, want 503", path, rec.Code, rec.Body)
		}
	}
}

// The badges list is written tag by tag, with the bytes the whole document would have
// had through json.Marshal and Python's separators.
func TestBadgeListIsOneDocument(t *testing.T) {
	r, _ := newTestAPI(t)
	for _, tags := range []string{"web é", "<db> a&b", "zz web", ""} {
		if rec := call(r, "POST", "/api/v3/checks/", rwKey, `{"tags": "`+tags+`"}`); rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
	keys := newBadgeKeys("test site secret")
	want := map[string]badgeURLs{}
	for _, tag := range []string{"*", "web", "é", "<db>", "a&b", "zz"} {
		want[tag] = keys.tagBadgeURLs("http://hc.example", schemas.ID{1}, tag)
	}
	compact, err := json.Marshal(map[string]any{"badges": want})
	if err != nil {
		t.Fatal(err)
	}
	rec := call(r, "GET", "/api/v3/badges/", roKey, "")
	if rec.Code != http.StatusOK || rec.Body.String() != string(pythonJSON(compact)) {
		t.Errorf("%d\n%s\nwant\n%s", rec.Code, rec.Body, pythonJSON(compact))
	}
}
