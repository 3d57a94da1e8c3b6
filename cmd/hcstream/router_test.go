package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hcstream/hcstream/query"
)

// A path with an empty or a dot segment is a 404, as in Healthchecks, never a redirect
// to its clean form: clients follow a 301 with a GET, so a POST or a DELETE sent to an
// API base URL with a trailing slash would otherwise be answered 200 and do nothing.
func TestUncleanPathsAreNotFound(t *testing.T) {
	router := newRouter()
	query.New(query.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, nil, time.Now).Register(router)
	const id = "/6b1fd2a4-2ad2-4b5c-9a0d-1cc2a3d2f6a1"
	for _, tt := range []struct{ method, path string }{
		{"POST", "/api/v3//checks/"},
		{"GET", "/api/v1//checks/"},
		{"POST", "/api/v3//checks" + id},
		{"DELETE", "/api/v2//checks" + id},
		{"POST", "/api/v3/checks" + id + "/./pause"},
		{"POST", "/api/v3/checks/x/../" + id[1:] + "/resume"},
		{"GET", "//api/v3/checks/"},
	} {
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{"name": "x"}`)))
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "<h1>Not Found</h1>") {
			t.Errorf("%s %s: %d (Location %q), want Django's 404 page", tt.method, tt.path, rec.Code, rec.Header().Get("Location"))
		}
	}
	// A missing trailing slash still redirects, as Django's APPEND_SLASH does.
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v3/checks", nil))
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/api/v3/checks/" {
		t.Errorf("GET /api/v3/checks: %d to %q, want 301 to /api/v3/checks/", rec.Code, rec.Header().Get("Location"))
	}
}
