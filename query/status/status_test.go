package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestServeHTTP(t *testing.T) {
	up := CheckerFunc(func(context.Context) error { return nil })
	down := CheckerFunc(func(context.Context) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 9000}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	})
	tests := []struct {
		name       string
		kafka, ch  Checker
		method     string
		accept     string
		wantCode   int
		wantInBody string
	}{
		{"both up", up, up, "GET", "", 200, "OK"},
		{"HEAD both up", up, up, "HEAD", "", 200, ""},
		{"kafka down", down, up, "GET", "", 503, "kafka: connection refused"},
		{"clickhouse down", up, down, "GET", "", 503, "clickhouse: connection refused"},
		{"json", up, down, "GET", "application/json", 503, `"name":"clickhouse","ok":false`},
		{"json error", up, down, "GET", "application/json", 503, `"error":"connection refused"`},
		{"POST", up, up, "POST", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{}, time.Now, Component{"kafka", tt.kafka}, Component{"clickhouse", tt.ch})
			req := httptest.NewRequest(tt.method, "/api/v3/status/", nil)
			req.Header.Set("Accept", tt.accept)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantInBody) || strings.Contains(rec.Body.String(), "10.1.2.3") {
				t.Errorf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantInBody)
			}
			if tt.accept != "" {
				var r Report
				if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || len(r.Components) != 2 {
					t.Errorf("json body %q: %v", rec.Body.String(), err)
				}
			}
		})
	}
}

func TestReportIsCached(t *testing.T) {
	var probes atomic.Int32
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := New(Config{CacheFor: time.Second}, clock, Component{"kafka", CheckerFunc(func(context.Context) error {
		probes.Add(1)
		return nil
	})})
	for range 50 {
		s.Report(context.Background())
	}
	if got := probes.Load(); got != 1 {
		t.Errorf("%d probes within the cache window, want 1", got)
	}
	now = now.Add(1001 * time.Millisecond)
	s.Report(context.Background())
	if got := probes.Load(); got != 2 {
		t.Errorf("%d probes after the window, want 2", got)
	}
}

// The endpoint answers anyone, so a failure is shown by its kind only; the log has it
// whole.
func TestFailuresShowTheirKindAndLogTheError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{Reason("check registry has not caught up with Kafka yet"), "check registry has not caught up with Kafka yet"},
		{fmt.Errorf("probing: %w", context.DeadlineExceeded), "timed out"},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ETIMEDOUT)}, "timed out"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connection refused"},
		{&net.DNSError{Err: "no such host", Name: "clickhouse.internal", IsNotFound: true}, "host not found"},
		{fmt.Errorf("reading: %w", io.EOF), "connection lost"},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "connection lost"},
		{fmt.Errorf("metadata: %w", titledError{}), "Leader Not Available"},
		{errors.New("code: 516, message: hcstream: Authentication failed"), "failed (the log has the error)"},
	} {
		var logged strings.Builder
		s := New(Config{Log: slog.New(slog.NewTextHandler(&logged, nil))}, time.Now,
			Component{"clickhouse", CheckerFunc(func(context.Context) error { return tt.err })})
		r := s.Report(context.Background())
		if r.OK || r.Components[0].Error != tt.want {
			t.Errorf("%v: shown as %q, want %q", tt.err, r.Components[0].Error, tt.want)
		}
		if !strings.Contains(logged.String(), "clickhouse: ") || !strings.Contains(logged.String(), strings.ReplaceAll(tt.err.Error(), `"`, `\"`)) {
			t.Errorf("%v: logged %q, want the whole error", tt.err, logged.String())
		}
	}
}

// titledError stands for Kafka's protocol errors.
type titledError struct{}

func (titledError) Error() string { return "[5] Leader Not Available: the leader is moving" }
func (titledError) Title() string { return "Leader Not Available" }
