package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A fake server answers every third request 503 and checks what the
// generator sends.
func TestRun(t *testing.T) {
	var n, bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.URL.Path != "/api/v1/certificates" || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Idempotency-Key") == "" || json.NewDecoder(r.Body).Decode(&body) != nil || body["nam"] == nil {
			bad.Add(1)
		}
		i := n.Add(1)
		if i%3 == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-UVCI", fmt.Sprintf("URN:UVCI:01:DE:X/%d", i))
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	var uvcis, progress bytes.Buffer
	r, err := Run(context.Background(), Config{URL: srv.URL, Token: "tok", Concurrency: 4, Duration: 300 * time.Millisecond,
		Types: []string{"v", "t", "r"}, Idempotency: true, UVCIs: &uvcis, Progress: &progress, ProgressEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Load() != 0 {
		t.Errorf("%d malformed requests", bad.Load())
	}
	if r.Requests == 0 || r.Statuses[201]+r.Statuses[503] != r.Requests || r.Created != r.Statuses[201] {
		t.Errorf("statuses %v, requests %d", r.Statuses, r.Requests)
	}
	if got := uint64(len(strings.Fields(uvcis.String()))); got != r.Created {
		t.Errorf("%d UVCIs recorded, %d created", got, r.Created)
	}
	if l := r.ByStatus[201]; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("latency %+v", l)
	}
	if !strings.Contains(progress.String(), "req/s") {
		t.Errorf("no progress lines: %q", progress.String())
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "503") || !strings.Contains(text.String(), "p99") {
		t.Errorf("report:\n%s", text.String())
	}
}

// Verify mode posts the given bodies to the verify API with the query and
// checkpoint key, and counts 200s as good.
func TestRunVerify(t *testing.T) {
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(bytes.Buffer)
		b.ReadFrom(r.Body)
		if r.URL.Path != "/api/v1/verify" || r.URL.RawQuery != "live=1" || r.Header.Get("Content-Type") != "image/jpeg" ||
			r.Header.Get("X-Checkpoint-Key") != "k" || b.String() != "frame" {
			bad.Add(1)
		}
		w.Write([]byte(`{"valid":true}`))
	}))
	defer srv.Close()
	r, err := Run(context.Background(), Config{URL: srv.URL, Concurrency: 2, Duration: 200 * time.Millisecond,
		Verify: [][]byte{[]byte("frame")}, ContentType: "image/jpeg", CheckpointKey: "k", VerifyQuery: "live=1"})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Load() != 0 || r.Requests == 0 || r.Created != r.Requests {
		t.Errorf("%d malformed of %d requests, %d good", bad.Load(), r.Requests, r.Created)
	}
}

// Open loop: the rate is what is sent, not what the clients could do.
func TestRunRate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	defer srv.Close()
	r, err := Run(context.Background(), Config{URL: srv.URL, Token: "t", Concurrency: 8, Duration: time.Second, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests < 150 || r.Requests > 210 {
		t.Errorf("%d requests at 200/s for 1 s", r.Requests)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	_, err := Run(context.Background(), Config{URL: "localhost:8080", Concurrency: 0, Duration: 0, Rate: -1, RetryJitter: -1})
	for _, want := range []string{"--url", "--token", "--concurrency", "--duration", "--rate", "--retry-jitter"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	if _, err := makeBodies([]string{"x"}, 1, time.Now()); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*1.04 {
			t.Errorf("q%.2f = %v, want %v (+4 %%)", c.q, got, c.want)
		}
	}
	if h.max != time.Second || h.mean() < 499*time.Millisecond || h.mean() > 501*time.Millisecond {
		t.Errorf("max %v mean %v", h.max, h.mean())
	}
	for us := uint64(0); us < 1<<20; us = us*3/2 + 1 {
		if b := bucketOf(us); lowerBound(b) > us || lowerBound(b+1) <= us {
			t.Fatalf("%d µs in bucket %d [%d, %d)", us, b, lowerBound(b), lowerBound(b+1))
		}
	}
}

// The warm-up is left out of the report, errors included: a server that
// drops connections at first and then answers shows only its answers.
func TestRunWarmupLeavesOutErrors(t *testing.T) {
	// The server drops the first connections it is sent, whenever they
	// come: the first requests of a run, well inside a warm-up that is
	// long beside them (a fixed time would make a busy machine's run
	// fail).
	var dropped atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dropped.Add(1) <= 4 {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	r, err := Run(context.Background(), Config{URL: srv.URL, Token: "t", Concurrency: 2,
		Warmup: 2 * time.Second, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if dropped.Load() <= 4 {
		t.Fatal("the run did not get past the dropped connections")
	}
	if len(r.Errors) != 0 || r.Created == 0 || r.Requests != r.Created {
		t.Errorf("report after the warm-up: errors %v, %d requests, %d created", r.Errors, r.Requests, r.Created)
	}
}

// Errors are grouped by kind and the step that failed, without addresses.
func TestErrorKind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, refused := net.Dial("tcp", addr)
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{refused, "dial: connection refused"},
		{timeout, "read: timeout"},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "timeout"},
		{io.ErrUnexpectedEOF, "connection closed"},
		{errors.New("tls: bad certificate"), "other: tls: bad certificate"},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
		if strings.Contains(errorKind(tc.err), addr) {
			t.Errorf("errorKind(%v) names the address", tc.err)
		}
	}
}

// The open loop's count of due tickets: whole tickets only, none before
// the start (a tick stamped a moment before it once made the feeder spin
// through 2^63 tickets).
func TestTicketsDue(t *testing.T) {
	for _, tc := range []struct {
		elapsed time.Duration
		rate    float64
		want    uint64
	}{
		{0, 2000, 0},
		{time.Second, 2000, 2000},
		{1500 * time.Microsecond, 2000, 3},
		{999 * time.Microsecond, 1000, 0},
		{-time.Millisecond, 2000, 0},
	} {
		if got := ticketsDue(tc.elapsed, tc.rate); got != tc.want {
			t.Errorf("ticketsDue(%v, %v) = %d, want %d", tc.elapsed, tc.rate, got, tc.want)
		}
	}
}

// A run answered mostly with refusals the client can fix says what to
// change; a run with some refusals says nothing.
func TestAdvice(t *testing.T) {
	for _, tc := range []struct {
		statuses map[int]uint64
		want     string
	}{
		{map[int]uint64{201: 10, 429: 990}, "--issuer-rate 0"},
		{map[int]uint64{401: 1000}, "keys issuer-token"},
		{map[int]uint64{403: 600, 201: 400}, "lacks the role"},
		{map[int]uint64{201: 600, 429: 400}, ""},
		{map[int]uint64{503: 900, 201: 100}, ""},
		{map[int]uint64{}, ""},
	} {
		r := &Report{Statuses: tc.statuses}
		for _, n := range tc.statuses {
			r.Requests += n
		}
		if got := r.Advice(); tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%v: advice %q, want %q", tc.statuses, got, tc.want)
		}
	}
}

// deadlineOnly is a context whose deadline passes but whose Done never
// closes: a timer that fires late, at the extreme.
type deadlineOnly struct {
	context.Context
	at time.Time
}

func (d deadlineOnly) Deadline() (time.Time, bool) { return d.at, true }

// The run ends at the caller's deadline by the clock, and what the
// deadline cut off is not counted as errors.
func TestRunEndsOnTheContextDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	ctx := deadlineOnly{Context: context.Background(), at: time.Now().Add(time.Second)}
	done := make(chan struct{})
	var r *Report
	var err error
	go func() {
		r, err = Run(ctx, Config{URL: srv.URL, Token: "t", Concurrency: 2, Duration: 10 * time.Minute})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the run went on past the caller's deadline")
	}
	if err != nil || len(r.Errors) != 0 || r.Created == 0 {
		t.Fatalf("report %+v, %v", r, err)
	}
}
