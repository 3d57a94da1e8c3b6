package query

import (
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/schemas"
)

// discardWriter is a ResponseWriter that counts the body and keeps none of it.
type discardWriter struct {
	header  http.Header
	code    int
	written int
}

func (w *discardWriter) Header() http.Header  { return w.header }
func (w *discardWriter) WriteHeader(code int) { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.written += len(p)
	return len(p), nil
}

// heldRows is a LiveChecks that holds every partition and yields rows at no cost.
type heldRows struct {
	liveMap
	rows []history.CheckRow
}

func (heldRows) HoldsAll() bool { return true }

func (h heldRows) ProjectChecks(schemas.ID) (iter.Seq[history.LazyRow], bool) {
	return eachRow(h.rows), true
}

// BenchmarkListTenThousandChecks times GET /api/v3/checks/ for a project of 10,000
// checks, from memory that answers at once, into a writer that discards the body as a
// socket would take it: the API's own share of the list latency.
// (projector.BenchmarkProjectChecks is the projector's share.)
func BenchmarkListTenThousandChecks(b *testing.B) {
	r, log := newTestAPI(b)
	for i := range 10_000 {
		rec := call(r, "POST", "/api/v3/checks/", rwKey, fmt.Sprintf(`{"name": "load-%d", "tags": "load", "timeout": 60, "grace": 60}`, i))
		if rec.Code != 201 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
	created, err := log.Checks(b.Context(), schemas.ID{1})
	if err != nil {
		b.Fatal(err)
	}
	// Pinged once each, as under load, so every check has a last and a next ping.
	for _, row := range created {
		if _, err := log.Append(b.Context(), schemas.Event{ID: schemas.NewID(), ProjectID: schemas.ID{1}, CheckID: row.State.CheckID,
			At: testNow.Add(-time.Minute), Body: schemas.PingReceived{Kind: schemas.PingSuccess}}); err != nil {
			b.Fatal(err)
		}
	}
	rows, err := log.Checks(b.Context(), schemas.ID{1})
	if err != nil {
		b.Fatal(err)
	}
	api := New(Config{SiteRoot: "http://hc.example"}, slog.New(slog.DiscardHandler), nil, WithLiveChecks(log, heldRows{rows: rows}), log, func() time.Time { return testNow })
	r = mux.NewRouter()
	api.Register(r)
	list := func(b *testing.B) {
		req := httptest.NewRequest("GET", "/api/v3/checks/", nil)
		req.Header.Set("X-Api-Key", rwKey)
		w := &discardWriter{header: http.Header{}}
		r.ServeHTTP(w, req)
		if w.code != 200 || w.written < 9_000_000 {
			b.Fatal(w.code, w.written)
		}
	}
	// Every check has a new version at every read: each is rendered.
	b.Run("changed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range rows {
				rows[i].Version++
			}
			list(b)
		}
	})
	// No check has changed since the last read: each rendering is reused.
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			list(b)
		}
	})
}
