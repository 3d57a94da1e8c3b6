package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/ingest/logthrottle"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

type fakeLookup struct {
	checks   map[schemas.ID]schemas.ID
	deleted  map[schemas.ID]bool
	pingKeys map[string]schemas.ID
	slugs    map[string][]schemas.ID
	syncErr  error
	syncs    atomic.Int32
}

func (f *fakeLookup) Check(id schemas.ID) (schemas.ID, bool) { p, ok := f.checks[id]; return p, ok }
func (f *fakeLookup) Taken(id schemas.ID) bool {
	_, exists := f.checks[id]
	return exists || f.deleted[id]
}
func (f *fakeLookup) Slug(key, slug string) (schemas.ID, bool, []schemas.ID) {
	p, ok := f.pingKeys[key]
	if !ok {
		return p, false, nil
	}
	return p, true, f.slugs[slug]
}
func (f *fakeLookup) Sync(context.Context) error { f.syncs.Add(1); return f.syncErr }
func (f *fakeLookup) Checks(project schemas.ID) int {
	n := 0
	for _, p := range f.checks {
		if p == project {
			n++
		}
	}
	return n
}

type fakePublisher struct {
	mu   sync.Mutex
	msgs []kafka.Message
	err  error
}

func (f *fakePublisher) Publish(_ context.Context, msgs ...kafka.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.msgs = append(f.msgs, msgs...)
	return nil
}

func (f *fakePublisher) events(t *testing.T) []schemas.Event {
	t.Helper()
	var out []schemas.Event
	for _, m := range f.msgs {
		ev, err := kafkarec.Event(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

var (
	project = schemas.ID{0xa}
	checkID = schemas.ID{0x2d, 0x6a, 0x9c, 0x2e, 0x4f, 0x1b, 0x4a, 0x8d, 0x8c, 0x3e, 0x7b, 0x6a, 0x5d, 0x4c, 0x3b, 0x2a}
	dupA    = schemas.ID{0xd, 1}
	dupB    = schemas.ID{0xd, 2}
	now     = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
)

func newTestIngest(pub *fakePublisher, lookup *fakeLookup) http.Handler {
	in := New(Config{BodyLimit: 20, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil, lookup, pub, func() time.Time { return now })
	return in.Handler("/ping/")
}

func defaultLookup() *fakeLookup {
	return &fakeLookup{
		checks:   map[schemas.ID]schemas.ID{checkID: project},
		pingKeys: map[string]schemas.ID{"pk": project},
		slugs:    map[string][]schemas.ID{"backup": {checkID}, "dup": {dupA, dupB}},
	}
}

// pingCase is one row of the Healthchecks ping response catalogue.
type pingCase struct {
	name, method, target, body string
	wantCode                   int
	wantBody                   string
	wantNoCache, wantCORS      bool
	wantEvents                 int
}

// pingCatalogue is run against fakes here and against real Kafka under the integration
// tag, with the same project, checks and slugs (see defaultLookup).
func pingCatalogue() []pingCase {
	id := checkID.String()
	return []pingCase{
		{"success", "GET", "/ping/" + id, "", 200, "OK", true, true, 1},
		{"trailing slash", "GET", "/ping/" + id + "/", "", 200, "OK", true, true, 1},
		{"HEAD", "HEAD", "/ping/" + id + "/start", "", 200, "", true, true, 1},
		{"OPTIONS is a ping", "OPTIONS", "/ping/" + id + "/log", "", 200, "OK", true, true, 1},
		{"exit status", "POST", "/ping/" + id + "/3", "", 200, "OK", true, true, 1},
		{"unknown uuid", "GET", "/ping/" + schemas.ID{9}.String(), "", 404, "not found", true, false, 0},
		{"malformed", "GET", "/ping/not-a-uuid/", "", 404, "", false, false, 0},
		{"exit status too large", "GET", "/ping/" + id + "/256", "", 400, "invalid url format", true, false, 0},
		{"empty rid", "GET", "/ping/" + id + "?rid=", "", 400, "invalid uuid format", true, false, 0},
		{"bad rid", "GET", "/ping/" + id + "?rid=abc", "", 400, "invalid uuid format", true, false, 0},
		{"uppercase slug", "GET", "/ping/pk/Backup", "", 400, "invalid url format", false, false, 0},
		{"slug", "GET", "/ping/pk/backup/fail", "", 200, "OK", true, true, 1},
		{"slug with exit status too large", "GET", "/ping/pk/backup/256", "", 400, "invalid url format", true, false, 0},
		{"slug with bad rid", "GET", "/ping/pk/backup?rid=bad", "", 400, "invalid uuid format", true, false, 0},
		{"slug with empty rid", "GET", "/ping/pk/backup/start?rid=", "", 400, "invalid uuid format", true, false, 0},
		{"rid with a broken escape", "GET", "/ping/" + id + "?rid=%zz", "", 400, "invalid uuid format", true, false, 0},
		{"rid followed by a semicolon", "GET", "/ping/" + id + "?rid=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d;x=1", "", 400, "invalid uuid format", true, false, 0},
		{"unknown slug", "GET", "/ping/pk/nope", "", 404, "not found", false, false, 0},
		{"unknown ping key", "GET", "/ping/zz/backup?create=1", "", 404, "not found", false, false, 0},
		{"ambiguous slug", "GET", "/ping/pk/dup?create=1", "", 409, "ambiguous slug", false, false, 0},
		{"auto-provision", "GET", "/ping/pk/new-job?create=1", "", 201, "Created", true, true, 2},
		{"auto-provision with bad exit status", "GET", "/ping/pk/new-job/300?create=1", "", 400, "invalid url format", true, false, 0},
		{"uuid then unknown action is a slug", "GET", "/ping/" + id + "/foo", "", 404, "not found", false, false, 0},
		{"body too large", "POST", "/ping/" + id, strings.Repeat("x", 2621441), 400, "request body too large", false, false, 0},
		{"body cut to the limit", "POST", "/ping/" + id + "/fail", strings.Repeat("y", 100), 200, "OK", true, true, 1},
		{"valid rid in any case", "GET", "/ping/" + id + "/start?rid=9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D", "", 200, "OK", true, true, 1},
		{"negative exit status is a slug", "GET", "/ping/" + id + "/-1", "", 404, "not found", false, false, 0},
		{"uppercase uuid", "GET", "/ping/" + strings.ToUpper(id), "", 404, "", false, false, 0},
		{"create=1 on a uuid is ignored", "GET", "/ping/" + id + "?create=1", "", 200, "OK", true, true, 1},
		{"slug with trailing slash", "GET", "/ping/pk/backup/", "", 404, "", false, false, 0},
	}
}

// The Healthchecks ping response catalogue.
func TestPingResponses(t *testing.T) {
	for _, tt := range pingCatalogue() {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			rec := httptest.NewRecorder()
			newTestIngest(pub, defaultLookup()).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body)))
			checkPingResponse(t, tt, rec.Code, rec.Body.String(), rec.Header())
			if len(pub.msgs) != tt.wantEvents {
				t.Errorf("%d records published, want %d", len(pub.msgs), tt.wantEvents)
			}
		})
	}
}

func checkPingResponse(t *testing.T, tt pingCase, code int, body string, header http.Header) {
	t.Helper()
	if code != tt.wantCode || (tt.wantBody != "" && body != tt.wantBody) {
		t.Errorf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
	}
	if got := header.Get("Cache-Control") != ""; got != tt.wantNoCache {
		t.Errorf("no-cache header present = %v, want %v", got, tt.wantNoCache)
	}
	if got := header.Get("Access-Control-Allow-Origin") == "*"; got != tt.wantCORS {
		t.Errorf("CORS header present = %v, want %v", got, tt.wantCORS)
	}
}

func TestPingRecordsRequestFacts(t *testing.T) {
	pub := &fakePublisher{}
	h := newTestIngest(pub, defaultLookup())
	req := httptest.NewRequest("POST", "/ping/"+checkID.String()+"/0?rid=9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D", strings.NewReader("0123456789abcdefghijKLMNOP"))
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.1.2.3")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("User-Agent", strings.Repeat("é", 250))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Ping-Body-Limit") != "20" {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	ev := pub.events(t)[0]
	p := ev.Body.(schemas.PingReceived)
	if ev.CheckID != checkID || ev.ProjectID != project || !ev.At.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("envelope %+v", ev)
	}
	if p.Kind != schemas.PingExitStatus || p.ExitStatus != 0 || !p.HasRunID || p.RunID.String() != "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" {
		t.Errorf("ping %+v", p)
	}
	if string(p.Body) != "0123456789abcdefghij" || p.RemoteAddr != "203.0.113.9" || p.Scheme != "https" || p.Method != "POST" {
		t.Errorf("facts: body %q addr %q scheme %q", p.Body, p.RemoteAddr, p.Scheme)
	}
	if n := len([]rune(p.UserAgent)); n != 200 {
		t.Errorf("user agent kept %d characters, want 200", n)
	}

	// An untrusted peer's forwarding headers are ignored.
	req = httptest.NewRequest("GET", "/ping/"+checkID.String(), nil)
	req.RemoteAddr = "192.0.2.1:1"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if p := pub.events(t)[1].Body.(schemas.PingReceived); p.RemoteAddr != "192.0.2.1" || p.Scheme != "http" {
		t.Errorf("untrusted proxy: addr %q scheme %q", p.RemoteAddr, p.Scheme)
	}

	// A method or scheme is kept to Healthchecks' 10 characters, and only an address is
	// believed from X-Forwarded-For.
	for i, tt := range []struct{ method, xff, proto, wantMethod, wantAddr, wantScheme string }{
		{strings.Repeat("X", 100000), "not-an-ip<b>, 10.0.0.1", strings.Repeat("h", 300000), "XXXXXXXXXX", "10.1.2.3", "hhhhhhhhhh"},
		{"PROPFIND", "[2001:DB8::1]:443", "https", "PROPFIND", "2001:db8::1", "https"},
		{"GET", " 198.51.100.7 ,10.0.0.1", "", "GET", "198.51.100.7", "http"},
	} {
		req = httptest.NewRequest("GET", "/ping/"+checkID.String(), nil)
		req.Method = tt.method
		req.RemoteAddr = "10.1.2.3:5555"
		req.Header.Set("X-Forwarded-For", tt.xff)
		req.Header.Set("X-Forwarded-Proto", tt.proto)
		h.ServeHTTP(httptest.NewRecorder(), req)
		p := pub.events(t)[2+i].Body.(schemas.PingReceived)
		if p.Method != tt.wantMethod || p.RemoteAddr != tt.wantAddr || p.Scheme != tt.wantScheme {
			t.Errorf("case %d: method %.20q addr %q scheme %.20q, want %q %q %q", i, p.Method, p.RemoteAddr, p.Scheme, tt.wantMethod, tt.wantAddr, tt.wantScheme)
		}
	}
}

// ?create=1 makes the slug the check's name and slug, which hold 100 characters: a
// longer one is refused, and without create=1 it is simply not found.
func TestAutoProvisionRefusesLongSlugs(t *testing.T) {
	pub := &fakePublisher{}
	h := newTestIngest(pub, defaultLookup())
	for _, tt := range []struct {
		slug     string
		query    string
		wantCode int
		wantBody string
	}{
		{strings.Repeat("a", 101), "?create=1", 400, "invalid url format"},
		{strings.Repeat("a", 1040000), "?create=1", 400, "invalid url format"},
		{strings.Repeat("a", 101), "", 404, "not found"},
		{strings.Repeat("a", 100), "?create=1", 201, "Created"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/ping/pk/"+tt.slug+tt.query, nil))
		if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
			t.Errorf("slug of %d%s: %d %q, want %d %q", len(tt.slug), tt.query, rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
		}
	}
	if n := len(pub.msgs); n != 2 {
		t.Errorf("%d records published, want the one check of 100 characters and its ping", n)
	}
}

func TestAutoProvisionIsDeterministic(t *testing.T) {
	var ids []schemas.ID
	for range 2 {
		pub := &fakePublisher{}
		newTestIngest(pub, defaultLookup()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ping/pk/nightly?create=1", nil))
		evs := pub.events(t)
		created, ok := evs[0].Body.(schemas.CheckCreated)
		if !ok || created.Config.Name != "nightly" || created.Config.Slug != "nightly" || created.Config.Timeout != 24*time.Hour {
			t.Fatalf("first event %+v", evs[0])
		}
		if evs[1].CheckID != evs[0].CheckID {
			t.Fatal("the ping must target the created check")
		}
		ids = append(ids, evs[0].CheckID)
	}
	if ids[0] != ids[1] {
		t.Error("concurrent first pings of one slug must derive the same check ID")
	}
	// The ID is the check's ping URL: the project's ID and the slug, which read-only
	// keys see, must not be all it is derived from.
	if ids[0] == schemas.NameID(project[:], []byte("nightly")) {
		t.Error("the check ID is derived from the project and slug alone")
	}
}

// An auto-provisioned check deleted or given another slug since keeps its ID: a new
// create=1 ping of the slug creates a check with the next ID of the slug's sequence,
// the same in every process, and pings it.
func TestAutoProvisionNeverReusesAnID(t *testing.T) {
	created := func(lookup *fakeLookup) schemas.ID {
		t.Helper()
		pub := &fakePublisher{}
		rec := httptest.NewRecorder()
		newTestIngest(pub, lookup).ServeHTTP(rec, httptest.NewRequest("GET", "/ping/pk/nightly?create=1", nil))
		evs := pub.events(t)
		if rec.Code != http.StatusCreated || len(evs) != 2 || evs[1].CheckID != evs[0].CheckID {
			t.Fatalf("%d, events %+v; want 201, a create and a ping of the created check", rec.Code, evs)
		}
		return evs[0].CheckID
	}
	lookup := defaultLookup()
	first := created(lookup)
	lookup.deleted = map[schemas.ID]bool{first: true}
	second := created(lookup)
	if second == first {
		t.Fatal("a create=1 ping after the check was deleted derived the deleted check's ID")
	}
	if again := created(lookup); again != second {
		t.Errorf("the next ID is not derived the same way twice: %v, then %v", second, again)
	}
	// The second check given another slug: it exists, under an ID the slug derives.
	lookup.checks[second] = project
	third := created(lookup)
	if third == first || third == second {
		t.Errorf("a create=1 ping after the check was renamed derived a taken ID: %v (taken: %v, %v)", third, first, second)
	}
}

// Until the registry has read an auto-provisioned check, further pings of its slug
// through the same process are pings of that check (200), with or without create=1.
func TestProvisionedCheckIsPingableBeforeTheRegistryHasIt(t *testing.T) {
	lookup := defaultLookup()
	pub := &fakePublisher{}
	h := newTestIngest(pub, lookup)
	ping := func(target string) (int, []schemas.Event) {
		t.Helper()
		pub.msgs = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		return rec.Code, pub.events(t)
	}
	code, evs := ping("/ping/pk/nightly?create=1")
	if code != http.StatusCreated || len(evs) != 2 {
		t.Fatalf("first create=1 ping: %d with %d events, want 201 with a create and a ping", code, len(evs))
	}
	created := evs[0].CheckID
	for _, target := range []string{"/ping/pk/nightly?create=1", "/ping/pk/nightly/start"} {
		code, evs := ping(target)
		if code != http.StatusOK || len(evs) != 1 || evs[0].CheckID != created {
			t.Errorf("%s before the registry has the check: %d, events %+v; want 200 and one ping of %v", target, code, evs, created)
		}
	}
	// The registry read the create, then the check was deleted: the registry decides.
	lookup.deleted = map[schemas.ID]bool{created: true}
	if code, _ := ping("/ping/pk/nightly"); code != http.StatusNotFound {
		t.Errorf("after the check was deleted: %d, want 404", code)
	}
	if code, evs := ping("/ping/pk/nightly?create=1"); code != http.StatusCreated || len(evs) != 2 || evs[0].CheckID == created {
		t.Errorf("create=1 after the check was deleted: %d, events %+v; want 201 and a new check", code, evs)
	}
}

// A request for the registry topic's end serves only the callers that arrived before it
// was sent: one arriving while a request is out waits for the next, which it shares
// with everyone else arriving meanwhile.
func TestEndRequestsServeOnlyEarlierCallers(t *testing.T) {
	r := NewRegistry([]string{"unused:9092"}, "registry", slog.New(slog.DiscardHandler))
	var sent atomic.Int64
	release := make(chan struct{})
	r.askEnd = func(context.Context) (int64, error) {
		n := sent.Add(1)
		<-release
		return n, nil
	}
	ends := make(chan int64, 4)
	within := func(what string, op func(time.Duration) bool) {
		t.Helper()
		if !op(5 * time.Second) {
			t.Fatalf("%s: not within 5 s", what)
		}
	}
	releaseOne := func(what string) {
		within(what, func(d time.Duration) bool {
			select {
			case release <- struct{}{}:
				return true
			case <-time.After(d):
				return false
			}
		})
	}
	nextEnd := func() (end int64) {
		within("a caller's answer", func(d time.Duration) bool {
			select {
			case end = <-ends:
				return true
			case <-time.After(d):
				return false
			}
		})
		return end
	}
	ask := func() {
		end, err := r.topicEnd(context.Background())
		if err != nil {
			t.Error(err)
		}
		ends <- end
	}
	go ask()
	for sent.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	// Three callers arrive while the first request is out.
	for range 3 {
		go ask()
	}
	time.Sleep(20 * time.Millisecond)
	releaseOne("request 1 sent")
	if end := nextEnd(); end != 1 {
		t.Fatalf("the first caller got the end of request %d, want 1", end)
	}
	releaseOne("request 2 sent for the callers that arrived while request 1 was out")
	for range 3 {
		if end := nextEnd(); end != 2 {
			t.Fatalf("a caller arriving while request 1 was out got the end of request %d, want 2", end)
		}
	}
	if got := sent.Load(); got != 2 {
		t.Fatalf("%d requests sent for four callers, want 2", got)
	}
}

// The registry remembers deleted checks' IDs as taken.
func TestRegistryTakenIncludesDeletedChecks(t *testing.T) {
	r := NewRegistry([]string{"unused:9092"}, "registry", slog.New(slog.DiscardHandler))
	kept, deleted, never := schemas.NewID(), schemas.NewID(), schemas.NewID()
	for _, ev := range []schemas.Event{
		{ProjectID: project, CheckID: kept, Body: schemas.CheckCreated{Config: schemas.CheckConfig{Slug: "kept"}}},
		{ProjectID: project, CheckID: deleted, Body: schemas.CheckCreated{Config: schemas.CheckConfig{Slug: "gone"}}},
		{ProjectID: project, CheckID: deleted, Body: schemas.CheckDeleted{}},
	} {
		r.applyEvent(ev)
	}
	if _, ok := r.Check(deleted); ok {
		t.Error("a deleted check is still pingable")
	}
	if !r.Taken(kept) || !r.Taken(deleted) || r.Taken(never) {
		t.Errorf("taken: existing %v, deleted %v, never seen %v; want true, true, false", r.Taken(kept), r.Taken(deleted), r.Taken(never))
	}
}

// While Kafka is down every ping fails: the log says so once per interval, with how
// many failures it left out, instead of once per ping.
func TestPublishFailuresLogSparingly(t *testing.T) {
	var logged bytes.Buffer
	clock := now
	h := New(Config{}, slog.New(slog.NewJSONHandler(&logged, nil)), nil, defaultLookup(), &fakePublisher{err: errors.New("broker down")},
		func() time.Time { return clock }).Handler("/ping/")
	ping := func(n int) {
		for range n {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/ping/"+checkID.String(), nil))
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("publisher down: %d", rec.Code)
			}
		}
	}
	lines := func() []map[string]any {
		var out []map[string]any
		for line := range strings.Lines(logged.String()) {
			var entry map[string]any
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Fatal(err)
			}
			out = append(out, entry)
		}
		return out
	}
	ping(100)
	if got := lines(); len(got) != 1 || got[0]["not_logged"] != 0.0 {
		t.Fatalf("100 failures in a moment logged %v, want one line", got)
	}
	clock = clock.Add(logthrottle.Interval - time.Millisecond)
	ping(1)
	clock = clock.Add(time.Millisecond)
	ping(1)
	if got := lines(); len(got) != 2 || got[1]["not_logged"] != 100.0 || got[1]["msg"] != "publishing ping" {
		t.Errorf("after the interval: %v, want a second line counting the 100 left out", got)
	}
}

func TestUnavailable(t *testing.T) {
	// Kafka refuses: never 200, always a prompt 503.
	rec := httptest.NewRecorder()
	newTestIngest(&fakePublisher{err: errors.New("broker down")}, defaultLookup()).ServeHTTP(rec, httptest.NewRequest("GET", "/ping/"+checkID.String(), nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("publisher down: %d %v", rec.Code, rec.Header())
	}
	// The registry cannot confirm a miss: 503, not a false 404.
	lookup := defaultLookup()
	lookup.syncErr = ErrRegistryUnavailable
	rec = httptest.NewRecorder()
	newTestIngest(&fakePublisher{}, lookup).ServeHTTP(rec, httptest.NewRequest("GET", "/ping/"+schemas.ID{7}.String(), nil))
	if rec.Code != 503 || lookup.syncs.Load() != 1 {
		t.Errorf("registry unavailable: %d after %d syncs", rec.Code, lookup.syncs.Load())
	}
}

// FuzzPingHandler sends arbitrary URLs, queries and bodies: with Kafka and the registry
// healthy, the answer is always a Healthchecks status (2xx or a clear 4xx), never a 5xx
// or a panic.
func FuzzPingHandler(f *testing.F) {
	id := checkID.String()
	for _, seed := range []struct{ method, path, query, body string }{
		{"GET", id, "", ""}, {"POST", id + "/fail", "rid=" + id, "ERROR"}, {"HEAD", id + "/256", "", ""},
		{"PUT", "pk/backup/3", "create=1", "x"}, {"GET", "pk/new/start", "create=1&rid=", ""}, {"DELETE", id + "/%2e%2e", "rid=%zz", ""},
	} {
		f.Add(seed.method, seed.path, seed.query, []byte(seed.body))
	}
	h := newTestIngest(&fakePublisher{}, defaultLookup())
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		req, err := http.NewRequest(method, "http://hc.test/ping/"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 201, 400, 404, 409:
		default:
			t.Fatalf("%s /ping/%s?%s: %d %q", method, path, query, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && rec.Body.Len() == 0 {
			t.Fatalf("%d without a message", rec.Code)
		}
	})
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// A body that cannot be read is a 400 that says so, not a claim that it was too large,
// and nothing is published.
func TestUnreadableBody(t *testing.T) {
	pub := &fakePublisher{}
	rec := httptest.NewRecorder()
	newTestIngest(pub, defaultLookup()).ServeHTTP(rec, httptest.NewRequest("POST", "/ping/"+checkID.String(), failingBody{}))
	if rec.Code != 400 || rec.Body.String() != "could not read request body" || len(pub.msgs) != 0 {
		t.Errorf("got %d %q with %d records", rec.Code, rec.Body.String(), len(pub.msgs))
	}
}

// As in Healthchecks, ?create=1 stops creating once the project holds twice its limit;
// pings of existing checks go on.
func TestAutoProvisionCheckLimit(t *testing.T) {
	lookup := defaultLookup()
	lookup.checks[dupA], lookup.checks[dupB] = project, project
	for _, tt := range []struct {
		limit    int
		target   string
		wantCode int
	}{
		{0, "/ping/pk/new-job?create=1", 201},
		{2, "/ping/pk/new-job?create=1", 201},
		{1, "/ping/pk/new-job?create=1", 404},
		{1, "/ping/pk/backup?create=1", 200},
		{1, "/ping/" + checkID.String(), 200},
	} {
		in := New(Config{CheckLimit: tt.limit}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, lookup, &fakePublisher{}, func() time.Time { return now })
		rec := httptest.NewRecorder()
		in.Handler("/ping/").ServeHTTP(rec, httptest.NewRequest("GET", tt.target, nil))
		if rec.Code != tt.wantCode {
			t.Errorf("limit %d, %s: %d %q, want %d", tt.limit, tt.target, rec.Code, rec.Body.String(), tt.wantCode)
		}
	}
	// Checks this process provisioned count before the registry has read them: with
	// three checks and a limit of 2, one more may be created, not two.
	h := New(Config{CheckLimit: 2}, slog.New(slog.DiscardHandler), nil, lookup, &fakePublisher{}, func() time.Time { return now }).Handler("/ping/")
	for _, tt := range []struct {
		target   string
		wantCode int
	}{{"/ping/pk/zero/256?create=1", 400}, {"/ping/pk/one?create=1", 201}, {"/ping/pk/two?create=1", 404}, {"/ping/pk/three/256?create=1", 404}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.target, nil))
		if rec.Code != tt.wantCode {
			t.Errorf("limit 2 with three checks, %s: %d %q, want %d", tt.target, rec.Code, rec.Body.String(), tt.wantCode)
		}
	}
}

// gatedPublisher holds every publish until the gate opens, then fails them with err.
type gatedPublisher struct {
	gate    chan struct{}
	waiting atomic.Int32
	err     error
}

func (g *gatedPublisher) Publish(ctx context.Context, _ ...kafka.Message) error {
	g.waiting.Add(1)
	select {
	case <-g.gate:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pings of new slugs racing at the check limit cannot all pass it: a create counts from
// the moment it is let through, and gives its place back if Kafka does not take it.
func TestAutoProvisionRacesStayWithinTheLimit(t *testing.T) {
	pub := &gatedPublisher{}
	h := New(Config{CheckLimit: 5}, slog.New(slog.DiscardHandler), nil, &fakeLookup{pingKeys: map[string]schemas.ID{"pk": project}, checks: map[schemas.ID]schemas.ID{}},
		pub, func() time.Time { return now }).Handler("/ping/")
	race := func(err error, prefix string) map[int]int {
		pub.gate, pub.err = make(chan struct{}), err
		pub.waiting.Store(0)
		codes := make(chan int, 30)
		for i := range 30 {
			go func() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/ping/pk/"+prefix+strconv.Itoa(i)+"?create=1", nil))
				codes <- rec.Code
			}()
		}
		counts := map[int]int{}
		// The refused answer at once; the others wait at the gate, all of them there
		// before it opens.
		for deadline := time.Now().Add(5 * time.Second); int(pub.waiting.Load())+counts[404] < 30 && time.Now().Before(deadline); {
			select {
			case code := <-codes:
				counts[code]++
			case <-time.After(10 * time.Millisecond):
			}
		}
		close(pub.gate)
		for range 30 - counts[404] {
			counts[<-codes]++
		}
		return counts
	}
	// Nothing stored: every place is given back.
	if counts := race(errors.New("broker down"), "a"); counts[503] != 10 || counts[404] != 20 {
		t.Errorf("with Kafka refusing: %v, want 10 × 503 and 20 × 404", counts)
	}
	if counts := race(nil, "b"); counts[201] != 10 || counts[404] != 20 {
		t.Errorf("racing at a limit of 5 (10 by create=1): %v, want 10 × 201 and 20 × 404", counts)
	}
}

// acceptingPublisher acknowledges every record at once and keeps none, so a benchmark
// measures the handler alone.
type acceptingPublisher struct{}

func (acceptingPublisher) Publish(context.Context, ...kafka.Message) error { return nil }

// BenchmarkPing is the handler's share of a success ping by UUID, the commonest request,
// without the HTTP server and Kafka around it.
func BenchmarkPing(b *testing.B) {
	in := New(Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), defaultLookup(), acceptingPublisher{}, time.Now)
	h := in.Handler("/ping/")
	// The server's requests carry a cancellable context, which costs what hangs under it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/ping/"+checkID.String(), nil)
	req.Header.Set("User-Agent", "curl/8.5.0")
	rec := &discardingWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(rec.header)
		h.ServeHTTP(rec, req)
		if rec.code != http.StatusOK {
			b.Fatalf("status %d", rec.code)
		}
	}
}

// discardingWriter is a ResponseWriter that keeps only the status and headers.
type discardingWriter struct {
	header http.Header
	code   int
}

func (w *discardingWriter) Header() http.Header         { return w.header }
func (w *discardingWriter) WriteHeader(code int)        { w.code = code }
func (w *discardingWriter) Write(p []byte) (int, error) { return len(p), nil }
