package query

import (
	"fmt"
	"net/http/httptest"
	"testing"
)

// BenchmarkListTenThousandChecks times GET /api/v3/checks/ for a project of 10,000
// checks, from a store that answers at once: the API's own share of the list latency.
func BenchmarkListTenThousandChecks(b *testing.B) {
	r, _ := newTestAPI(b)
	for i := range 10_000 {
		rec := call(r, "POST", "/api/v3/checks/", rwKey, fmt.Sprintf(`{"name": "load-%d", "tags": "load", "timeout": 60, "grace": 60}`, i))
		if rec.Code != 201 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/v3/checks/", nil)
		req.Header.Set("X-Api-Key", rwKey)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
