package loadtest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The arrival of data is the kernel's receive time: a reader that comes
// late does not make the answer late.
func TestStamperReceiveTime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kernel receive timestamps are read on Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Answer each byte asked, as a server does (timestamps are on
		// by then).
		b := make([]byte, 1)
		for {
			if _, err := c.Read(b); err != nil {
				return
			}
			c.Write([]byte("hello"))
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := newStamper(nc)
	defer s.Close()
	buf := make([]byte, 16)
	// The kernel turns receive timestamps on for the whole system a moment
	// after the first socket asks (a deferred static key): one exchange
	// first, as a load test's warm-up does.
	s.Write([]byte("?"))
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	s.reset()
	sent := time.Now()
	if _, err := s.Write([]byte("?")); err != nil {
		t.Fatal(err)
	}
	const nap = 2 * time.Second
	time.Sleep(nap) // the answer waits in the socket
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	got := s.first()
	if got.IsZero() {
		t.Fatal("no receive timestamp")
	}
	if d := got.Sub(sent); d < -time.Second || d > nap/2 {
		t.Errorf("received %v after sending, want well before the %v the reader slept", d, nap)
	}
	s.reset()
	if !s.first().IsZero() {
		t.Error("reset kept the arrival")
	}
}

// A kept-alive connection the server closed while idle is redialled and
// the request sent again; a fresh connection's failure is an error.
func TestConnRedialsStaleConnection(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := newConn(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx := context.Background()
	for i := range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/x", strings.NewReader("body"))
		resp, d, err := c.do(ctx, req)
		if err != nil || resp.StatusCode != 200 || d <= 0 {
			t.Fatalf("request %d: %v %v %v", i, resp, d, err)
		}
		if i == 1 {
			srv.CloseClientConnections() // the server drops the idle connection
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one redial)", n)
	}
	srv.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/x", strings.NewReader("body"))
	c.close()
	if _, _, err := c.do(ctx, req); err == nil {
		t.Error("a closed server answered")
	}
	if _, err := newConn("ftp://x"); err == nil {
		t.Error("ftp:// accepted")
	}
}

// https works the same way, over TLS on the stamped connection.
func TestConnTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-UVCI", "u")
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c, err := newConn(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.tls.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ctx := context.Background()
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/certificates", strings.NewReader("{}"))
		resp, d, err := c.do(ctx, req)
		if err != nil || resp.StatusCode != http.StatusCreated || resp.Header.Get("X-UVCI") != "u" || d <= 0 {
			t.Fatalf("over TLS: %v %v %v", resp, d, err)
		}
	}
	// An untrusted certificate is an error, not an answer.
	c2, _ := newConn(srv.URL)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/", strings.NewReader("{}"))
	if _, _, err := c2.do(ctx, req); err == nil {
		t.Error("an untrusted server certificate was accepted")
	}
}
