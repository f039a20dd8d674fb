package loadtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// conn is one client's HTTP/1.1 keep-alive connection. The request is
// written and the answer read on the calling goroutine — no transport
// goroutines in between, each of which would add its own wait for a CPU
// to the latency — and where the OS supports it the answer's arrival is
// the kernel's receive time. A generator sharing the machine with the
// server (or just busy with thousands of clients) then does not count
// its own scheduling delay as server latency.
type conn struct {
	addr string      // host:port
	tls  *tls.Config // nil for http

	nc    net.Conn
	stamp *stamper
	br    *bufio.Reader
	bw    *bufio.Writer
}

// newConn returns an unconnected client for base (http:// or https://).
func newConn(base string) (*conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	c := &conn{addr: u.Host}
	switch u.Scheme {
	case "http":
		if u.Port() == "" {
			c.addr = net.JoinHostPort(u.Hostname(), "80")
		}
	case "https":
		if u.Port() == "" {
			c.addr = net.JoinHostPort(u.Hostname(), "443")
		}
		c.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
	default:
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	return c, nil
}

func (c *conn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.stamp = newStamper(nc)
	nc = c.stamp
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return err
		}
		nc = tc
	}
	c.nc, c.br, c.bw = nc, bufio.NewReader(nc), bufio.NewWriter(nc)
	return nil
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// do sends req and reads the whole answer. latency runs from just before
// the request is written to the arrival of the answer's first bytes (the
// kernel's receive time where available, else when the read returned).
// A kept-alive connection the server has closed meanwhile is redialled
// once, as net/http does.
func (c *conn) do(ctx context.Context, req *http.Request) (resp *http.Response, latency time.Duration, err error) {
	reused := c.nc != nil
	resp, latency, err = c.try(ctx, req)
	if err == nil || !reused || ctx.Err() != nil || !staleConn(err) || req.GetBody == nil {
		return resp, latency, err
	}
	if req.Body, err = req.GetBody(); err != nil {
		return nil, 0, err
	}
	return c.try(ctx, req)
}

func (c *conn) try(ctx context.Context, req *http.Request) (*http.Response, time.Duration, error) {
	if c.nc == nil {
		if err := c.dial(ctx); err != nil {
			return nil, 0, err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	nc := c.nc
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()

	c.stamp.reset()
	start := time.Now()
	err := req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		c.close()
		return nil, 0, err
	}
	buffered := c.br.Buffered() > 0
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		c.close()
		return nil, 0, err
	}
	arrived := c.stamp.first()
	if buffered || arrived.IsZero() {
		arrived = time.Now()
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	if err != nil {
		return nil, 0, err
	}
	return resp, max(arrived.Sub(start), 0), nil
}

// staleConn says whether err is what a write to or read from a connection
// the server closed while it was idle gives.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
