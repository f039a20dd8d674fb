package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/ferrettest"
)

// checkpointCode verifies an HC1 text at the checkpoint API and returns the
// first reason's code ("" when valid).
func checkpointCode(t *testing.T, addr, hc1 string) string {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/api/v1/verify", "text/plain", strings.NewReader(hc1))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Valid   bool
		Reasons []struct{ Code string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %v", resp.StatusCode, err)
	}
	if out.Valid || len(out.Reasons) == 0 {
		return ""
	}
	return out.Reasons[0].Code
}

// The 2021 fake-pharmacy case: an operator suspends the issuer (its
// issuing and lab calls get 403 at once), revokes what it issued in a
// window (the checkpoint says REVOKED), and lifts the suspension.
func TestStopARogueIssuer(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir)
	base := "http://" + addr
	rogue := issuerToken(t, dir, "--sub", "apotheke-fake")
	honest := issuerToken(t, dir, "--sub", "apotheke-echt")
	admin := issuerToken(t, dir, "--sub", "operator-1", "--roles", "admin")
	issue := func(tok string) (int, string) {
		t.Helper()
		status, body := postCertificate(t, addr, tok, vaccinationRequest)
		var out struct{ HC1, Code string }
		json.Unmarshal(body, &out)
		return status, out.HC1 + out.Code
	}
	_, fake1 := issue(rogue)
	_, fake2 := issue(rogue)
	_, genuine := issue(honest)
	if checkpointCode(t, addr, fake1) != "" {
		t.Fatal("the fake certificate does not verify before the incident response (test set-up broken)")
	}

	// Only an admin may act.
	if status, _ := postJSON(t, "POST", base+"/api/v1/issuers/apotheke-fake/suspension", honest, map[string]string{}); status != http.StatusForbidden {
		t.Fatalf("suspension by a pharmacy: %d", status)
	}
	if status, _ := postJSON(t, "POST", base+"/api/v1/issuers/apotheke-fake/suspension", "", map[string]string{}); status != http.StatusUnauthorized {
		t.Fatalf("suspension without a token: %d", status)
	}
	if status, body := postJSON(t, "POST", base+"/api/v1/issuers/apotheke-fake/suspension", admin, map[string]string{"reason": "fake pharmacy"}); status != http.StatusCreated {
		t.Fatalf("suspend: %d %s", status, body)
	}
	if status, _ := postJSON(t, "POST", base+"/api/v1/issuers/apotheke-fake/suspension", admin, map[string]string{}); status != http.StatusOK {
		t.Fatalf("suspend again: %d", status)
	}
	if status, code := issue(rogue); status != http.StatusForbidden || code != "ISSUER_SUSPENDED" {
		t.Fatalf("issuing while suspended: %d %s", status, code)
	}
	if status, body := postJSON(t, "POST", base+"/version/v1/labId", rogue, map[string]string{"labId": "LAB9"}); status != http.StatusForbidden || !strings.Contains(string(body), "ISSUER_SUSPENDED") {
		t.Fatalf("lab call while suspended: %d %s", status, body)
	}
	if status, _ := issue(honest); status != http.StatusCreated {
		t.Fatalf("another pharmacy: %d", status)
	}

	// Everything the rogue issued in the window is revoked.
	window := map[string]string{"from": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "to": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
	status, body := postJSON(t, "POST", base+"/api/v1/issuers/apotheke-fake/revocations", admin, window)
	var res struct{ Revoked, Previous int }
	if json.Unmarshal(body, &res); status != http.StatusOK || res.Revoked != 2 {
		t.Fatalf("revoke window: %d %s", status, body)
	}
	if status, body := postJSON(t, "POST", base+"/api/v1/issuers/apotheke-fake/revocations", admin, map[string]string{"from": window["to"], "to": window["from"]}); status != http.StatusBadRequest {
		t.Fatalf("reversed window: %d %s", status, body)
	}
	// The revocation list is republished at once, in the background.
	for _, hc1 := range []string{fake1, fake2} {
		deadline := time.Now().Add(30 * time.Second)
		for code := checkpointCode(t, addr, hc1); code != "REVOKED"; code = checkpointCode(t, addr, hc1) {
			if time.Now().After(deadline) {
				t.Fatalf("the checkpoint 30 s after the revocation: %q, want REVOKED", code)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if code := checkpointCode(t, addr, genuine); code != "" {
		t.Fatalf("the honest pharmacy's certificate: %s", code)
	}

	// An issuer id with characters a path escapes.
	if status, body := postJSON(t, "POST", base+"/api/v1/issuers/apotheke%40markt.de/suspension", admin, map[string]string{}); status != http.StatusCreated ||
		!strings.Contains(string(body), `"issuer":"apotheke@markt.de"`) {
		t.Fatalf("escaped issuer id: %d %s", status, body)
	}

	// Lifted, the issuer may issue again.
	req, _ := http.NewRequest("DELETE", base+"/api/v1/issuers/apotheke-fake/suspension", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("lift: %v %v", resp.StatusCode, err)
	}
	if status, _ := issue(rogue); status != http.StatusCreated {
		t.Fatalf("issuing after the suspension was lifted: %d", status)
	}
}

// A suspension made on one instance holds on another sharing the store,
// within its refresh interval.
func TestSuspensionHoldsOnEveryInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("FerretDB: skipped with -short")
	}
	t.Setenv("MONGODB_URI", ferrettest.Start(t))
	dir := t.TempDir()
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 0 {
		t.Fatal(errText)
	}
	a, _ := startServe(t, "--data", dir, "--suspension-refresh", "50ms", "--sweep-interval", "1h")
	b, _ := startServe(t, "--data", dir, "--suspension-refresh", "50ms", "--sweep-interval", "1h")
	rogue := issuerToken(t, dir, "--sub", "apotheke-fake")
	admin := issuerToken(t, dir, "--sub", "operator-1", "--roles", "admin")
	if status, body := postJSON(t, "POST", "http://"+a+"/api/v1/issuers/apotheke-fake/suspension", admin, map[string]string{}); status != http.StatusCreated {
		t.Fatalf("suspend on A: %d %s", status, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _ := postCertificate(t, b, rogue, vaccinationRequest)
		if status == http.StatusForbidden {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance B still answers %d 30 s after the suspension on A", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
