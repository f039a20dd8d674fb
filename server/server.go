// Package server is greenpass's HTTP face: the Echo application with its
// routes, middleware, metrics and graceful shutdown. It is the only package
// that knows HTTP; handlers translate between HTTP and the domain packages.
package server

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed openapi.yaml
var openAPI []byte

// Config holds the HTTP settings. Zero values get the defaults of Defaults.
type Config struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after a shutdown signal.
	ShutdownTimeout time.Duration
	// BodyLimit is the largest request body accepted, e.g. "1M"; routes
	// may set smaller ones.
	BodyLimit string
}

// Defaults are the HTTP settings when none are given.
func Defaults() Config {
	return Config{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   30 * time.Second,
		BodyLimit:         "1M",
	}
}

// Check is a readiness dependency: the store, the blob bucket.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Server is the HTTP application.
type Server struct {
	echo     *echo.Echo
	cfg      Config
	log      *slog.Logger
	registry *prometheus.Registry
	checks   []Check
	// quiet routes log successful requests at debug level only.
	quiet map[string]bool
	// bare routes (public downloads and polls) get a request ID only for
	// an error answer.
	bare  map[string]bool
	newID func() string
	// ownLimit routes bound their bodies themselves (uploads larger than
	// BodyLimit).
	ownLimit map[string]bool
	metrics  *httpMetrics
	// fast answers GET and HEAD of these exact paths before Echo: the
	// trust-list documents every verifier app polls. A handler returns the
	// status it wrote, or 0 to leave the request to Echo (errors, which
	// Echo reports).
	fast map[string]fastHandler
}

type fastHandler func(http.ResponseWriter, *http.Request) int

// New builds the application. checks are what /readyz asks.
func New(cfg Config, log *slog.Logger, checks ...Check) *Server {
	d := Defaults()
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = d.ReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = d.IdleTimeout
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = d.ShutdownTimeout
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = d.BodyLimit
	}
	s := &Server{echo: echo.New(), cfg: cfg, log: log, registry: prometheus.NewRegistry(), checks: checks, quiet: map[string]bool{}, bare: map[string]bool{}, newID: newRequestIDs(), ownLimit: map[string]bool{},
		fast: map[string]fastHandler{}}
	s.metrics = newHTTPMetrics(s.registry)
	// The scheduler's latency (time a runnable goroutine waited for a CPU)
	// is the first sign of a saturated CPU: queueing there happens before
	// any handler, so no request metric sees it.
	s.registry.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	// Public downloads and polls (bare routes) get no request ID up front:
	// nobody quotes one for a 304, and at tens of thousands a second the
	// header costs a tenth of the answer. Their errors get one
	// (errorHandler).
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: s.newID,
		Skipper: func(c echo.Context) bool { return s.bare[c.Path()] }}))
	e.Use(s.accessLog(s.metrics))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic in handler", "request_id", requestID(c), "route", c.Path(), "error", err)
			return err
		},
	}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit: cfg.BodyLimit,
		// GET and HEAD carry no body; most requests are downloads. Upload
		// routes set their own bound.
		Skipper: func(c echo.Context) bool {
			m := c.Request().Method
			return m == http.MethodGet || m == http.MethodHead || s.ownLimit[c.Path()]
		},
	}))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry})))
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPI)
	})
	return s
}

// Registry is where other parts (the store) register their metrics.
func (s *Server) Registry() prometheus.Registerer { return s.registry }

// Handler is the application as an http.Handler (for tests).
func (s *Server) Handler() http.Handler {
	if len(s.fast) == 0 {
		return s.echo
	}
	return http.HandlerFunc(s.serveHTTP)
}

// serveHTTP gives the fast paths their requests and Echo the rest. Echo
// costs a sixth of a 304's time (its middleware chain is built anew for
// every request); a fast path is counted in the same metrics as an Echo
// route, logs nothing (quiet routes log successes at debug level only) and
// leaves errors to Echo.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if h, ok := s.fast[r.URL.Path]; ok {
			start := time.Now()
			if status := s.serveFast(h, w, r); status != 0 {
				s.metrics.observe(r.URL.Path, r.Method, status, time.Since(start))
				return
			}
		}
	}
	s.echo.ServeHTTP(w, r)
}

// serveFast runs a fast path; a panic is logged and answered 500, as the
// Echo routes' recovery does.
func (s *Server) serveFast(h fastHandler, w http.ResponseWriter, r *http.Request) (status int) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in handler", "route", r.URL.Path, "error", fmt.Sprint(p))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"internal error"}`+"\n")
			status = http.StatusInternalServerError
		}
	}()
	return h(w, r)
}

// Serve answers requests on ln until ctx is cancelled, then stops taking new
// connections and lets in-flight requests finish within ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz asks every dependency, each within two seconds. Failures are named
// but not explained to the caller (the log has the reason).
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	status := map[string]string{}
	ready := true
	for _, ch := range s.checks {
		if err := ch.Ping(ctx); err != nil {
			ready = false
			status[ch.Name] = "unavailable"
			s.log.Warn("readiness check failed", "check", ch.Name, "error", err)
			continue
		}
		status[ch.Name] = "ok"
	}
	if !ready {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "not ready", "checks": status})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "checks": status})
}

// errorHandler writes every error as errorAnswer, mapped by answerFor
// (errors.go). Unexpected failures are logged with their cause, tagged
// with the request ID the client sees. Deliberate refusals (503 from
// admission control, client mistakes) are not: under a crowd, one error
// line per refusal would cost more than the refusal itself; the metrics
// count them.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body, log := answerFor(err)
	body.RequestID = requestID(c)
	if body.RequestID == "" { // a bare route: every error answer carries an ID
		body.RequestID = s.newID()
		c.Response().Header().Set(echo.HeaderXRequestID, body.RequestID)
	}
	if log {
		s.log.Error("request failed", "request_id", body.RequestID, "route", c.Path(), "status", status, "error", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	c.JSON(status, body)
}

// newRequestIDs returns a generator of request IDs: a random prefix per
// process and a counter. They need to be unique, not secret, and are made
// for every request, so a counter beats 32 random characters.
func newRequestIDs() func() string {
	var b [6]byte
	rand.Read(b[:])
	prefix := hex.EncodeToString(b[:]) + "-"
	var n atomic.Uint64
	return func() string { return prefix + strconv.FormatUint(n.Add(1), 36) }
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// IsLoopback says whether a listen address (HOST:PORT) is reachable from
// this machine only: a loopback IP or localhost. An empty host or a
// wildcard listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
