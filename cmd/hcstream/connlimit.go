package main

import (
	"errors"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connectionBytes is what one open client connection is reckoned to hold in the
// process: net/http's read and write buffers, the request, the response and the
// connection's goroutine. Bursts of new connections measured about 25 KiB each (README,
// Performance).
const connectionBytes = 32 << 10

// autoConnections is HC_HTTP_MAX_CONNECTIONS's default: derived from the memory limit.
const autoConnections = -1

// maxConnections is the connection cap for a setting and the Go memory limit: auto
// gives connections a quarter of the limit (at least 256), or 10,000 without a limit.
func maxConnections(setting int, memoryLimit int64) int {
	switch {
	case setting != autoConnections:
		return setting
	case memoryLimit <= 0 || memoryLimit == math.MaxInt64:
		return 10000
	}
	return int(max(memoryLimit/4/connectionBytes, 256))
}

// pendingConnections is how many connections past the cap are taken from the kernel
// to wait in the process, at a few hundred bytes each, before the rest are left in the
// listen queue.
const pendingConnections = 32768

// connectionCap is a listener that serves at most limit client connections at once (0:
// no cap). Cron jobs at the top of the hour each open a connection of their own, and
// tens of thousands at once would take the process past its memory limit (net/http
// gives each served connection its buffers and goroutine). Past the cap new connections
// are still taken from the kernel as they come, since a full listen queue
// (net.core.somaxconn) drops handshakes and the client retries only a second later,
// but wait unserved, which costs a few hundred bytes, until a served one closes; to make
// room sooner, connections idle between requests are closed (their clients reconnect
// with their next request, as after the server's idle timeout), one whenever a
// connection must wait and any that goes idle while one does.
type connectionCap struct {
	net.Listener
	// slots holds a token for each served connection.
	slots   chan struct{}
	pending chan accepted
	closed  chan struct{}
	once    sync.Once

	mu      sync.Mutex
	idle    map[net.Conn]struct{}
	waiting int

	waits, idleClosed prometheus.Counter
}

func newConnectionCap(l net.Listener, limit int, reg prometheus.Registerer) *connectionCap {
	c := &connectionCap{Listener: l, closed: make(chan struct{}), idle: map[net.Conn]struct{}{},
		waits: prometheus.NewCounter(prometheus.CounterOpts{Name: "hcstream_http_connection_cap_waits_total",
			Help: "New client connections that waited, unserved, while HC_HTTP_MAX_CONNECTIONS were served."}),
		idleClosed: prometheus.NewCounter(prometheus.CounterOpts{Name: "hcstream_http_idle_connections_closed_total",
			Help: "Keep-alive connections closed while idle to make room under HC_HTTP_MAX_CONNECTIONS."}),
	}
	if limit > 0 && l != nil {
		c.slots = make(chan struct{}, limit)
		c.pending = make(chan accepted, pendingConnections)
		go c.acceptAll()
	}
	if reg != nil {
		reg.MustRegister(c.waits, c.idleClosed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hcstream_http_max_connections",
			Help: "Client connections the process serves at once at most (HC_HTTP_MAX_CONNECTIONS; 0: no cap)."},
			func() float64 { return float64(limit) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hcstream_http_connections_waiting",
				Help: "Client connections taken from the kernel and waiting, unserved, for room under HC_HTTP_MAX_CONNECTIONS."},
				func() float64 { return float64(c.waitingNow()) }))
	}
	return c
}

// accepted is what the kernel's listener gave: a connection or an error.
type accepted struct {
	conn net.Conn
	err  error
}

// acceptAll takes connections from the kernel as they arrive, for Accept to serve
// within the cap.
func (c *connectionCap) acceptAll() {
	for {
		conn, err := c.Listener.Accept()
		select {
		case c.pending <- accepted{conn, err}:
		case <-c.closed:
			if conn != nil {
				_ = conn.Close()
			}
			return
		}
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case err != nil:
			// Out of file descriptors, say: the server logs it; do not spin on it.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Accept gives the server the next connection once it may be served.
func (c *connectionCap) Accept() (net.Conn, error) {
	if c.slots == nil {
		return c.Listener.Accept()
	}
	var next accepted
	select {
	case next = <-c.pending:
	case <-c.closed:
		return nil, net.ErrClosed
	}
	if next.err != nil {
		return nil, next.err
	}
	if !c.takeSlot() {
		_ = next.conn.Close()
		return nil, net.ErrClosed
	}
	return &cappedConn{Conn: next.conn, release: c.releaseSlot}, nil
}

// Close stops accepting and closes the connections still waiting to be served: their
// requests were never read.
func (c *connectionCap) Close() error {
	c.once.Do(func() { close(c.closed) })
	err := c.Listener.Close()
	for {
		select {
		case next := <-c.pending:
			if next.conn != nil {
				_ = next.conn.Close()
			}
		default:
			return err
		}
	}
}

// takeSlot waits for room for one more connection, closing an idle one to make it.
func (c *connectionCap) takeSlot() bool {
	if c.slots == nil {
		return true
	}
	select {
	case c.slots <- struct{}{}:
		return true
	default:
	}
	c.waits.Inc()
	c.mu.Lock()
	c.waiting++
	var idle net.Conn
	for conn := range c.idle {
		idle = conn
		delete(c.idle, conn)
		break
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
	}()
	if idle != nil {
		c.idleClosed.Inc()
		_ = idle.Close()
	}
	select {
	case c.slots <- struct{}{}:
		return true
	case <-c.closed:
		return false
	}
}

// waitingNow counts the connections taken from the kernel and not yet served.
func (c *connectionCap) waitingNow() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) + c.waiting
}

func (c *connectionCap) releaseSlot() {
	if c.slots != nil {
		<-c.slots
	}
}

// connState follows the server's connections (http.Server.ConnState): an idle one is
// closed at once while a new connection waits, else remembered as one to close.
func (c *connectionCap) connState(conn net.Conn, state http.ConnState) {
	if c.slots == nil {
		return
	}
	c.mu.Lock()
	if state != http.StateIdle {
		delete(c.idle, conn)
		c.mu.Unlock()
		return
	}
	if c.waiting == 0 {
		c.idle[conn] = struct{}{}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.idleClosed.Inc()
	_ = conn.Close()
}

// cappedConn gives its slot back when it is first closed.
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
