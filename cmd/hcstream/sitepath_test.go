package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Routes are served under the path of HC_SITE_ROOT, as Healthchecks mounts them, and
// also as they come, for proxies that strip the path.
func TestUnderSitePath(t *testing.T) {
	if got := sitePath("https://example.org/hc/"); got != "/hc" {
		t.Errorf("sitePath of a URL with a path: %q, want /hc", got)
	}
	if got := sitePath("http://localhost:8000"); got != "" {
		t.Errorf("sitePath of a root URL: %q, want empty", got)
	}
	seen := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) })
	h := underSitePath(seen, "/hc")
	for target, want := range map[string]string{
		"/hc/ping/abc":         "/ping/abc",
		"/hc/api/v3/checks/":   "/api/v3/checks/",
		"/hc":                  "/",
		"/hc/":                 "/",
		"/api/v3/status/":      "/api/v3/status/",
		"/hcx/ping/abc":        "/hcx/ping/abc",
		"/hc/ping/a%2Fb?rid=1": "/ping/a/b",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Body.String() != want {
			t.Errorf("%s reached the routes as %q, want %q", target, rec.Body.String(), want)
		}
	}
}
