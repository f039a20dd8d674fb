package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkTrustListRevalidation is a 304 for /signercertificateStatus
// through the application as served (the fast path before Echo, metrics):
// the per-request cost the application adds to answering from memory.
func BenchmarkTrustListRevalidation(b *testing.B) {
	s := New(Config{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	v, _ := trustListView(&testing.T{}, 50)
	tl := &fixedView{}
	tl.v.Store(v)
	s.MountTrustLists(tl)
	h := s.Handler()
	req := httptest.NewRequest("GET", "/signercertificateStatus", nil)
	req.Header.Set("If-None-Match", v.SignerStatus().ETag)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkPlainRevalidation is the same answer from a bare handler.
func BenchmarkPlainRevalidation(b *testing.B) {
	v, _ := trustListView(&testing.T{}, 50)
	d := v.SignerStatus()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("ETag", d.ETag)
		hdr.Set("Last-Modified", d.LastModifiedHeader)
		hdr.Set("Cache-Control", "public, max-age=60")
		hdr.Set("Vary", "Accept-Encoding")
		hdr.Set("X-SIGNATURE", d.Signature)
		if strings.TrimPrefix(r.Header.Get("If-None-Match"), "W/") == strings.TrimPrefix(d.ETag, "W/") {
			w.WriteHeader(http.StatusNotModified)
		}
	})
	req := httptest.NewRequest("GET", "/signercertificateStatus", nil)
	req.Header.Set("If-None-Match", d.ETag)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			b.Fatal(rec.Code)
		}
	}
}
