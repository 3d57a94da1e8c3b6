package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A burst sends every ping on a connection of its own, as separate cron jobs do.
func TestBurstDialsAConnectionPerPing(t *testing.T) {
	var connections, requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte("OK"))
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			connections.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	kinds, err := parseMix("success=1")
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	res, err := burst(context.Background(), options{baseURL: srv.URL}, []string{"a"}, kinds, n)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acknowledged != n || res.Sent != n || connections.Load() != n || requests.Load() != n {
		t.Errorf("acknowledged %d of %d sent, over %d connections with %d requests; want %d of each", res.Acknowledged, res.Sent, connections.Load(), requests.Load(), n)
	}
	if res.ConnectMaxMs <= 0 || res.MaxMs < res.ConnectMaxMs {
		t.Errorf("connect max %.2f ms, whole max %.2f ms: connects are part of each ping's time", res.ConnectMaxMs, res.MaxMs)
	}
}
