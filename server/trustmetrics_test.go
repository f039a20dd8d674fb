package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The trust-list gauges read what is served at scrape time; the sync
// metrics record successes and failures by source.
func TestTrustListAndSyncMetrics(t *testing.T) {
	s := newTestServer(t, nil)
	tl := &fixedView{}
	at := time.Now()
	s.registerTrustListMetrics(tl, func() time.Time { return at })
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := s.registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("%s not gathered", name)
		return 0
	}
	if gauge("greenpass_trustlist_age_seconds") != -1 || gauge("greenpass_trustlist_dscs") != 0 {
		t.Fatal("before the first snapshot: want age -1 and no DSCs")
	}
	v, _ := trustListView(t, 3)
	tl.v.Store(v)
	at = v.IssuedAt.Add(90 * time.Minute)
	if age := gauge("greenpass_trustlist_age_seconds"); age != 5400 {
		t.Fatalf("age %v, want 5400", age)
	}
	if n := gauge("greenpass_trustlist_dscs"); n != 6 {
		t.Fatalf("DSCs %v, want 6", n)
	}

	m := s.NewSyncMetrics()
	m.Report("https://gw.example", time.Unix(1_700_000_000, 0), nil)
	m.Report("https://gw.example", time.Unix(1_700_000_100, 0), errors.New("upstream down"))
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("https://gw.example")); got != 1_700_000_000 {
		t.Fatalf("last success %v", got)
	}
	if got := testutil.ToFloat64(m.failures.WithLabelValues("https://gw.example")); got != 1 {
		t.Fatalf("failures %v", got)
	}
	if err := testutil.CollectAndCompare(m.failures, strings.NewReader(`
# HELP greenpass_trustlist_sync_failures_total Trust-list syncs that failed (the last good list stays), by source.
# TYPE greenpass_trustlist_sync_failures_total counter
greenpass_trustlist_sync_failures_total{source="https://gw.example"} 1
`)); err != nil {
		t.Fatal(err)
	}
}
