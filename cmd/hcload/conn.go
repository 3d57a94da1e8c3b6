package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// pingConn is one keep-alive HTTP/1.1 connection that sends a request and reads its
// response with no per-request goroutines or allocations beyond the bytes themselves:
// net/http's client costs as much CPU as the server it measures, and on a 2-core
// machine the load tool must leave the cores to the system under test.
type pingConn struct {
	addr string
	host string
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func newPingConn(base string) (*pingConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("only http:// targets are supported, got %s", base)
	}
	host := u.Host
	if u.Port() == "" {
		host += ":80"
	}
	return &pingConn{addr: host, host: u.Host}, nil
}

// dial opens the connection, unless it is open.
func (c *pingConn) dial() error {
	if c.conn != nil {
		return nil
	}
	conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return err
	}
	c.conn, c.r = conn, bufio.NewReaderSize(conn, 4096)
	return nil
}

// do sends one request and returns the response status code.
func (c *pingConn) do(method, path string, body []byte) (int, error) {
	if err := c.dial(); err != nil {
		return 0, err
	}
	c.buf = append(c.buf[:0], method...)
	c.buf = append(c.buf, ' ')
	c.buf = append(c.buf, path...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: "...)
	c.buf = append(c.buf, c.host...)
	c.buf = append(c.buf, "\r\nUser-Agent: hcload\r\n"...)
	if len(body) > 0 {
		c.buf = append(c.buf, "Content-Length: "...)
		c.buf = strconv.AppendInt(c.buf, int64(len(body)), 10)
		c.buf = append(c.buf, "\r\n"...)
	}
	c.buf = append(c.buf, "\r\n"...)
	c.buf = append(c.buf, body...)
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(c.buf); err != nil {
		c.close()
		return 0, err
	}
	code, err := c.readResponse()
	if err != nil {
		c.close()
	}
	return code, err
}

var errBadResponse = errors.New("malformed HTTP response")

func (c *pingConn) readResponse() (int, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errBadResponse
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errBadResponse
	}
	length, closing := 0, false
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, errBadResponse
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, errBadResponse
			}
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closing = true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, fmt.Errorf("%w: chunked bodies are not expected from ping URLs", errBadResponse)
		}
	}
	if _, err := c.r.Discard(length); err != nil {
		return 0, err
	}
	if closing {
		c.close()
	}
	return code, nil
}

func (c *pingConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}
