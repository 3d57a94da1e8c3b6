// Package status answers /api/v3/status/: whether the broker and the store are
// reachable, probed concurrently with short timeouts and cached briefly so a storm of
// orchestrator probes does not become a storm of broker requests.
//
// It owns the probe logic and the response format; the probes themselves are small
// adapters around Kafka and ClickHouse.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hcstream/hcstream/ingest/logthrottle"
)

// Checker probes one dependency.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context) error

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

// Component is a named dependency.
type Component struct {
	Name    string
	Checker Checker
}

// Reason is a component's own account of why it is not ready, fit to show anyone.
type Reason string

func (r Reason) Error() string { return string(r) }

// Result is one component's probe outcome. Error says what kind of failure it was;
// the error itself, which may name addresses, users and server messages, goes to the
// log, since the endpoint answers anyone.
type Result struct {
	Name      string  `json:"name"`
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Report is the outcome of one round of probes.
type Report struct {
	OK         bool      `json:"ok"`
	Components []Result  `json:"components"`
	CheckedAt  time.Time `json:"checked_at"`
}

// Config configures the status endpoint. Zero values mean the defaults.
type Config struct {
	// Timeout bounds each probe. Default 1s.
	Timeout time.Duration
	// CacheFor is how long a report is reused. Default 1s.
	CacheFor time.Duration
	// Log takes the failures in full. Default: discarded.
	Log *slog.Logger
}

// Service probes components and serves the result.
type Service struct {
	cfg        Config
	components []Component
	now        func() time.Time

	// failures keeps the log to a line per interval while a component is down.
	failures logthrottle.Throttle

	mu     sync.Mutex
	cached Report
	valid  time.Time
	flight chan struct{}
}

// New returns a status service over components, probed in the given order.
func New(cfg Config, now func() time.Time, components ...Component) *Service {
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.CacheFor <= 0 {
		cfg.CacheFor = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, components: components, now: now}
}

// SetComponents replaces the probed components; call it before serving.
func (s *Service) SetComponents(components ...Component) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.components = components
	s.valid = time.Time{}
}

// Report returns a report no older than CacheFor; concurrent callers share one round.
func (s *Service) Report(ctx context.Context) Report {
	for {
		s.mu.Lock()
		if s.now().Before(s.valid) {
			r := s.cached
			s.mu.Unlock()
			return r
		}
		if s.flight != nil {
			wait := s.flight
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return Report{Components: []Result{{Name: "status", Error: ctx.Err().Error()}}}
			}
		}
		s.flight = make(chan struct{})
		s.mu.Unlock()

		r := s.probe(ctx)

		s.mu.Lock()
		s.cached, s.valid = r, s.now().Add(s.cfg.CacheFor)
		close(s.flight)
		s.flight = nil
		s.mu.Unlock()
		return r
	}
}

func (s *Service) probe(ctx context.Context) Report {
	// Probes run detached from the caller so one impatient client cannot spoil the
	// shared result; Timeout bounds them.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	s.mu.Lock()
	components := s.components
	s.mu.Unlock()
	results := make([]Result, len(components))
	errs := make([]error, len(components))
	var wg sync.WaitGroup
	for i, c := range components {
		wg.Go(func() {
			start := time.Now()
			err := c.Checker.Check(ctx)
			results[i] = Result{Name: c.Name, OK: err == nil, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				results[i].Error = publicReason(err)
				errs[i] = fmt.Errorf("%s: %w", c.Name, err)
			}
		})
	}
	wg.Wait()
	report := Report{OK: true, Components: results, CheckedAt: s.now().UTC()}
	for _, r := range results {
		report.OK = report.OK && r.OK
	}
	if !report.OK {
		s.failures.Log(ctx, s.cfg.Log, s.now(), slog.LevelWarn, "status: a dependency is unavailable", "err", errors.Join(errs...))
	}
	return report
}

// publicReason names the kind of failure err is, without what it carries.
func publicReason(err error) string {
	var reason Reason
	var dns *net.DNSError
	var timeout interface{ Timeout() bool }
	// Kafka's protocol errors have a title, such as "Leader Not Available".
	var titled interface{ Title() string }
	switch {
	case errors.As(err, &reason):
		return string(reason)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout():
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dns):
		return "host not found"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost"
	case errors.As(err, &titled):
		return titled.Title()
	}
	return "failed (the log has the error)"
}

// ServeHTTP answers 200 "OK" when every component is reachable and 503 naming the
// failing ones otherwise; JSON when the client accepts application/json.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	report := s.Report(r.Context())
	code := http.StatusOK
	if !report.OK {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-cache")
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(report)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if report.OK {
		fmt.Fprint(w, "OK")
		return
	}
	var failed []string
	for _, c := range report.Components {
		if !c.OK {
			failed = append(failed, c.Name+": "+c.Error)
		}
	}
	fmt.Fprint(w, "unavailable: "+strings.Join(failed, "; "))
}
