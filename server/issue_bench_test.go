package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/admission"
)

// BenchmarkIssueAdmission is what an issuing request costs the server's
// handlers served (201, durable write included) and refused (503 at a
// full gate, 429 over the issuer's rate), side by side. Each request is
// parsed from its bytes (httptest.NewRequest reads it as a connection's
// reader does) and answered into a recorder: no sockets, whose read and
// write a real refusal pays on top.
func BenchmarkIssueAdmission(b *testing.B) {
	for _, tc := range []struct {
		name string
		want int
	}{{"issued", http.StatusCreated}, {"refused-busy", http.StatusServiceUnavailable}, {"refused-rate", http.StatusTooManyRequests}} {
		b.Run(tc.name, func(b *testing.B) {
			gate, _ := admission.NewGate(1, 0, time.Millisecond)
			rates := admission.NewRates(1e9, 1e9, 0, nil)
			if tc.want == http.StatusTooManyRequests {
				rates = admission.NewRates(1e-9, 1, 0, nil)
			}
			f := newIssueFixture(b, gate, rates)
			tok := f.token("apotheke-1")
			h := f.srv.Handler()
			switch tc.want {
			case http.StatusServiceUnavailable:
				leave, err := gate.Enter(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				defer leave()
			case http.StatusTooManyRequests:
				f.do("POST", "/api/v1/certificates", tok, vaccinationBody) // the burst of one
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				req := httptest.NewRequest("POST", "/api/v1/certificates", strings.NewReader(vaccinationBody))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", strconv.Itoa(i))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					b.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want)
				}
			}
		})
	}
}
