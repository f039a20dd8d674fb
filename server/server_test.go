package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/bolt"
)

func newTestServer(t testing.TB, logs io.Writer, checks ...Check) *Server {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	return New(Config{}, slog.New(slog.NewJSONHandler(logs, nil)), checks...)
}

func do(t *testing.T, h http.Handler, method, path string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, body))
	return rec
}

func TestOperationalEndpoints(t *testing.T) {
	var storeDown atomic.Bool
	s := newTestServer(t, nil,
		Check{"store", func(context.Context) error {
			if storeDown.Load() {
				return errors.New("connection refused")
			}
			return nil
		}},
		Check{"blob", func(context.Context) error { return nil }},
	)
	h := s.Handler()

	if rec := do(t, h, "GET", "/healthz", nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) {
		t.Fatalf("/healthz = %d %s", rec.Code, rec.Body)
	}
	rec := do(t, h, "GET", "/readyz", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ready"`) {
		t.Fatalf("/readyz = %d %s", rec.Code, rec.Body)
	}
	storeDown.Store(true)
	rec = do(t, h, "GET", "/readyz", nil)
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 503 || body.Checks["store"] != "unavailable" || body.Checks["blob"] != "ok" {
		t.Fatalf("/readyz with the store down = %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "refused") {
		t.Fatalf("/readyz leaks the cause: %s", rec.Body)
	}

	rec = do(t, h, "GET", "/openapi.yaml", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/yaml" || !bytes.HasPrefix(rec.Body.Bytes(), []byte("openapi: 3.1.0")) {
		t.Fatalf("/openapi.yaml = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}

	do(t, h, "GET", "/nope", nil)
	rec = do(t, h, "GET", "/metrics", nil)
	for _, want := range []string{
		`greenpass_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`greenpass_http_requests_total{method="GET",route="/readyz",status="503"} 1`,
		`greenpass_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`greenpass_http_request_duration_seconds_bucket{class="2xx",method="GET",route="/healthz"`,
		`greenpass_http_request_duration_seconds_bucket{class="5xx",method="GET",route="/readyz"`,
		`go_goroutines`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestErrorsAndLimits(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	s.echo.POST("/echo", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.Blob(200, "text/plain", b)
	})
	s.echo.GET("/boom", func(c echo.Context) error { panic("secret detail") })
	s.echo.GET("/fail", func(c echo.Context) error { return errors.New("database password wrong") })
	h := s.Handler()

	rec := do(t, h, "GET", "/nope", nil)
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"error"`) || rec.Header().Get("X-Request-Id") == "" {
		t.Fatalf("404 = %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := do(t, h, "POST", "/echo", strings.NewReader("small")); rec.Code != 200 || rec.Body.String() != "small" {
		t.Fatalf("small body = %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, "POST", "/echo", bytes.NewReader(make([]byte, 2<<20))); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body = %d, want 413", rec.Code)
	}
	for _, path := range []string{"/boom", "/fail"} {
		rec := do(t, h, "GET", path, nil)
		if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "password") {
			t.Fatalf("%s = %d %s: a 500 must not tell its cause", path, rec.Code, rec.Body)
		}
		var body map[string]string
		json.Unmarshal(rec.Body.Bytes(), &body)
		if body["request_id"] == "" || !strings.Contains(logs.String(), body["request_id"]) {
			t.Fatalf("%s: request id %q not in the log", path, body["request_id"])
		}
	}
}

func TestAccessLogHasNoPathOrQuery(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	s.echo.GET("/api/v1/certificates/:uvci", func(c echo.Context) error { return c.NoContent(204) })
	do(t, s.Handler(), "GET", "/api/v1/certificates/URN:UVCI:01:DE:SECRET?name=Erika", nil)
	line := logs.String()
	if !strings.Contains(line, `"route":"/api/v1/certificates/:uvci"`) || !strings.Contains(line, `"status":204`) {
		t.Fatalf("access log = %s", line)
	}
	if strings.Contains(line, "SECRET") || strings.Contains(line, "Erika") {
		t.Fatalf("access log leaks the path or query: %s", line)
	}
}

// Serve drains in-flight requests when its context ends.
func TestServeDrainsOnShutdown(t *testing.T) {
	var logs lockedLog
	s := newTestServer(t, &logs)
	started := make(chan struct{})
	s.echo.GET("/slow", func(c echo.Context) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return c.String(200, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel() // SIGTERM arrives while /slow is running
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request got %q, want it to finish", body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
	// Durations in the log read as durations, not nanoseconds.
	if l := logs.String(); !strings.Contains(l, `"timeout":"30s"`) {
		t.Fatalf("shutdown log: %s", l)
	}
}

// lockedLog is a log sink safe for the server's goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMeterStore(t *testing.T) {
	s := newTestServer(t, nil)
	e, err := bolt.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	m := MeterStore(e, s.Registry())
	ctx := context.Background()
	m.Insert(ctx, "issuers", "a", time.Time{}, []byte(`1`))
	m.Insert(ctx, "issuers", "a", time.Time{}, []byte(`1`))
	m.Get(ctx, "issuers", "missing")
	// The wrapper keeps the engine's atomic InsertAll: all or nothing.
	if _, ok := m.(store.AtomicInserter); !ok {
		t.Error("the metered engine hides InsertAll")
	}
	err = store.InsertAll(ctx, m, store.Insertion{Coll: "issuers", ID: "b", Data: []byte(`2`)},
		store.Insertion{Coll: "issuers", ID: "a", Data: []byte(`3`)})
	if _, gerr := m.Get(ctx, "issuers", "b"); !errors.Is(err, store.ErrExists) || !errors.Is(gerr, store.ErrNotFound) {
		t.Errorf("InsertAll over a taken ID: %v; first record: %v", err, gerr)
	}
	rec := do(t, s.Handler(), "GET", "/metrics", nil)
	for _, want := range []string{
		`greenpass_store_operation_duration_seconds_count{op="insert_all",outcome="exists"} 1`,
		`greenpass_store_operation_duration_seconds_count{op="insert",outcome="ok"} 1`,
		`greenpass_store_operation_duration_seconds_count{op="insert",outcome="exists"} 1`,
		`greenpass_store_operation_duration_seconds_count{op="get",outcome="not_found"} 2`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
