package query

import (
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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
	// changed are the places in rows changed since the last ProjectChanges.
	changed []int
}

func (*heldRows) HoldsAll() bool { return true }

func (h *heldRows) ProjectChecks(schemas.ID) (iter.Seq[history.LazyRow], bool) {
	return eachRow(h.rows), true
}

func (h *heldRows) ProjectChanges(_ schemas.ID, since history.ChangeCursor) (history.ProjectChanges, bool) {
	changes := history.ProjectChanges{Next: history.ChangeCursor{{Epoch: 1}}}
	if since == nil {
		changes.Complete, changes.Rows = true, eachRow(h.rows)
	} else {
		changed := make([]history.CheckRow, len(h.changed))
		for i, at := range h.changed {
			changed[i] = h.rows[at]
		}
		changes.Rows = eachRow(changed)
	}
	h.changed = h.changed[:0]
	return changes, true
}

// change gives the rows at the places given a new version.
func (h *heldRows) change(places ...int) {
	for _, at := range places {
		h.rows[at].Version++
	}
	h.changed = append(h.changed, places...)
}

// tenThousandChecks is an API over a project of 10,000 checks, each pinged once, whose
// rows the returned LiveChecks holds.
func tenThousandChecks(b *testing.B) (*mux.Router, *heldRows) {
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
	held := &heldRows{rows: rows}
	api := New(Config{SiteRoot: "http://hc.example"}, slog.New(slog.DiscardHandler), nil, WithLiveChecks(log, held), log, func() time.Time { return testNow })
	r = mux.NewRouter()
	api.Register(r)
	return r, held
}

// BenchmarkListTenThousandChecks times GET /api/v3/checks/ for a project of 10,000
// checks, from memory that answers at once, into a writer that discards the body as a
// socket would take it: the API's own share of the list latency.
// (projector.BenchmarkProjectChecks is the projector's share.)
func BenchmarkListTenThousandChecks(b *testing.B) {
	r, held := tenThousandChecks(b)
	rows := held.rows
	list := func(b *testing.B) {
		req := httptest.NewRequest("GET", "/api/v3/checks/", nil)
		req.Header.Set("X-Api-Key", rwKey)
		w := &discardWriter{header: http.Header{}}
		r.ServeHTTP(w, req)
		if w.code != 200 || w.written < 9_000_000 {
			b.Fatal(w.code, w.written)
		}
	}
	every := make([]int, len(rows))
	for i := range every {
		every[i] = i
	}
	// Every check has a new version at every read: each is rendered.
	b.Run("changed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			held.change(every...)
			list(b)
		}
	})
	// A tenth of the checks changed, as between two reads 200 ms apart at 5,000 pings a
	// second.
	b.Run("tenth changed", func(b *testing.B) {
		b.ReportAllocs()
		next := 0
		for b.Loop() {
			held.change(every[next : next+1000]...)
			next = (next + 1000) % len(every)
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

// BenchmarkTagFilter is one check's test against a list's tag filter at its worst: a
// check with the longest tags string Healthchecks stores (250 one-letter tags would not
// be distinct, so 125 tags of three characters) and a request asking for all of them.
func BenchmarkTagFilter(b *testing.B) {
	tags := make([]string, 125)
	for i := range tags {
		tags[i] = fmt.Sprintf("%03d", i)
	}
	checkTags := strings.Join(tags, " ")
	shown := listFilter("", tags)
	for b.Loop() {
		if !shown("", checkTags) {
			b.Fatal("not shown")
		}
	}
}
