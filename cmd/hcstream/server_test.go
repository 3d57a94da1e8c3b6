package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A connection cannot be held for good: not by a client trickling its body, nor by
// one leaving a keep-alive connection idle.
func TestServerBoundsWhatAConnectionHolds(t *testing.T) {
	bodyErr := make(chan error, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		bodyErr <- err
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	connections := newConnectionCap(listener, 0, reg)
	server := newServer(handler, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, 300*time.Millisecond, 300*time.Millisecond, connections)
	go func() { _ = server.Serve(connections) }()
	t.Cleanup(func() { _ = server.Close() })

	// The client gives up well after the server should have.
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		return conn
	}

	slow := dial()
	if _, err := io.WriteString(slow, "POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-bodyErr:
		if err == nil {
			t.Error("the handler read a body that never arrived whole")
		}
	case <-time.After(4 * time.Second):
		t.Fatal("a body trickled for 4 s was still being read")
	}

	idle := dial()
	if _, err := io.WriteString(idle, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	reader := bufio.NewReader(idle)
	resp, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	<-bodyErr
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("a complete request: %d, close %v", resp.StatusCode, resp.Close)
	}
	if got := awaitOpenConnections(t, reg, 1); got != 1 {
		t.Errorf("%v connections open, want the idle one", got)
	}
	_, err = reader.ReadByte()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Error("an idle keep-alive connection was still open after 5 s")
	case err == nil || !(errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")):
		t.Errorf("reading an idle connection: %v, want it closed", err)
	}
	if got := awaitOpenConnections(t, reg, 0); got != 0 {
		t.Errorf("%v connections open after both were closed", got)
	}
}

// awaitOpenConnections returns the open connections gauge once it reads want, or
// after a second: the server marks a connection closed just after closing it.
func awaitOpenConnections(t *testing.T, reg *prometheus.Registry, want float64) float64 {
	t.Helper()
	got := openConnections(t, reg)
	for deadline := time.Now().Add(time.Second); got != want && time.Now().Before(deadline); got = openConnections(t, reg) {
		time.Sleep(10 * time.Millisecond)
	}
	return got
}

func openConnections(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range families {
		if family.GetName() == "hcstream_http_open_connections" {
			return family.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no hcstream_http_open_connections")
	return 0
}

// A process started on an address already taken fails before it reaches Kafka or
// ClickHouse: had it joined the projectors' consumer group first, the process serving
// on that address would lose partitions to it until it left.
func TestBusyAddressFailsBeforeAnythingStarts(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var dialled atomic.Int32
	backend := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				dialled.Add(1)
				t.Cleanup(func() { _ = conn.Close() })
			}
		}()
		return l.Addr().String()
	}
	cfg, err := loadConfig(flag.NewFlagSet("hcstream", flag.ContinueOnError), nil, func(name string) string {
		return map[string]string{"HC_LISTEN": busy.Addr().String(), "HC_KAFKA_BROKERS": backend(), "HC_CLICKHOUSE_ADDR": backend()}[name]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = serve(ctx, cfg, "all", slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "listening on") {
		t.Fatalf("serve on a busy address: %v", err)
	}
	// Anything started before the failure would be dialling its backends by now.
	time.Sleep(500 * time.Millisecond) //nolint:forbidigo // waiting for what must not happen
	if n := dialled.Load(); n != 0 {
		t.Errorf("%d connections to Kafka and ClickHouse from a process that could not listen", n)
	}
}
