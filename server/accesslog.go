package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics counts requests and their latency by route and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// series caches the resolved metrics per route, method and status:
	// looking them up by label values costs more than answering a 304.
	series sync.Map // seriesKey → *routeSeries
}

type seriesKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
	k := seriesKey{route, method, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &routeSeries{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route, method, statusClass(status)),
		})
	}
	rs := v.(*routeSeries)
	rs.requests.Inc()
	rs.latency.Observe(d.Seconds())
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "greenpass_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "greenpass_http_request_duration_seconds",
			Help:    "HTTP request latency in the server (from routing to the response written) by route, method and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "class"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// statusClass is "2xx" … "5xx": latency is split by class, so the time a
// refusal (429/503) takes is seen apart from the time real work takes.
func statusClass(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	default:
		return "2xx"
	}
}

// accessLog logs one line per request and records the metrics. It logs the
// route pattern, never the path or query (they may carry identifiers), and
// no client address.
func (s *Server) accessLog(m *httpMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // write the response now, so the status is final
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			status := c.Response().Status
			d := time.Since(start)
			m.observe(route, c.Request().Method, status, d)
			level := slog.LevelInfo
			switch {
			case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
				// Refusals come in floods; the metrics count them.
				level = slog.LevelDebug
			case status < 400 && s.quiet[route]:
				// Public downloads and polls: thousands a second, each
				// answered from memory; a log line would cost more than
				// the answer. The metrics count them.
				level = slog.LevelDebug
			}
			if !s.log.Enabled(c.Request().Context(), level) {
				return nil
			}
			s.log.Log(c.Request().Context(), level, "request",
				"request_id", requestID(c),
				"method", c.Request().Method,
				"route", route,
				"status", status,
				"duration_ms", float64(d.Microseconds())/1000,
				"bytes", c.Response().Size,
			)
			return nil
		}
	}
}
