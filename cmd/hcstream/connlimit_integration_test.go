//go:build integration

package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hcstream/hcstream/deploy/testenv"
)

// A burst of new connections far past HC_HTTP_MAX_CONNECTIONS, arriving while idle
// keep-alive connections hold every slot, is answered in full and stored: the idle
// connections are closed to make room rather than left to their two-minute timeout.
func TestBurstPastTheConnectionCap(t *testing.T) {
	t.Parallel()
	const limit, burst = 8, 200
	env := isolatedEnv(t)
	env["HC_HTTP_MAX_CONNECTIONS"] = "8"
	s := startStack(t, env)
	key := s.createProject(t)["api_key"]
	created := do(t, "POST", s.base+"/api/v3/checks/", key, `{"name": "hourly"}`)
	if created.code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.code, created.body)
	}
	id := created.json(t)["uuid"].(string)

	// Every slot is taken by a keep-alive connection left idle after one request.
	addr := env["HC_LISTEN"]
	for range limit {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		if _, err := io.WriteString(conn, "GET /api/v3/status/ HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	codes := make([]int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			resp, err := client.Get(s.base + "/ping/" + id)
			if err != nil {
				t.Errorf("ping %d: %v", i, err)
				return
			}
			_ = resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("ping %d of the burst: %d", i, code)
		}
	}
	testenv.Eventually(t, 10*time.Second, "the burst's pings were not all folded", func() bool {
		return do(t, "GET", s.base+"/api/v3/checks/"+id, key, "").json(t)["n_pings"] == float64(burst)
	})
	if waits := metricValue(t, s.base, "hcstream_http_connection_cap_waits_total"); waits < 1 {
		t.Errorf("%v connections counted waiting at a cap of %d under a burst of %d", waits, limit, burst)
	}
	if closed := metricValue(t, s.base, "hcstream_http_idle_connections_closed_total"); closed < limit {
		t.Errorf("%v idle connections counted closed, want at least the %d left idle", closed, limit)
	}
}
