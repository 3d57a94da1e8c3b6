// Package ingest serves Healthchecks-compatible ping URLs: it turns each request into a
// PingReceived event and answers 200 only after Kafka acknowledged it (acks=all).
//
// It owns the ping HTTP contract and the check registry; it must not import ClickHouse
// or the projector.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/hcstream/hcstream/ingest/errorpage"
	"github.com/hcstream/hcstream/ingest/logthrottle"
	"github.com/hcstream/hcstream/ingest/pingurl"
	"github.com/hcstream/hcstream/schemas"
	"github.com/hcstream/hcstream/schemas/kafkarec"
)

// Config configures ping ingestion. Zero values mean the documented defaults.
type Config struct {
	// BodyLimit is how many body bytes are kept, as Healthchecks' PING_BODY_LIMIT.
	// Default 10000.
	BodyLimit int
	// PublishTimeout bounds the wait for Kafka's acknowledgement; past it the ping is
	// answered 503. Default 2s.
	PublishTimeout time.Duration
	// LookupTimeout bounds the wait for the registry to catch up before an unknown check
	// is answered 404. Default 1s.
	LookupTimeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto are
	// believed. Default none.
	TrustedProxies []netip.Prefix
	// CheckLimit is how many checks a project may have; 0 means no limit. As in
	// Healthchecks, ?create=1 answers 404 once a project holds twice the limit.
	CheckLimit int
}

// maxUserAgent is how much of User-Agent is stored, as Healthchecks.
const maxUserAgent = 200

// maxMethodOrScheme is how much of a request's method or a forwarded scheme is stored:
// Healthchecks' columns hold 10 characters, and Go takes a method of any length.
const maxMethodOrScheme = 10

func (c *Config) setDefaults() {
	if c.BodyLimit <= 0 {
		c.BodyLimit = 10000
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 2 * time.Second
	}
	if c.LookupTimeout <= 0 {
		c.LookupTimeout = time.Second
	}
}

// Publisher appends records to the events topic and returns once they are acknowledged.
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Lookup resolves ping URLs to checks.
type Lookup interface {
	Check(id schemas.ID) (project schemas.ID, ok bool)
	// Taken reports whether a check has ever had the ID, deleted ones included.
	Taken(id schemas.ID) bool
	Slug(pingKey, slug string) (project schemas.ID, projectOK bool, checks []schemas.ID)
	Checks(project schemas.ID) int
	Sync(ctx context.Context) error
}

// Ingest is the ping HTTP handler.
type Ingest struct {
	cfg       Config
	log       *slog.Logger
	metrics   *metrics
	lookup    Lookup
	publisher Publisher
	now       func() time.Time
	// bodyLimitHeader is the Ping-Body-Limit header's value.
	bodyLimitHeader []string
	provisioned     provisionedChecks
	// publishFailures, oversizedPings and syncFailures keep their log lines few when
	// every ping fails.
	publishFailures, oversizedPings, syncFailures logthrottle.Throttle
	deadlines                                     *sharedDeadlines
}

// provisionedChecks remembers the checks this process is provisioning or provisioned,
// until its registry has read them. A check limit counts them from the moment a create
// is let through, so pings of new slugs racing at the limit cannot all pass it. Once
// Kafka has a create, a ping of the slug is a ping of that check: 200, where the
// registry alone would answer a second 201, or 404 without create=1, for the moment the
// projector takes to fold the create and publish it.
type provisionedChecks struct {
	mu     sync.Mutex
	checks map[provisionedSlug]*provisioned
}

type provisionedSlug struct {
	project schemas.ID
	slug    string
}

type provisioned struct {
	id schemas.ID
	// publishing counts the creates of this slug waiting for Kafka; stored is set once
	// one of them is acknowledged.
	publishing int
	stored     bool
}

// sweepProvisioned is how many remembered checks make reserve drop those the registry
// has read.
const sweepProvisioned = 1024

// reserve lets a create of the slug's check through, unless the project's checks (the
// registry's, plus those provisioned here that it has not read) are at twice limit, as
// Healthchecks' check_limit for ?create=1; limit 0 means none. A create already under
// way for the slug takes no second place. Every reserve that returns true must be
// followed by settle.
func (p *provisionedChecks) reserve(project schemas.ID, slug string, id schemas.ID, limit int, lookup Lookup) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.checks == nil {
		p.checks = map[provisionedSlug]*provisioned{}
	}
	if len(p.checks) >= sweepProvisioned {
		maps.DeleteFunc(p.checks, func(_ provisionedSlug, c *provisioned) bool { return c.publishing == 0 && lookup.Taken(c.id) })
	}
	key := provisionedSlug{project, slug}
	if c, ok := p.checks[key]; ok && c.id == id {
		c.publishing++
		return true
	}
	if limit > 0 && lookup.Checks(project)+p.countLocked(project, lookup) >= 2*limit {
		return false
	}
	p.checks[key] = &provisioned{id: id, publishing: 1}
	return true
}

// settle ends a reserved create: stored if Kafka acknowledged it, else the place is
// given back unless another create of the slug is still under way or was stored.
func (p *provisionedChecks) settle(project schemas.ID, slug string, id schemas.ID, stored bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := provisionedSlug{project, slug}
	c, ok := p.checks[key]
	if !ok || c.id != id {
		return
	}
	c.publishing--
	c.stored = c.stored || stored
	if c.publishing == 0 && !c.stored {
		delete(p.checks, key)
	}
}

// countLocked returns how many checks of project this process provisions or
// provisioned that the registry has not read yet, with p.mu held.
func (p *provisionedChecks) countLocked(project schemas.ID, lookup Lookup) int {
	n := 0
	for key, c := range p.checks {
		if key.project == project && !lookup.Taken(c.id) {
			n++
		}
	}
	return n
}

// pending returns the check this process stored a create of for the slug, while the
// registry has not read it. Once the registry has (the check exists, or was deleted or
// renamed since), the registry's answer stands.
func (p *provisionedChecks) pending(project schemas.ID, slug string, lookup Lookup) (schemas.ID, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := provisionedSlug{project, slug}
	c, ok := p.checks[key]
	switch {
	case !ok || !c.stored:
		return schemas.ID{}, false
	case lookup.Taken(c.id) && c.publishing == 0:
		delete(p.checks, key)
		return c.id, false
	case lookup.Taken(c.id):
		return c.id, false
	}
	return c.id, true
}

// New returns the ping handler. now is the event clock (time.Now in production).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, lookup Lookup, publisher Publisher, now func() time.Time) *Ingest {
	cfg.setDefaults()
	return &Ingest{cfg: cfg, log: logger.With("component", "ingest"), metrics: newMetrics(reg), lookup: lookup, publisher: publisher, now: now,
		bodyLimitHeader: []string{strconv.Itoa(cfg.BodyLimit)}, deadlines: newSharedDeadlines(cfg.PublishTimeout)}
}

// Handler serves ping URLs below prefix (for example "/ping/", or "/" at the root).
func (in *Ingest) Handler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, prefix)
		code := in.serve(w, r, path)
		in.metrics.countPing(code)
	})
}

func (in *Ingest) serve(w http.ResponseWriter, r *http.Request, path string) int {
	req, problem := pingurl.Parse(path, r.URL.RawQuery)
	switch problem {
	case pingurl.NoRoute:
		return errorpage.NotFound(w)
	case pingurl.UppercaseSlug:
		return plain(w, http.StatusBadRequest, "invalid url format", false)
	}
	ctx := in.deadlines.after(time.Now())

	var events []schemas.Event
	at := in.now().UTC().Truncate(time.Microsecond)
	// created is set for a ping that provisions its check, and stored once Kafka has it.
	created, stored := false, false
	if req.BySlug {
		project, checkID, status := in.resolveSlug(ctx, req)
		switch status {
		case http.StatusOK, http.StatusCreated:
			if status == http.StatusCreated {
				// At the check limit Healthchecks answers 404 before looking further.
				if !in.provisioned.reserve(project, req.Slug, checkID, in.cfg.CheckLimit, in.lookup) {
					return plain(w, http.StatusNotFound, "not found", false)
				}
				defer func() { in.provisioned.settle(project, req.Slug, checkID, stored) }()
			}
			if req.ExitStatusTooLarge || req.RunIDInvalid {
				// A check to create: Healthchecks creates it and then answers 400;
				// hcstream rejects the URL first and creates nothing.
				return in.badRequest(w, req)
			}
			if status == http.StatusCreated {
				created = true
				events = append(events, autoProvision(project, checkID, req.Slug, at))
			}
		case http.StatusNotFound:
			return plain(w, http.StatusNotFound, "not found", false)
		case http.StatusBadRequest:
			return plain(w, http.StatusBadRequest, "invalid url format", false)
		case http.StatusConflict:
			return plain(w, http.StatusConflict, "ambiguous slug", false)
		default:
			return unavailable(w)
		}
		req.CheckID = checkID
		events = append(events, in.pingEvent(project, req, r, at))
	} else {
		project, status := in.resolveCheck(ctx, req.CheckID)
		switch status {
		case http.StatusOK:
		case http.StatusNotFound:
			return plain(w, http.StatusNotFound, "not found", true)
		default:
			return unavailable(w)
		}
		if req.ExitStatusTooLarge || req.RunIDInvalid {
			return in.badRequest(w, req)
		}
		events = append(events, in.pingEvent(project, req, r, at))
	}

	body, err := readBody(r, in.cfg.BodyLimit)
	switch {
	case errors.Is(err, errBodyTooLarge):
		return plain(w, http.StatusBadRequest, "request body too large", false)
	case err != nil:
		return plain(w, http.StatusBadRequest, "could not read request body", false)
	}
	ping := events[len(events)-1]
	p := ping.Body.(schemas.PingReceived)
	p.Body = body
	ping.Body = p
	events[len(events)-1] = ping

	msgs := make([]kafka.Message, len(events))
	for i, ev := range events {
		if msgs[i], err = kafkarec.Message(ev); err != nil {
			in.log.Error("encoding ping", "check_id", ev.CheckID, "err", err)
			return plain(w, http.StatusInternalServerError, "internal error", false)
		}
	}
	in.metrics.inflight.Inc()
	start := time.Now()
	err = in.publisher.Publish(ctx, msgs...)
	in.metrics.inflight.Dec()
	if err != nil {
		if errors.Is(err, kafka.MessageSizeTooLarge) {
			// Retrying cannot help until an operator raises the topic's limit.
			in.oversizedPings.Log(ctx, in.log, in.now(), slog.LevelError, "the events topic refuses a ping this large: raise its max.message.bytes (README, Ingest)",
				"check_id", req.CheckID, "bytes", len(body), "err", err)
		} else {
			in.publishFailures.Log(ctx, in.log, in.now(), slog.LevelWarn, "publishing ping", "check_id", req.CheckID, "err", err)
		}
		return unavailable(w)
	}
	in.metrics.publishSeconds.Observe(time.Since(start).Seconds())
	in.setPingHeaders(w)
	stored = true
	if created {
		return plain(w, http.StatusCreated, "Created", true)
	}
	return plain(w, http.StatusOK, "OK", true)
}

func (in *Ingest) badRequest(w http.ResponseWriter, req pingurl.Request) int {
	if req.ExitStatusTooLarge {
		return plain(w, http.StatusBadRequest, "invalid url format", true)
	}
	return plain(w, http.StatusBadRequest, "invalid uuid format", true)
}

// resolveCheck answers 200 with the check's project, 404, or 503 when the registry
// cannot tell.
func (in *Ingest) resolveCheck(ctx context.Context, id schemas.ID) (schemas.ID, int) {
	if project, ok := in.lookup.Check(id); ok {
		return project, http.StatusOK
	}
	if err := in.sync(ctx); err != nil {
		return schemas.ID{}, http.StatusServiceUnavailable
	}
	if project, ok := in.lookup.Check(id); ok {
		return project, http.StatusOK
	}
	return schemas.ID{}, http.StatusNotFound
}

// resolveSlug answers 200 (found), 201 (to be created), 400 (a slug too long to
// create), 404, 409 or 503.
func (in *Ingest) resolveSlug(ctx context.Context, req pingurl.Request) (project, check schemas.ID, status int) {
	project, ok, checks := in.lookup.Slug(req.PingKey, req.Slug)
	if !ok || len(checks) == 0 {
		if err := in.sync(ctx); err != nil {
			return project, check, http.StatusServiceUnavailable
		}
		project, ok, checks = in.lookup.Slug(req.PingKey, req.Slug)
	}
	if ok && len(checks) == 0 {
		if id, pending := in.provisioned.pending(project, req.Slug, in.lookup); pending {
			return project, id, http.StatusOK
		}
	}
	switch {
	case !ok:
		return project, check, http.StatusNotFound
	case len(checks) == 1:
		return project, checks[0], http.StatusOK
	case len(checks) > 1:
		return project, check, http.StatusConflict
	case req.Create && len(req.Slug) > schemas.MaxNameLength:
		// No check can have this slug: refused rather than created with a name no API
		// call could give it.
		return project, check, http.StatusBadRequest
	case req.Create:
		return project, in.slugCheckID(project, req.PingKey, req.Slug), http.StatusCreated
	}
	return project, check, http.StatusNotFound
}

func (in *Ingest) sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, in.cfg.LookupTimeout)
	defer cancel()
	err := in.lookup.Sync(ctx)
	if err != nil {
		in.syncFailures.Log(ctx, in.log, in.now(), slog.LevelWarn, "syncing check registry", "err", err)
	}
	return err
}

// slugCheckID derives the ID of an auto-provisioned check from its project, the ping
// key and the slug (a name-based UUID), so concurrent first pings of one slug create
// the same check. The ping key is in it because the ID is the check's ping URL, a
// secret: a project's ID and slugs are known to holders of its read-only key (they are
// in its Prometheus scrape URL and checks), and must not be enough to ping its checks.
// The projector keeps the first check of an ID, so an ID already taken (its check
// deleted, or given another slug since) would make the create change nothing and send
// the ping to the old check: the next ID of the slug's sequence is derived instead, the
// same in every ingest process that has read the same registry. '/' cannot occur in a
// ping key or a slug, so no slug's sequence meets another's.
func (in *Ingest) slugCheckID(project schemas.ID, pingKey, slug string) schemas.ID {
	name := pingKey + "/" + slug
	id := schemas.NameID(project[:], []byte(name))
	for n := 1; in.lookup.Taken(id); n++ {
		id = schemas.NameID(project[:], []byte(name+"/"+strconv.Itoa(n)))
	}
	return id
}

func autoProvision(project, check schemas.ID, slug string, at time.Time) schemas.Event {
	return schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: check, At: at, Body: schemas.CheckCreated{Config: schemas.CheckConfig{
		Name: slug, Slug: slug, Timeout: 24 * time.Hour, Grace: time.Hour, Schedule: "* * * * *", TZ: "UTC",
	}}}
}

func (in *Ingest) pingEvent(project schemas.ID, req pingurl.Request, r *http.Request, at time.Time) schemas.Event {
	remote, scheme := in.clientAddr(r)
	ua := r.UserAgent()
	if utf8.RuneCountInString(ua) > maxUserAgent {
		ua = string([]rune(ua)[:maxUserAgent])
	}
	return schemas.Event{ID: schemas.NewID(), ProjectID: project, CheckID: req.CheckID, At: at, Body: schemas.PingReceived{
		Kind: req.Kind, ExitStatus: req.ExitStatus, RunID: req.RunID, HasRunID: req.HasRunID,
		Method: truncate(r.Method, maxMethodOrScheme), Scheme: scheme, RemoteAddr: remote, UserAgent: ua,
	}}
}

// clientAddr returns the client address and scheme, believing forwarding headers only
// from trusted proxies.
func (in *Ingest) clientAddr(r *http.Request) (addr, scheme string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !in.trusted(peer.Unmap()) {
		return host, scheme
	}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		first = strings.TrimSpace(first)
		// Only an address is believed; anything else leaves the proxy's own.
		if ap, err := netip.ParseAddrPort(first); err == nil {
			host = ap.Addr().String()
		} else if addr, err := netip.ParseAddr(first); err == nil {
			host = addr.String()
		}
	}
	if proto := r.Header.Get("X-Forwarded-Proto"); proto != "" {
		scheme = truncate(proto, maxMethodOrScheme)
	}
	return host, scheme
}

// truncate cuts s to its first n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (in *Ingest) trusted(addr netip.Addr) bool {
	for _, p := range in.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

var errBodyTooLarge = errors.New("request body too large")

// readBody reads the whole body (up to schemas.RequestBodyCap) and keeps the first limit
// bytes.
func readBody(r *http.Request, limit int) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		// Most pings have no body, and reading one would allocate a buffer anyway.
		return nil, nil
	}
	maxBody := int64(schemas.RequestBodyCap(limit))
	if r.ContentLength > maxBody {
		return nil, errBodyTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading ping body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, errBodyTooLarge
	}
	if len(body) > limit {
		body = body[:limit]
	}
	if len(body) == 0 {
		return nil, nil
	}
	return body, nil
}

// Response header values, shared by every response: headers are set by assigning these
// under their canonical names, which spares the canonicalizing and the slice that
// Header.Set makes for each (a tenth of a ping's handling). Nothing changes them.
var (
	anyOrigin     = []string{"*"}
	noCache       = []string{"max-age=0, no-cache, no-store, must-revalidate, private"}
	textPlain     = []string{"text/plain; charset=utf-8"}
	retryAfterOne = []string{"1"}
)

func (in *Ingest) setPingHeaders(w http.ResponseWriter) {
	h := w.Header()
	h["Access-Control-Allow-Origin"] = anyOrigin
	h["Ping-Body-Limit"] = in.bodyLimitHeader
}

func plain(w http.ResponseWriter, code int, body string, noCacheHeaders bool) int {
	h := w.Header()
	if noCacheHeaders {
		h["Cache-Control"] = noCache
		h["Expires"] = expiresNow(time.Now())
	}
	h["Content-Type"] = textPlain
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
	return code
}

// httpDate is one second's Expires value.
type httpDate struct {
	unix  int64
	value []string
}

var lastExpires atomic.Pointer[httpDate]

// expiresNow is the Expires value for now, formatted once a second rather than once a
// response.
func expiresNow(now time.Time) []string {
	if d := lastExpires.Load(); d != nil && d.unix == now.Unix() {
		return d.value
	}
	d := &httpDate{unix: now.Unix(), value: []string{now.UTC().Format(http.TimeFormat)}}
	lastExpires.Store(d)
	return d.value
}

func unavailable(w http.ResponseWriter) int {
	w.Header()["Retry-After"] = retryAfterOne
	return plain(w, http.StatusServiceUnavailable, "service unavailable", true)
}
