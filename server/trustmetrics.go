package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerTrustListMetrics exposes what an operator alerts on about the
// published lists: their age (an expired trust-list signature broke
// verifier apps in 2021), how many DSCs and revocation entries they carry.
// The values are read at scrape time from what is served now.
func (s *Server) registerTrustListMetrics(tl TrustLists, now func() time.Time) {
	s.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenpass_trustlist_age_seconds",
			Help: "Age of the published trust-list snapshot (since it was made); -1 before the first one."},
			func() float64 {
				if v := tl.Current(); v != nil {
					return v.Age(now()).Seconds()
				}
				return -1
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenpass_trustlist_dscs",
			Help: "DSCs in the published trust list."},
			func() float64 {
				if v := tl.Current(); v != nil {
					return float64(v.List().Len())
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenpass_revocations_published",
			Help: "Entries of the published revocation lists (upstream and this service's)."},
			func() float64 {
				if r := tl.Revocations(); r != nil {
					return float64(r.List().Len())
				}
				return 0
			}),
	)
}

// SyncMetrics count the built-in trust-list sync's runs by source; the
// command's sync loop reports to them.
type SyncMetrics struct {
	lastSuccess *prometheus.GaugeVec
	failures    *prometheus.CounterVec
}

// NewSyncMetrics registers the sync's metrics.
func (s *Server) NewSyncMetrics() *SyncMetrics {
	m := &SyncMetrics{
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "greenpass_trustlist_sync_last_success_timestamp_seconds",
			Help: "When the trust-list sync last published (Unix seconds), by source."}, []string{"source"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "greenpass_trustlist_sync_failures_total",
			Help: "Trust-list syncs that failed (the last good list stays), by source."}, []string{"source"}),
	}
	s.registry.MustRegister(m.lastSuccess, m.failures)
	return m
}

// Report records one run of the sync from source.
func (m *SyncMetrics) Report(source string, at time.Time, err error) {
	if err != nil {
		m.failures.WithLabelValues(source).Inc()
		return
	}
	m.lastSuccess.WithLabelValues(source).Set(float64(at.Unix()))
}
