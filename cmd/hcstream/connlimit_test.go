package main

import (
	"bufio"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestMaxConnections(t *testing.T) {
	for _, c := range []struct {
		setting int
		limit   int64
		want    int
	}{
		{autoConnections, 1<<63 - 1, 10000}, // no memory limit
		{autoConnections, 256 << 20, 2048},  // a quarter of 256 MiB at 32 KiB
		{autoConnections, 8 << 20, 256},     // never fewer than 256
		{0, 256 << 20, 0},
		{5, 256 << 20, 5},
	} {
		if got := maxConnections(c.setting, c.limit); got != c.want {
			t.Errorf("maxConnections(%d, %d) = %d, want %d", c.setting, c.limit, got, c.want)
		}
	}
}

func TestMaxConnectionsSetting(t *testing.T) {
	load := func(v string) (config, error) {
		return loadConfig(flag.NewFlagSet("hcstream", flag.ContinueOnError), nil, func(k string) string {
			if k == "HC_HTTP_MAX_CONNECTIONS" {
				return v
			}
			return ""
		}, io.Discard)
	}
	for v, want := range map[string]int{"": autoConnections, "auto": autoConnections, "0": 0, "300": 300} {
		if cfg, err := load(v); err != nil || cfg.MaxConnections != want {
			t.Errorf("HC_HTTP_MAX_CONNECTIONS=%q: %d, %v; want %d", v, cfg.MaxConnections, err, want)
		}
	}
	for _, v := range []string{"-1", "many", "1.5"} {
		if _, err := load(v); err == nil || !strings.Contains(err.Error(), "HC_HTTP_MAX_CONNECTIONS") {
			t.Errorf("HC_HTTP_MAX_CONNECTIONS=%s: %v, want an error naming it", v, err)
		}
	}
}

// cappedServer serves handler with at most limit connections open.
func cappedServer(t *testing.T, limit int, handler http.Handler) (*connectionCap, string) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	connections := newConnectionCap(listener, limit, prometheus.NewRegistry())
	server := newServer(handler, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), 5*time.Second, time.Minute, connections)
	go func() { _ = server.Serve(connections) }()
	t.Cleanup(func() { _ = server.Close() })
	return connections, listener.Addr().String()
}

// client is one keep-alive connection sending GETs.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialClient(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (c *client) send(path string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

// answer reads the next response within wait; ok is false if none came.
func (c *client) answer(wait time.Duration) (code int, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// Past the cap a new connection is not served until one closes; a connection going
// idle while one waits is closed to make room, and its client sees it closed.
func TestConnectionCapHoldsNewConnectionsBack(t *testing.T) {
	release := make(chan struct{})
	connections, addr := cappedServer(t, 2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
	}))
	first, second := dialClient(t, addr), dialClient(t, addr)
	first.send("/slow")
	second.send("/slow")
	third := dialClient(t, addr)
	third.send("/fast")
	if _, err := third.answer(300 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection with two open under a cap of 2: %v, want no answer yet", err)
	}
	if got := counted(t, connections.waits); got != 1 {
		t.Errorf("%v waits counted, want 1", got)
	}
	if got := connections.waitingNow(); got != 1 {
		t.Errorf("%d connections waiting, want the third", got)
	}
	close(release)
	if code, err := third.answer(5 * time.Second); err != nil || code != http.StatusOK {
		t.Fatalf("the waiting connection once the others went idle: %d, %v", code, err)
	}
	for name, c := range map[string]*client{"first": first, "second": second} {
		if code, err := c.answer(5 * time.Second); err != nil || code != http.StatusOK {
			t.Fatalf("%s connection's request: %d, %v", name, code, err)
		}
	}
	// One of the two went idle while the third waited and was closed for it.
	closed := 0
	for _, c := range []*client{first, second} {
		c.send("/fast")
		if _, err := c.answer(time.Second); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			closed++
		}
	}
	if closed < 1 || counted(t, connections.idleClosed) < 1 {
		t.Errorf("%d idle connections found closed, %v counted; want at least 1", closed, counted(t, connections.idleClosed))
	}
}

// At the cap, an idle keep-alive connection is closed as soon as a new one arrives.
func TestConnectionCapClosesAnIdleConnectionForANewOne(t *testing.T) {
	connections, addr := cappedServer(t, 1, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	idle := dialClient(t, addr)
	idle.send("/")
	if code, err := idle.answer(5 * time.Second); err != nil || code != http.StatusOK {
		t.Fatalf("first request: %d, %v", code, err)
	}
	newcomer := dialClient(t, addr)
	newcomer.send("/")
	if code, err := newcomer.answer(5 * time.Second); err != nil || code != http.StatusOK {
		t.Fatalf("a new connection with an idle one open under a cap of 1: %d, %v", code, err)
	}
	_ = idle.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.r.ReadByte(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("reading the idle connection: %v, want it closed", err)
	}
	if got := counted(t, connections.idleClosed); got != 1 {
		t.Errorf("%v idle connections counted closed, want 1", got)
	}
}

func counted(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// What the cap adds to each request on a keep-alive connection: the server reports it
// active, then idle again.
func BenchmarkConnectionCapPerRequest(b *testing.B) {
	connections := newConnectionCap(nil, 2048, nil)
	// Without a listener there is nothing to accept; the bookkeeping is what is measured.
	connections.slots = make(chan struct{}, 2048)
	conns := make([]net.Conn, 256)
	for i := range conns {
		conns[i] = &cappedConn{}
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			conn := conns[i%len(conns)]
			connections.connState(conn, http.StateActive)
			connections.connState(conn, http.StateIdle)
			i++
		}
	})
}
