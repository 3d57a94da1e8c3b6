// Package query serves the Healthchecks Management API (v1, v2, v3) from the projector's
// read model, and appends API writes to the event log.
//
// It owns HTTP routing, API-key auth and the Healthchecks JSON shapes; check semantics
// come from projector/check and storage from query/store.
package query

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hcstream/hcstream/ingest/errorpage"
	"github.com/hcstream/hcstream/ingest/logthrottle"
	"github.com/hcstream/hcstream/projector/check"
	"github.com/hcstream/hcstream/projector/history"
	"github.com/hcstream/hcstream/query/auth"
	"github.com/hcstream/hcstream/query/store"
	"github.com/hcstream/hcstream/schemas"
)

// Config configures the API. Zero values mean the defaults.
type Config struct {
	// SiteRoot prefixes every URL in responses. Default "http://localhost:8000".
	SiteRoot string
	// PingEndpoint prefixes ping_url. Default SiteRoot + "/ping/".
	PingEndpoint string
	// WriteWait is how long a write waits for the projector to fold it, so the caller's
	// next read sees it. Default 5s.
	WriteWait time.Duration
	// PingLogLimit is how many pings the pings list returns. Default 100.
	PingLogLimit int
	// CheckLimit is how many checks a project may have; 0 means no limit. A create
	// beyond it is a 403 with an empty body, as Healthchecks' check_limit.
	CheckLimit int
	// PingBodyLimit is the ping body bytes ingest keeps (HC_PING_BODY_LIMIT). As in
	// Healthchecks, a larger one raises the cap on API request bodies too.
	PingBodyLimit int
	// BadgeLabel labels the badge of all of a project's checks (tag "*"), as
	// Healthchecks' MASTER_BADGE_LABEL. Default "hcstream".
	BadgeLabel string
	// ListCacheBytes bounds the renderings kept for check lists. Default 64 MiB.
	ListCacheBytes int
	// IngestRegistry is the check registry of an ingest in the same process, if any.
	// A change to a check returns only once that registry has read it, so a check
	// deleted or given a new slug no longer answers pings as it did when the call
	// returns. (Ingest reads the registry again on a miss, so a created check needs no
	// such wait.)
	IngestRegistry RegistrySyncer
}

// RegistrySyncer is ingest's check registry: Sync returns once it has read every
// record written to the registry topic before the call.
type RegistrySyncer interface {
	Sync(ctx context.Context) error
}

func (c *Config) setDefaults() {
	if c.SiteRoot == "" {
		c.SiteRoot = "http://localhost:8000"
	}
	c.SiteRoot = strings.TrimSuffix(c.SiteRoot, "/")
	if c.PingEndpoint == "" {
		c.PingEndpoint = c.SiteRoot + "/ping/"
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 5 * time.Second
	}
	if c.PingLogLimit <= 0 {
		c.PingLogLimit = 100
	}
	if c.BadgeLabel == "" {
		c.BadgeLabel = "hcstream"
	}
}

// Store is the read model the API needs.
type Store interface {
	// ProjectKeys returns the API key hashes of the projects created at or after
	// createdSince (all when it is zero), each with the project it opens.
	ProjectKeys(ctx context.Context, createdSince time.Time) ([]store.ProjectKey, error)
	Checks(ctx context.Context, project schemas.ID) ([]history.CheckRow, error)
	Check(ctx context.Context, project, check schemas.ID) (history.CheckRow, error)
	CheckProject(ctx context.Context, check schemas.ID) (schemas.ID, error)
	// AwaitCheckVersion returns once the store holds the check's rows up to version,
	// with an error when ctx ends first.
	AwaitCheckVersion(ctx context.Context, project, check schemas.ID, version uint64) error
	// AwaitRowsWritten returns once ClickHouse holds the rows Checks gave at their
	// versions (rows read from a projector's memory can be ahead of it), with an error
	// when ctx ends first.
	AwaitRowsWritten(ctx context.Context, rows []history.CheckRow) error
	Pings(ctx context.Context, check schemas.ID, limit int) ([]store.Ping, error)
	PingBody(ctx context.Context, check schemas.ID, n uint64) ([]byte, bool, error)
	Flips(ctx context.Context, check schemas.ID, from, to time.Time) ([]store.Flip, error)
	StateAt(ctx context.Context, check schemas.ID, at time.Time) (store.PastState, error)
	CheckCount(ctx context.Context, project schemas.ID) (int, error)
	Buckets(ctx context.Context, scope store.Scope, from, to time.Time, bucket time.Duration) ([]store.Bucket, error)
	RunDurations(ctx context.Context, scope store.Scope, from, to time.Time) (store.RunStats, error)
	StatusHistories(ctx context.Context, scope store.Scope, from, to time.Time) ([]store.StatusHistory, error)
	// Secret returns a site secret once it has settled: it never changes after that.
	Secret(ctx context.Context, name string) (string, error)
}

// Appender appends one event and returns the version its rows will carry.
type Appender interface {
	Append(ctx context.Context, ev schemas.Event) (uint64, error)
}

// API is the Management API handler.
type API struct {
	cfg      Config
	log      *slog.Logger
	store    Store
	appender Appender
	now      func() time.Time

	keys *keyring

	badgeMu   sync.Mutex
	badgeKeys badgeKeys

	rendered renderedChecks
	lists    checkLists
	metrics  *metrics
	// storeFailures and historyWaits keep the log to a line per interval while
	// ClickHouse is down or behind.
	storeFailures, historyWaits logthrottle.Throttle
}

// New returns the API.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, st Store, appender Appender, now func() time.Time) *API {
	cfg.setDefaults()
	m := newMetrics(reg)
	log := logger.With("component", "query")
	return &API{cfg: cfg, log: log, metrics: m, store: st, appender: appender, now: now,
		keys: newKeyring(st, now, m, log), lists: checkLists{limit: cfg.ListCacheBytes, metrics: m}}
}

const (
	uuidPattern    = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
	uuidRoute      = "{id:" + uuidPattern + "}"
	uniqueKeyRoute = "{key:[A-z0-9]{40}}"
)

// Register mounts /api/v1/, /api/v2/ and /api/v3/ on r, and the public badge URLs.
func (a *API) Register(r *mux.Router) {
	for version := 1; version <= 3; version++ {
		v := r.PathPrefix("/api/v" + strconv.Itoa(version)).Subrouter()
		route := func(pattern string, h http.Handler) {
			v.Handle(pattern, a.metrics.instrument(version, pattern, h))
			// Django's APPEND_SLASH: a route with a trailing slash is also reached
			// without it, by a redirect.
			if slashless, ok := strings.CutSuffix(pattern, "/"); ok {
				v.Handle(slashless, a.metrics.instrument(version, slashless, redirectSlash()))
			}
		}
		route("/checks/", a.endpoint(version, map[string]handlerFunc{"GET": a.listChecks, "POST": a.createCheck}))
		route("/checks/"+uuidRoute, a.endpoint(version, map[string]handlerFunc{"GET": a.getCheck, "POST": a.updateCheck, "DELETE": a.deleteCheck}))
		route("/channels/", a.readWriteEndpoint(version, map[string]handlerFunc{"GET": a.listChannels}))
		route("/checks/"+uniqueKeyRoute, a.endpoint(version, map[string]handlerFunc{"GET": a.getByUniqueKey}))
		route("/checks/"+uniqueKeyRoute+"/flips/", a.endpoint(version, map[string]handlerFunc{"GET": a.listFlips}))
		route("/checks/"+uuidRoute+"/pause", a.endpoint(version, map[string]handlerFunc{"POST": a.pauseCheck}))
		route("/checks/"+uuidRoute+"/resume", a.endpoint(version, map[string]handlerFunc{"POST": a.resumeCheck}))
		route("/checks/"+uuidRoute+"/pings/", a.readWriteEndpoint(version, map[string]handlerFunc{"GET": a.listPings}))
		route("/checks/"+uuidRoute+"/pings/{n:[0-9]+}/body", a.readWriteEndpoint(version, map[string]handlerFunc{"GET": a.pingBody}))
		route("/checks/"+uuidRoute+"/flips/", a.endpoint(version, map[string]handlerFunc{"GET": a.listFlips}))
		route("/checks/"+uuidRoute+"/state", a.endpoint(version, map[string]handlerFunc{"GET": a.stateAt}))
		route("/checks/"+uuidRoute+"/analytics/", a.endpoint(version, map[string]handlerFunc{"GET": a.checkAnalytics}))
		route("/analytics/", a.endpoint(version, map[string]handlerFunc{"GET": a.projectAnalytics}))
		route("/badges/", a.endpoint(version, map[string]handlerFunc{"GET": a.listBadges}))
	}
	for _, badge := range []struct {
		pattern string
		serve   func(http.ResponseWriter, badgeRequest)
	}{
		{"/badge/{key}/{sig}/{tag}.{format}", a.tagBadge},
		{"/badge/{key}/{sig}.{format}", a.tagBadge},
		{"/b/{states:[0-9]+}/{key}.{format}", a.checkBadge},
	} {
		r.Handle(badge.pattern, a.metrics.instrument(0, badge.pattern, a.publicBadge(badge.serve)))
	}
	a.registerProjectMetrics(r)
}

func redirectSlash() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The path as the client sent it: under HC_SITE_ROOT's path, the routes see it
		// without that path, and the redirect must keep it.
		path := r.URL.EscapedPath()
		if sent, err := url.ParseRequestURI(r.RequestURI); err == nil {
			path = sent.EscapedPath()
		}
		target := path + "/"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		// Django's permanent redirect: the Location and an empty HTML body.
		w.Header().Set("Location", target)
		errorpage.HTML(w, http.StatusMovedPermanently, "")
	})
}

// request is one authenticated API call.
type request struct {
	*http.Request
	version int
	project store.Project
	badges  badgeKeys
	body    map[string]json.RawMessage
}

type handlerFunc func(w http.ResponseWriter, r *request)

// endpoint applies Healthchecks' CORS decorator, body parsing and authentication, in
// its order: 204 for OPTIONS, 405, body 400s, then 401. Writes need a read-write key.
func (a *API) endpoint(version int, methods map[string]handlerFunc) http.Handler {
	return a.authorized(version, methods, false)
}

// readWriteEndpoint is endpoint for reads that Healthchecks also keeps from read-only
// keys (pings and their bodies).
func (a *API) readWriteEndpoint(version int, methods map[string]handlerFunc) http.Handler {
	return a.authorized(version, methods, true)
}

func (a *API) authorized(version int, methods map[string]handlerFunc, readWriteOnly bool) http.Handler {
	allowed := make([]string, 0, len(methods)+1)
	for _, m := range []string{"GET", "POST", "DELETE"} {
		if methods[m] != nil {
			allowed = append(allowed, m)
		}
	}
	allowed = append(allowed, "OPTIONS")
	cors := corsHeaders(allowed)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w.Header(), cors)
		if r.Method == http.MethodOptions {
			writeEmpty(w, http.StatusNoContent)
			return
		}
		handle := methods[r.Method]
		if handle == nil {
			writeEmpty(w, http.StatusMethodNotAllowed)
			return
		}
		req := &request{Request: r, version: version}
		writes := r.Method == http.MethodPost || r.Method == http.MethodDelete
		key, hasHeader := r.Header.Get("X-Api-Key"), r.Header["X-Api-Key"] != nil
		// Healthchecks reads only a POST's body: a DELETE's is never looked at.
		if r.Method == http.MethodPost {
			body, msg, tooLarge := readObject(w, r, schemas.RequestBodyCap(a.cfg.PingBodyLimit))
			switch {
			case tooLarge:
				// Django refuses the body before the view, past its CORS decorator.
				withoutDecoratorHeaders(w)
				errorpage.BadRequest(w)
				return
			case msg != "":
				writeError(w, http.StatusBadRequest, msg)
				return
			}
			req.body = body
			if v, ok := body["api_key"]; ok && !hasHeader {
				key = jsonString(v)
			}
		}
		project, code, msg := a.authenticate(r.Context(), key)
		if code == http.StatusOK && (writes || readWriteOnly) && project.ReadOnly {
			code, msg = http.StatusUnauthorized, "wrong api key"
		}
		if code != http.StatusOK {
			writeError(w, code, msg)
			return
		}
		req.project = project
		badges, err := a.badgeKeysNow(r.Context())
		if err != nil {
			a.storeFailed(w, "reading the badge secret", err)
			return
		}
		req.badges = badges
		handle(w, req)
	})
}

// corsHeaders are the headers Healthchecks' CORS decorator adds to every response its
// view returns, for a route that allows methods.
func corsHeaders(methods []string) http.Header {
	return http.Header{
		"Access-Control-Allow-Origin":  {"*"},
		"Access-Control-Allow-Headers": {"X-Api-Key"},
		"Access-Control-Allow-Methods": {strings.Join(methods, ", ")},
		"Access-Control-Max-Age":       {"600"},
	}
}

// setHeaders sets every header of from on h, sharing none of from's value slices.
func setHeaders(h, from http.Header) {
	for name, values := range from {
		h[name] = slices.Clone(values)
	}
}

// readObject reads a POST body as Healthchecks' authorize does: empty is {}, and
// anything but a JSON object is refused with the message it gives. tooLarge reports a
// body over maxBytes, which Django refuses before the view with a page of its own.
func readObject(w http.ResponseWriter, r *http.Request, maxBytes int) (body map[string]json.RawMessage, msg string, tooLarge bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxBytes)))
	var over *http.MaxBytesError
	switch {
	case errors.As(err, &over):
		return nil, "", true
	case err != nil:
		return nil, "could not parse request body", false
	}
	if len(raw) == 0 {
		return map[string]json.RawMessage{}, "", false
	}
	// Healthchecks decodes the body as UTF-8 first; Go's decoder would take invalid
	// bytes and store U+FFFD in their place.
	if !utf8.Valid(raw) {
		return nil, "could not parse request body", false
	}
	raw = withoutPythonConstants(raw)
	// Unmarshal checks the whole text is JSON before decoding any of it, so a type
	// error means valid JSON of another kind; null decodes without one, to a nil map.
	var notAnObject *json.UnmarshalTypeError
	if err := json.Unmarshal(raw, &body); err != nil && !errors.As(err, &notAnObject) {
		return nil, "could not parse request body", false
	}
	if body == nil {
		return nil, "json validation error: value is not an object", false
	}
	return body, "", false
}

// pythonConstants are the non-standard numbers Python's json module reads, each with
// a JSON number of the same length standing in for it. Healthchecks takes a body with
// them, and every field that could hold one refuses any fraction with the same message
// (name is not a string, timeout is not a number, …), so the stand-in is answered as
// Healthchecks answers the constant.
var pythonConstants = []struct{ constant, standIn string }{
	{"-Infinity", "-0.500000"},
	{"Infinity", "0.500000"},
	{"NaN", "0.5"},
}

// withoutPythonConstants returns raw with NaN, Infinity and -Infinity outside strings
// replaced by their stand-ins, copying raw only if it has one.
func withoutPythonConstants(raw []byte) []byte {
	if !bytes.ContainsAny(raw, "NI") {
		return raw
	}
	out, copied, inString := raw, false, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == 'N' || c == 'I' || c == '-') && (i == 0 || separatesTokens(raw[i-1])):
			for _, p := range pythonConstants {
				end := i + len(p.constant)
				if bytes.HasPrefix(raw[i:], []byte(p.constant)) && (end == len(raw) || separatesTokens(raw[end])) {
					if !copied {
						out, copied = bytes.Clone(raw), true
					}
					copy(out[i:], p.standIn)
					i += len(p.constant) - 1
					break
				}
			}
		}
	}
	return out
}

// separatesTokens is whether c may stand next to a JSON value: a stand-in must not join
// a neighbour into a number (1NaN, -NaN, NaN1), which Python refuses.
func separatesTokens(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '[', ']', '{', '}':
		return true
	}
	return false
}

// jsonString is Python's str() of a JSON value, as Healthchecks reads api_key.
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (a *API) authenticate(ctx context.Context, key string) (store.Project, int, string) {
	if len(key) != auth.KeyLength {
		return store.Project{}, http.StatusUnauthorized, "missing api key"
	}
	project, found, err := a.keys.project(ctx, key)
	switch {
	case err != nil:
		// The keyring logs its failed reads; a request that stopped waiting is no news.
		return store.Project{}, http.StatusServiceUnavailable, "store unavailable"
	case !found:
		return store.Project{}, http.StatusUnauthorized, "wrong api key"
	}
	return project, http.StatusOK, ""
}

// writeEmpty answers code with no body, as a bare Django HttpResponse.
func writeEmpty(w http.ResponseWriter, code int) { errorpage.HTML(w, code, "") }

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(pythonJSON(body))
}

// writeCheckList writes {"checks": [checks…]} one check at a time through a buffer, as
// they are rendered: a list of ten thousand checks never holds its ten megabytes of JSON,
// nor the rendered checks, all at once.
func writeCheckList(w http.ResponseWriter, checks iter.Seq[[]byte]) {
	writeStreamed(w, `{"checks": [`, "]}", checks)
}

// writeStreamed writes a 200 JSON body of opening, the items separated as Python
// separates them, and closing, one item at a time through a buffer.
func writeStreamed(w http.ResponseWriter, opening, closing string, items iter.Seq[[]byte]) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := bufio.NewWriterSize(w, 64<<10)
	_, _ = out.WriteString(opening)
	first := true
	for item := range items {
		if !first {
			_, _ = out.WriteString(", ")
		}
		first = false
		_, _ = out.Write(item)
	}
	_, _ = out.WriteString(closing)
	_ = out.Flush()
}

// pythonJSON rewrites json.Marshal's output as Python's json.dumps writes the same
// value, so response bodies are byte-for-byte what Healthchecks sends.
func pythonJSON(compact []byte) []byte {
	return appendPythonJSON(make([]byte, 0, len(compact)+len(compact)/8), compact)
}

// appendPythonJSON appends compact with a space after every comma and colon outside
// strings (Python's separators) and its strings escaped as Python's ensure_ascii does:
// every non-ASCII character as \uXXXX (a surrogate pair above U+FFFF), and <, > and &
// as themselves, where json.Marshal writes \u003c, \u003e and \u0026. The runs
// between changes are copied whole.
func appendPythonJSON(out, compact []byte) []byte {
	start, inString := 0, false
	for i := 0; i < len(compact); i++ {
		c := compact[i]
		switch {
		case inString && c == '\\' && compact[i+1] == 'u':
			if html, ok := htmlEscaped[string(compact[i+2:i+6])]; ok {
				out = append(append(out, compact[start:i]...), html)
				start = i + 6
			}
			i += 5
		case inString && c == '\\':
			i++
		case inString && c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(compact[i:])
			out = appendUnicodeEscape(append(out, compact[start:i]...), r)
			i += size - 1
			start = i + 1
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == ',' || c == ':':
			out = append(append(out, compact[start:i+1]...), ' ')
			start = i + 1
		}
	}
	return append(out, compact[start:]...)
}

// htmlEscaped are the characters json.Marshal escapes for HTML and Python does not.
var htmlEscaped = map[string]byte{"003c": '<', "003e": '>', "0026": '&'}

// appendUnicodeEscape appends r as Python's ensure_ascii writes it.
func appendUnicodeEscape(out []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	units := []rune{r}
	if r > 0xFFFF {
		hi, lo := utf16.EncodeRune(r)
		units = []rune{hi, lo}
	}
	for _, u := range units {
		out = append(out, '\\', 'u', hex[u>>12&0xF], hex[u>>8&0xF], hex[u>>4&0xF], hex[u&0xF])
	}
	return out
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (a *API) storeFailed(w http.ResponseWriter, what string, err error) {
	a.storeFailures.Log(context.Background(), a.log, a.now(), slog.LevelError, what, "err", err)
	writeError(w, http.StatusServiceUnavailable, "store unavailable")
}

func (a *API) apiURL(version int, path string) string {
	return a.cfg.SiteRoot + "/api/v" + strconv.Itoa(version) + "/" + path
}

// lastValue is Django's QueryDict.get: the last of a parameter's values.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[len(values)-1]
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func (a *API) listChecks(w http.ResponseWriter, r *request) {
	query := r.URL.Query()
	tags, slug := query["tag"], lastValue(query["slug"])
	shown := listFilter(slug, tags)
	variant := renderVariant{apiVersion: r.version, readOnly: r.project.ReadOnly, badgeSecret: r.badges.secret}
	if reader, ok := a.store.(changeReader); ok && a.listKept(w, r, reader, variant, shown) {
		return
	}
	now := a.now()
	rows, err := a.store.Checks(r.Context(), r.project.ID)
	if err != nil {
		a.storeFailed(w, "listing checks", err)
		return
	}
	key := renderKey{variant: variant}
	writeCheckList(w, func(yield func([]byte) bool) {
		var scratch []byte
		filtered := slug != "" || len(tags) > 0
		for lazy := range eachRow(rows) {
			if filtered {
				if cfg := &lazy.Row().State.Config; !shown(cfg.Slug, cfg.Tags) {
					continue
				}
			}
			head := lazy.Head()
			key.partition, key.version = head.Partition, head.Version
			rendered, ok := a.rendered.get(head.CheckID, key, now)
			if !ok {
				fresh := a.renderListed(r, lazy.Row(), now, &scratch)
				a.rendered.put(head.CheckID, key, fresh)
				rendered = fresh.json
			}
			if !yield(rendered) {
				return
			}
		}
	})
}

// listKept answers a list from the one kept for the caller's project and variant,
// brought up to date; false, having answered nothing, when the store cannot tell which
// checks changed.
func (a *API) listKept(w http.ResponseWriter, r *request, reader changeReader, variant renderVariant, shown func(slug, tags string) bool) bool {
	key := listKey{project: r.project.ID, variant: variant}
	list := a.lists.get(key)
	list.mu.Lock()
	// The read's instant is taken once the list is locked: a refresh just before it
	// rendered at a later instant than one taken before the lock, and those
	// renderings would have been taken for stale.
	ok, err := a.catchUp(r.Context(), list, r.project.ID, reader, r, "read")
	var renderings [][]byte
	if ok && err == nil {
		renderings = list.renderings(func(c *listedCheck) bool { return shown(c.slug, c.tags) })
		list.lastRead = time.Now()
		if !list.refreshing {
			list.refreshing = true
			go a.keepFresh(key, list, reader, request{version: r.version, project: r.project, badges: r.badges})
		}
	}
	size := list.bytes
	list.mu.Unlock()
	switch {
	case !ok:
		return false
	case err != nil:
		a.storeFailed(w, "listing checks", err)
		return true
	}
	a.lists.account(key, list, size)
	writeCheckList(w, slices.Values(renderings))
	return true
}

// keepFresh brings a kept list up to date every refreshInterval for as long as it is
// read, so that a read has only the last moments' changes left to render. Checks
// change about as often either way (at 5,000 pings a second a check of ten thousand
// is pinged every two seconds), so this renders about as much, but off the read's path.
func (a *API) keepFresh(key listKey, list *checkList, reader changeReader, shownTo request) {
	interval, idle := a.lists.timing()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for range ticker.C {
		list.mu.Lock()
		fresh := time.Since(list.lastRead) < idle && a.lists.holds(key, list)
		if fresh {
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			ok, err := a.catchUp(ctx, list, key.project, reader, &shownTo, "refresh")
			cancel()
			fresh = ok && err == nil
		}
		list.refreshing = fresh
		size := list.bytes
		list.mu.Unlock()
		if !fresh {
			return
		}
		a.lists.account(key, list, size)
	}
}

// catchUp brings list, which must be locked, up to date as r sees it at this instant;
// when says whether for a read or between reads. False when the store cannot tell
// which checks changed.
func (a *API) catchUp(ctx context.Context, list *checkList, project schemas.ID, reader changeReader, r *request, when string) (bool, error) {
	now := a.now()
	ok, complete, err := list.update(ctx, project, reader, a.store, now, a.listedRenderer(r, now, when))
	if complete {
		a.metrics.listFullReads.Inc()
	}
	return ok, err
}

// listedRenderer renders rows as a list shows them to r at now; when says whether
// for a read or between reads.
func (a *API) listedRenderer(r *request, now time.Time, when string) func(*history.CheckRow) listedCheck {
	var scratch []byte
	renders := a.metrics.listRenders.WithLabelValues(when)
	return func(row *history.CheckRow) listedCheck {
		renders.Inc()
		return listedCheck{rendering: a.renderListed(r, row, now, &scratch), slug: row.State.Config.Slug, tags: row.State.Config.Tags}
	}
}

// renderListed renders row as a list shows it at now, for as long as the status it
// shows holds. scratch is reused from one rendering to the next.
func (a *API) renderListed(r *request, row *history.CheckRow, now time.Time, scratch *[]byte) rendering {
	status, until := check.StatusUntil(row.State, now, r.version == 1)
	c := a.renderCheckShowing(r, row.State, status)
	*scratch = c.appendJSON((*scratch)[:0])
	out := rendering{from: now.UnixNano(), until: math.MaxInt64, json: bytes.Clone(*scratch)}
	if !until.IsZero() {
		out.until = until.UnixNano()
	}
	return out
}

// listFilter is whether a list asked for slug and tags (either may be empty) shows a
// check with the slug and tags given.
func listFilter(slug string, tags []string) func(checkSlug, checkTags string) bool {
	want := slices.Compact(slices.Sorted(slices.Values(tags)))
	return func(checkSlug, checkTags string) bool {
		return (slug == "" || checkSlug == slug) && hasAllTags(checkTags, want)
	}
}

// tagList is Healthchecks' tags_list: the tags string split on single spaces, each
// trimmed of whitespace, the empty ones dropped. A tab inside a tag stays part of it.
func tagList(tags string) []string {
	var list []string
	for tag := range strings.SplitSeq(tags, " ") {
		if tag = check.StripSpace(tag); tag != "" {
			list = append(list, tag)
		}
	}
	return list
}

// hasAllTags is whether the tags string has every tag of want, which is sorted and has
// no repeats. A request may ask for thousands of tags and a check have as many, so the
// work is kept to sorting the check's tags and one binary search for each asked.
func hasAllTags(tags string, want []string) bool {
	if len(want) == 0 {
		return true
	}
	have := tagList(tags)
	if len(want) > len(have) {
		return false
	}
	slices.Sort(have)
	for _, t := range want {
		at, found := slices.BinarySearch(have, t)
		if !found {
			return false
		}
		have = have[at:]
	}
	return true
}

// ownCheck loads the check named in the URL, answering 404 or 403 as Healthchecks does.
// A check named by unique_key is looked up in the caller's project only (a miss is a 404
// with an empty body).
func (a *API) ownCheck(w http.ResponseWriter, r *request) (history.CheckRow, bool) {
	if key, ok := mux.Vars(r.Request)["key"]; ok {
		rows, err := a.store.Checks(r.Context(), r.project.ID)
		if err != nil {
			a.storeFailed(w, "reading checks", err)
			return history.CheckRow{}, false
		}
		for _, row := range rows {
			if uniqueKey(row.State.CheckID) == key {
				return row, true
			}
		}
		writeEmpty(w, http.StatusNotFound)
		return history.CheckRow{}, false
	}
	id, _ := schemas.ParseID(mux.Vars(r.Request)["id"])
	row, err := a.store.Check(r.Context(), r.project.ID, id)
	if err == nil {
		return row, true
	}
	if !errors.Is(err, store.ErrNotFound) {
		a.storeFailed(w, "reading check", err)
		return row, false
	}
	if _, err := a.store.CheckProject(r.Context(), id); err == nil {
		writeEmpty(w, http.StatusForbidden)
		return row, false
	}
	raisedNotFound(w)
	return row, false
}

// raisedNotFound answers as Django does when a view raises Http404: the page is built
// past the view's decorators, so it carries none of the headers they set for the view.
func raisedNotFound(w http.ResponseWriter) {
	withoutDecoratorHeaders(w)
	errorpage.NotFound(w)
}

// withoutDecoratorHeaders takes away the headers Healthchecks' view decorators add (CORS,
// and never-cache on badges), for an answer Django makes past them.
func withoutDecoratorHeaders(w http.ResponseWriter) {
	for name := range corsHeaders(nil) {
		w.Header().Del(name)
	}
	w.Header().Del("Cache-Control")
}

func (a *API) getCheck(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, a.renderCheck(r, row.State, a.now()))
}

// listChannels lists the project's integrations. hcstream has none yet (notifications
// are read from the flips topic), so the list is honestly empty.
func (a *API) listChannels(w http.ResponseWriter, _ *request) {
	writeJSON(w, http.StatusOK, map[string]any{"channels": []any{}})
}

func (a *API) getByUniqueKey(w http.ResponseWriter, r *request) {
	if row, ok := a.ownCheck(w, r); ok {
		writeJSON(w, http.StatusOK, a.renderCheck(r, row.State, a.now()))
	}
}

func (a *API) listPings(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	a.waitForHistory(r.Context(), row.State.ProjectID, row.State.CheckID, row.Version)
	pings, err := a.store.Pings(r.Context(), row.State.CheckID, a.cfg.PingLogLimit)
	if err != nil {
		a.storeFailed(w, "listing pings", err)
		return
	}
	out := make([]pingJSON, 0, len(pings))
	for _, p := range pings {
		out = append(out, a.renderPing(row.State.CheckID, r.version, p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pings": out})
}

// write appends an event about an existing check, waits until it is folded, and
// answers with the check as the event leaves it.
func (a *API) write(w http.ResponseWriter, r *request, row history.CheckRow, body schemas.Body) {
	ev := schemas.Event{ID: schemas.NewID(), ProjectID: r.project.ID, CheckID: row.State.CheckID,
		At: a.now().UTC().Truncate(time.Microsecond), Body: body}
	version, err := a.appender.Append(r.Context(), ev)
	if err != nil {
		a.log.Error("appending "+body.Type().String(), "check_id", ev.CheckID.String(), "err", err)
		writeError(w, http.StatusServiceUnavailable, "event log unavailable")
		return
	}
	a.waitForHistory(r.Context(), ev.ProjectID, ev.CheckID, version)
	a.waitForIngest(r.Context())
	state, _ := check.Apply(row.State, ev)
	if body.Type() == schemas.TypeCheckDeleted {
		// Healthchecks answers with the check as it was, its channels already unassigned.
		state = row.State
		state.Config.Channels = nil
	}
	writeJSON(w, http.StatusOK, a.renderCheck(r, state, a.now()))
}

func (a *API) updateCheck(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	cfg := row.State.Config
	if msg := applySpec(&cfg, r.body, r.version); msg != "" {
		writeError(w, http.StatusBadRequest, "json validation error: "+msg)
		return
	}
	if msg := resolveChannels(&cfg, r.body); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	a.write(w, r, row, schemas.CheckUpdated{Config: cfg})
}

func (a *API) deleteCheck(w http.ResponseWriter, r *request) {
	if row, ok := a.ownCheck(w, r); ok {
		a.write(w, r, row, schemas.CheckDeleted{})
	}
}

func (a *API) pauseCheck(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	if row.State.Status == schemas.StatusPaused {
		writeJSON(w, http.StatusOK, a.renderCheck(r, row.State, a.now()))
		return
	}
	a.write(w, r, row, schemas.CheckPaused{})
}

func (a *API) resumeCheck(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	if row.State.Status != schemas.StatusPaused {
		errorpage.HTML(w, http.StatusConflict, "check is not paused")
		return
	}
	a.write(w, r, row, schemas.CheckResumed{})
}

func (a *API) pingBody(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(mux.Vars(r.Request)["n"], 10, 64)
	// Healthchecks keeps the last ping_log_limit pings; older numbers are gone.
	if err != nil || n == 0 || int64(n) <= int64(row.State.NPings)-int64(a.cfg.PingLogLimit) {
		raisedNotFound(w)
		return
	}
	a.waitForHistory(r.Context(), row.State.ProjectID, row.State.CheckID, row.Version)
	body, found, err := a.store.PingBody(r.Context(), row.State.CheckID, n)
	if err != nil {
		a.storeFailed(w, "reading ping body", err)
		return
	}
	if !found || len(body) == 0 {
		raisedNotFound(w)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(body)
}

// flipFilter reads Healthchecks' start, end and seconds parameters; false means 400.
func flipFilter(q url.Values, now time.Time) (from, to time.Time, ok bool) {
	parse := func(name string, limit int64, emptyOK bool) (int64, bool, bool) {
		values, present := q[name]
		if !present {
			return 0, false, true
		}
		v := strings.TrimSpace(values[len(values)-1])
		if v == "" {
			return 0, false, emptyOK
		}
		// Django's IntegerField drops a decimal point followed only by zeros.
		if point := strings.LastIndexByte(v, '.'); point >= 0 && strings.Trim(v[point+1:], "0") == "" {
			v = v[:point]
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > limit {
			return 0, false, false
		}
		return n, true, true
	}
	start, hasStart, ok1 := parse("start", 10000000000, false)
	end, hasEnd, ok2 := parse("end", 10000000000, false)
	seconds, hasSeconds, ok3 := parse("seconds", 31536000, true)
	if !ok1 || !ok2 || !ok3 {
		return from, to, false
	}
	if hasStart {
		from = time.Unix(start, 0)
	}
	if hasSeconds && seconds > 0 {
		if since := now.Add(-time.Duration(seconds) * time.Second); since.After(from) {
			from = since
		}
	}
	if hasEnd {
		to = time.Unix(end, 0)
	}
	return from, to, true
}

type flipJSON struct {
	Timestamp string `json:"timestamp"`
	Up        int    `json:"up"`
}

func (a *API) listFlips(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	from, to, valid := flipFilter(r.URL.Query(), a.now())
	if !valid {
		writeEmpty(w, http.StatusBadRequest)
		return
	}
	a.waitForHistory(r.Context(), row.State.ProjectID, row.State.CheckID, row.Version)
	flips, err := a.store.Flips(r.Context(), row.State.CheckID, from, to)
	if err != nil {
		a.storeFailed(w, "listing flips", err)
		return
	}
	out := make([]flipJSON, 0, len(flips))
	for _, f := range flips {
		up := 0
		if f.Up {
			up = 1
		}
		out = append(out, flipJSON{Timestamp: *isoSeconds(f.At), Up: up})
	}
	writeJSON(w, http.StatusOK, map[string]any{"flips": out})
}

func (a *API) createCheck(w http.ResponseWriter, r *request) {
	cfg := defaultCheckConfig()
	if msg := applySpec(&cfg, r.body, r.version); msg != "" {
		writeError(w, http.StatusBadRequest, "json validation error: "+msg)
		return
	}
	if msg := resolveChannels(&cfg, r.body); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	existing, found, err := a.findUnique(r)
	if err != nil {
		a.storeFailed(w, "finding a unique check", err)
		return
	}
	if found {
		cfg := existing.State.Config
		applySpec(&cfg, r.body, r.version)
		if msg := resolveChannels(&cfg, r.body); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		a.write(w, r, existing, schemas.CheckUpdated{Config: cfg})
		return
	}
	if a.cfg.CheckLimit > 0 {
		n, err := a.store.CheckCount(r.Context(), r.project.ID)
		if err != nil {
			a.storeFailed(w, "counting checks", err)
			return
		}
		if n >= a.cfg.CheckLimit {
			writeEmpty(w, http.StatusForbidden)
			return
		}
	}
	ev := schemas.Event{ID: schemas.NewID(), ProjectID: r.project.ID, CheckID: schemas.NewID(),
		At: a.now().UTC().Truncate(time.Microsecond), Body: schemas.CheckCreated{Config: cfg}}
	version, err := a.appender.Append(r.Context(), ev)
	if err != nil {
		a.log.Error("appending check creation", "err", err)
		writeError(w, http.StatusServiceUnavailable, "event log unavailable")
		return
	}
	a.waitForHistory(r.Context(), ev.ProjectID, ev.CheckID, version)
	state, _ := check.Apply(check.State{}, ev)
	writeJSON(w, http.StatusCreated, a.renderCheck(r, state, a.now()))
}

// findUnique is Healthchecks' upsert: when the body lists unique fields and gives them
// all, the oldest check of the project whose stored values equal them is updated
// instead of a new one created.
func (a *API) findUnique(r *request) (history.CheckRow, bool, error) {
	var fields []string
	if raw, ok := r.body["unique"]; !ok || json.Unmarshal(raw, &fields) != nil || len(fields) == 0 {
		return history.CheckRow{}, false, nil
	}
	// The values compared are those the body gives: a timeout sent beside a schedule
	// still counts here, though applying the schedule leaves the timeout alone.
	compared := maps.Clone(r.body)
	delete(compared, "schedule")
	want := defaultCheckConfig()
	applySpec(&want, compared, r.version)
	for _, f := range fields {
		if _, given := r.body[f]; !given {
			return history.CheckRow{}, false, nil
		}
	}
	rows, err := a.store.Checks(r.Context(), r.project.ID)
	if err != nil {
		return history.CheckRow{}, false, err
	}
	for _, row := range rows {
		c, same := row.State.Config, true
		for _, f := range fields {
			switch f {
			case "name":
				same = same && c.Name == want.Name
			case "slug":
				same = same && c.Slug == want.Slug
			case "tags":
				same = same && c.Tags == want.Tags
			case "timeout":
				same = same && c.Timeout == want.Timeout
			case "grace":
				same = same && c.Grace == want.Grace
			}
		}
		if same {
			return row, true, nil
		}
	}
	return history.CheckRow{}, false, nil
}

// waitForHistory waits until the store holds the check's rows up to version. Writes
// wait so the caller's next read sees them; history reads wait so they list every ping
// and flip the check state they were shown counts, even when that state came from the
// projector's memory ahead of ClickHouse. The wait is bounded by WriteWait and a
// timeout is logged, not failed.
func (a *API) waitForHistory(ctx context.Context, project, check schemas.ID, version uint64) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.WriteWait)
	defer cancel()
	if err := a.store.AwaitCheckVersion(ctx, project, check, version); err != nil {
		a.historyWaits.Log(ctx, a.log, a.now(), slog.LevelWarn, "history not yet written", "check_id", check.String(), "version", version, "err", err)
	}
}

// waitForRowsHistory is waitForHistory for every check of a project read: the
// project's analytics count what its check list already shows.
func (a *API) waitForRowsHistory(ctx context.Context, rows []history.CheckRow) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.WriteWait)
	defer cancel()
	if err := a.store.AwaitRowsWritten(ctx, rows); err != nil {
		a.historyWaits.Log(ctx, a.log, a.now(), slog.LevelWarn, "history not yet written", "count", len(rows), "err", err)
	}
}

// waitForIngest waits until an ingest in this process has read the registry records
// of every write stored so far: the projector publishes a batch's registry records
// before it stores the batch, so once waitForHistory has returned they are on the
// topic. Like waitForHistory it is bounded by WriteWait, and a timeout is logged.
func (a *API) waitForIngest(ctx context.Context) {
	if a.cfg.IngestRegistry == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.WriteWait)
	defer cancel()
	if err := a.cfg.IngestRegistry.Sync(ctx); err != nil {
		a.log.Warn("ingest has not read the check registry yet", "err", err)
	}
}

// pastStateJSON is a check's state at a past instant (an hcstream addition).
type pastStateJSON struct {
	At           string  `json:"at"`
	Status       string  `json:"status"`
	Started      bool    `json:"started"`
	NPings       uint64  `json:"n_pings"`
	LastPing     *string `json:"last_ping"`
	LastDuration *int64  `json:"last_duration,omitempty"`
	FlipSeq      uint64  `json:"flip_seq"`
}

// stateAt answers GET /checks/<uuid>/state?at=<RFC 3339 time> from the check's flips
// and pings: the status its last flip by then gave it, and its pings up to then.
func (a *API) stateAt(w http.ResponseWriter, r *request) {
	row, ok := a.ownCheck(w, r)
	if !ok {
		return
	}
	at, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("at"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "at is not an RFC 3339 time")
		return
	}
	if at.After(a.now()) {
		writeError(w, http.StatusBadRequest, "at is in the future")
		return
	}
	if at.Before(row.State.Created) {
		writeError(w, http.StatusNotFound, "the check did not exist at that time")
		return
	}
	a.waitForHistory(r.Context(), row.State.ProjectID, row.State.CheckID, row.Version)
	past, err := a.store.StateAt(r.Context(), row.State.CheckID, at)
	if err != nil {
		a.storeFailed(w, "reading past state", err)
		return
	}
	out := pastStateJSON{At: isoMicros(at.UTC()), Status: past.Status, Started: !past.LastStart.IsZero(), NPings: past.NPings,
		LastPing: isoSeconds(past.LastPing), FlipSeq: past.FlipSeq}
	if past.LastDuration != 0 {
		secs := int64(past.LastDuration.Seconds())
		out.LastDuration = &secs
	}
	writeJSON(w, http.StatusOK, out)
}
