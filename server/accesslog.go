package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics counts requests and their latency by route and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "greenpass_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "greenpass_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
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
			m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
			m.latency.WithLabelValues(route, c.Request().Method).Observe(d.Seconds())
			level := slog.LevelInfo
			if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
				// Refusals come in floods; the metrics count them.
				level = slog.LevelDebug
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
