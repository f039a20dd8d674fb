package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/store/bolt"
	"github.com/greenpass-dcc/greenpass/wallet"
)

// Polling faster than the per-token limit gets 429 with Retry-After; the
// pending answer is a 202 with Retry-After; unmatched paths stay 404 (the
// lab routes' authentication does not spread to them).
func TestPickupStatusesAndPollLimit(t *testing.T) {
	e, err := bolt.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	svc := wallet.NewService(wallet.Config{}, e)
	s := newTestServer(t, nil)
	// A frozen clock: the allowance does not refill during the test, and a
	// table of 4 tokens shows that unknown tokens take no place in it.
	frozen := func() time.Time { return time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC) }
	s.MountTransfer(Transfer{Service: svc, Polls: admission.NewRates(1, 2, 4, frozen)})
	h := s.Handler()
	sum := sha256.Sum256([]byte("guid"))
	tok, _, err := svc.RegistrationToken(context.Background(), hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	pick := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/version/v1/dcc", strings.NewReader(`{"registrationToken":"`+tok+`"}`))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := pick(); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "no device key") {
		t.Fatalf("before the key: %d %s", rec.Code, rec.Body)
	}
	if _, err := svc.RegisterKey(context.Background(), tok, testDeviceKey(t)); err != nil {
		t.Fatal(err)
	}
	if rec := pick(); rec.Code != http.StatusAccepted || rec.Header().Get("Retry-After") != "10" || rec.Header().Get("X-Request-Id") != "" {
		t.Fatalf("pending: %d %v (a poll's success carries no request ID)", rec.Code, rec.Header())
	}
	// Every error answer carries a request ID, on a poll route too.
	bad := httptest.NewRecorder()
	h.ServeHTTP(bad, httptest.NewRequest("POST", "/version/v1/dcc", strings.NewReader(`not json`)))
	if id := bad.Header().Get("X-Request-Id"); bad.Code != http.StatusBadRequest || id == "" || !strings.Contains(bad.Body.String(), `"request_id":"`+id+`"`) {
		t.Fatalf("malformed poll: %d %v %s", bad.Code, bad.Header(), bad.Body)
	}
	if rec := pick(); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("third poll within a second: %d %v", rec.Code, rec.Header())
	}
	// An attacker floods the pickup with random tokens: each is unknown,
	// and the real token stays limited (the limiter's table would have
	// dropped it to make room).
	for i := range 100 {
		fake := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		req := httptest.NewRequest("POST", "/version/v1/dcc", strings.NewReader(`{"registrationToken":"`+fake+`"}`))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("random token: %d", rec.Code)
		}
	}
	if rec := pick(); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("after the flood: %d, want the real token still limited", rec.Code)
	}
	if rec := do(t, h, "GET", "/version/v1/nothing", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("unmatched path: %d", rec.Code)
	}
	if rec := do(t, h, "GET", "/nothing/at/all", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("unmatched path: %d", rec.Code)
	}
}
