package status

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestServeHTTP(t *testing.T) {
	up := CheckerFunc(func(context.Context) error { return nil })
	down := CheckerFunc(func(context.Context) error { return errors.New("connection refused") })
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
		{"POST", up, up, "POST", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{}, time.Now, Component{"kafka", tt.kafka}, Component{"clickhouse", tt.ch})
			req := httptest.NewRequest(tt.method, "/api/v3/status/", nil)
			req.Header.Set("Accept", tt.accept)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantInBody) {
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
