package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/wallet"
)

const testRequestTemplate = `{"nam":{"fn":"Musterfrau","gn":"Erika"},"dob":"1990-01-01",
	"t":[{"tg":"840539006","tt":"LP217198-3","ma":"1232","sc":%q,"tr":"260415000","tc":"Testzentrum"}]%s}`

func testRequest(transferTestID string) string {
	sc := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	transfer := ""
	if transferTestID != "" {
		transfer = fmt.Sprintf(`,"transfer":{"testId":%q}`, transferTestID)
	}
	return fmt.Sprintf(testRequestTemplate, sc, transfer)
}

// postJSON sends a request and returns status and body.
func postJSON(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// The direct path end to end, as operators and users run it: a wallet
// registers for a test, an issuer issues with a transfer, the wallet
// fetches, checks against the server's signed trust list, lists and shows
// the certificate; its QR verifies with greenpass verify.
func TestWalletDirectTransfer(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir, "--sweep-interval", "20ms")
	base := "http://" + addr
	token := issuerToken(t, dir, "--roles", "issue:t")
	stranger := issuerToken(t, dir, "--sub", "apotheke-fremd", "--roles", "issue:t,issue:v")
	walletDir := filepath.Join(dir, "wallet")
	guid := "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
	sum := sha256.Sum256([]byte(guid))
	testID := hex.EncodeToString(sum[:])
	issueStatus := func(tok, body string) int {
		t.Helper()
		status, _ := postCertificate(t, addr, tok, body)
		return status
	}

	// The test is not this pharmacy's until its lab announces the result:
	// the transfer is refused, nothing issued.
	if status := issueStatus(token, testRequest(testID)); status != http.StatusForbidden {
		t.Fatalf("transfer before the announcement: %d", status)
	}
	if status, body := postJSON(t, "POST", base+"/api/v1/quicktest/results", token, map[string]any{
		"labId": "LAB1", "testResults": []map[string]any{{"id": guid, "sc": time.Now().Unix(), "result": 6}}}); status != http.StatusNoContent {
		t.Fatalf("results: %d %s", status, body)
	}
	// No app registered yet.
	if status := issueStatus(token, testRequest(testID)); status != http.StatusNotFound {
		t.Fatalf("transfer before registration: %d", status)
	}
	if code, _, errText := runCLI(t, nil, "wallet", "register", "--dir", walletDir, "--server", base, "--test-id", "notaguid"); code != exitUsage || !strings.Contains(errText, "neither a GUID") {
		t.Fatalf("register with a typo: exit %d %s", code, errText)
	}
	if code, out, errText := runCLI(t, nil, "wallet", "register", "--dir", walletDir, "--server", base, "--test-id", guid); code != 0 {
		t.Fatalf("register: exit %d\n%s%s", code, out, errText)
	}
	// Whoever else knows the test id gets no token.
	if status, body := postJSON(t, "POST", base+"/version/v1/registrationToken", "", map[string]string{"key": testID, "keyType": "GUID"}); status != http.StatusBadRequest ||
		!strings.Contains(string(body), "TEST_ALREADY_REGISTERED") || strings.Contains(string(body), "registrationToken") {
		t.Fatalf("a second registration: %d %s", status, body)
	}
	// Another pharmacy cannot push a certificate into this app, nor can a
	// vaccination certificate go there; nothing is issued either way.
	if status := issueStatus(stranger, testRequest(testID)); status != http.StatusForbidden {
		t.Fatalf("transfer by another pharmacy: %d", status)
	}
	vaccination := strings.TrimSuffix(vaccinationRequest, "}") + fmt.Sprintf(`,"transfer":{"testId":%q}}`, testID)
	if status := issueStatus(stranger, vaccination); status != http.StatusForbidden {
		t.Fatalf("a vaccination certificate into a test's app: %d", status)
	}
	info, err := os.Stat(filepath.Join(walletDir, "device.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("device key: %v, mode %v", err, info.Mode())
	}
	// Registering again is harmless (same key, same token).
	if code, _, errText := runCLI(t, nil, "wallet", "register", "--dir", walletDir, "--server", base, "--test-id", testID); code != 0 {
		t.Fatalf("register again: %s", errText)
	}
	if code, out, _ := runCLI(t, nil, "wallet", "fetch", "--dir", walletDir, "--timeout", "500ms"); code != exitInvalid || !strings.Contains(out, "still pending") {
		t.Fatalf("fetch before issuance: exit %d %s", code, out)
	}

	var issued struct{ UVCI string }
	if err := json.Unmarshal(issueHTTP(t, addr, token, "application/json", "", testRequest(testID)), &issued); err != nil {
		t.Fatal(err)
	}
	// A second certificate for the same test is refused.
	if status := issueStatus(token, testRequest(testID)); status != http.StatusConflict {
		t.Fatalf("second transfer: %d", status)
	}

	// The gauge counts the certificate held for its app.
	pendingGauge(t, base, `greenpass_transfer_records_pending{kind="certificates"} 1`)
	code, out, errText := runCLI(t, nil, "wallet", "fetch", "--dir", walletDir)
	if code != 0 || !strings.Contains(out, "added as #1") {
		t.Fatalf("fetch: exit %d\n%s%s", code, out, errText)
	}
	if code, out, _ := runCLI(t, nil, "wallet", "list", "--dir", walletDir); code != 0 || !strings.Contains(out, issued.UVCI) || strings.Contains(out, "Musterfrau") {
		t.Fatalf("list: exit %d %s", code, out)
	}
	qr := filepath.Join(dir, "qr.png")
	code, out, errText = runCLI(t, nil, "wallet", "show", "1", "--dir", walletDir, "--qr", qr)
	if code != 0 || !strings.Contains(out, "Musterfrau, Erika") || !strings.Contains(out, issued.UVCI) ||
		!strings.Contains(out, "Rapid immunoassay (LP217198-3)") || !strings.Contains(out, "Not detected (260415000)") {
		t.Fatalf("show: exit %d %s%s", code, out, errText)
	}
	code, out, errText = runCLI(t, nil, "verify", "--trust", base, "--trust-key", filepath.Join(dir, "keys", "trustlist.pub.pem"), qr)
	if code != 0 || !strings.Contains(out, "VALID test") {
		t.Fatalf("verify the wallet's QR: exit %d\n%s%s", code, out, errText)
	}
	if code, _, _ := runCLI(t, nil, "wallet", "show", "2", "--dir", walletDir); code != exitUsage {
		t.Fatalf("show of a missing certificate: exit %d", code)
	}
}

// The lab-facing contract over HTTP: the lab announces its result, the app
// registers, the lab finds the key, uploads the encrypted certificate and
// gets the partial COSE; the app picks up a certificate that verifies.
func TestLabTransferOverHTTP(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir)
	base := "http://" + addr
	labToken := issuerToken(t, dir, "--roles", "issue:t")
	vaccinationOnly := issuerToken(t, dir, "--roles", "issue:v")
	ctx := context.Background()
	app := &wallet.Client{Base: base}
	walletDir, _ := wallet.OpenDir(t.TempDir())
	device, err := walletDir.DeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	resultID := "b5e3c1f0a7d94f2e8c6b1a3d5f7e9c0b2a4d6f8e0c2b4a6d8f0e2c4b6a8d0f2e"
	sum := sha256.Sum256([]byte(resultID))
	testID := hex.EncodeToString(sum[:])

	// Lab endpoints need a token with issue:t.
	if status, _ := postJSON(t, "POST", base+"/version/v1/labId", "", map[string]string{"labId": "LAB1"}); status != http.StatusUnauthorized {
		t.Fatalf("labId without token: %d", status)
	}
	if status, _ := postJSON(t, "POST", base+"/version/v1/labId", vaccinationOnly, map[string]string{"labId": "LAB1"}); status != http.StatusForbidden {
		t.Fatalf("labId without issue:t: %d", status)
	}
	if status, _ := postJSON(t, "POST", base+"/version/v1/labId", labToken, map[string]string{"labId": "LAB1"}); status != http.StatusNoContent {
		t.Fatalf("labId: %d", status)
	}
	if status, body := postJSON(t, "POST", base+"/api/v1/quicktest/results", labToken, map[string]any{
		"labId": "LAB1", "testResults": []map[string]any{{"id": resultID, "sc": time.Now().Unix(), "result": 6}}}); status != http.StatusNoContent {
		t.Fatalf("results: %d %s", status, body)
	}

	token, err := app.RegistrationToken(ctx, testID)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.RegisterKey(ctx, token, &device.PublicKey); err != nil {
		t.Fatal(err)
	}
	if res, err := app.Pickup(ctx, token); err != wallet.ErrPending || res.Wait != 10*time.Second {
		t.Fatalf("pickup before upload: %v, wait %v", err, res.Wait)
	}

	status, body := postJSON(t, "GET", base+"/version/v1/publicKey/search/LAB1", labToken, nil)
	var keys []wallet.PendingKey
	if status != 200 || json.Unmarshal(body, &keys) != nil || len(keys) != 1 || keys[0].TestID != testID {
		t.Fatalf("search: %d %s", status, body)
	}
	pub, err := wallet.ParseDeviceKey(keys[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	cert := &hcert.Certificate{Version: "1.3.0", Name: hcert.Name{Family: "Muster", FamilyStandard: "MUSTER", Given: "Max", GivenStandard: "MAX"},
		DateOfBirth: "1990-01-01", Tests: []hcert.Test{{Target: "840539006", TestType: "LP217198-3", Device: "1232",
			SampledAt: now.Add(-time.Hour).UTC().Format(time.RFC3339), Result: "260415000", Centre: "Testzentrum",
			Country: "DE", Issuer: "Testzentrum", ID: keys[0].DCCI}}}
	cwt, err := hcert.EncodeCWT(hcert.Claims{Issuer: "DE", IssuedAt: now, ExpiresAt: now.Add(48 * time.Hour)}, cert)
	if err != nil {
		t.Fatal(err)
	}
	up, err := wallet.SealForLab(rand.Reader, pub, cwt)
	if err != nil {
		t.Fatal(err)
	}
	status, body = postJSON(t, "POST", base+"/version/v1/test/"+testID+"/dcc", labToken, up)
	var partial struct{ PartialDcc string }
	if status != 200 || json.Unmarshal(body, &partial) != nil || partial.PartialDcc == "" {
		t.Fatalf("upload: %d %s", status, body)
	}
	if status, _ := postJSON(t, "POST", base+"/version/v1/test/"+testID+"/dcc", labToken, up); status != http.StatusConflict {
		t.Fatalf("second upload: %d", status)
	}
	// The lab's own printout from the partial COSE verifies too.
	raw, _ := base64.StdEncoding.DecodeString(partial.PartialDcc)
	labCopy, err := hcert.ReplacePayload(raw, cwt)
	if err != nil {
		t.Fatal(err)
	}
	pinned := filepath.Join(dir, "keys", "trustlist.pub.pem")
	labFile := filepath.Join(dir, "lab.txt")
	os.WriteFile(labFile, []byte(hcert.EncodeText(labCopy)), 0o600)
	if code, out, errText := runCLI(t, nil, "verify", "--trust", base, "--trust-key", pinned, labFile); code != 0 {
		t.Fatalf("lab copy: exit %d\n%s%s", code, out, errText)
	}

	hc1, err := app.Fetch(ctx, token, device, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(dir, "app.txt")
	os.WriteFile(appFile, []byte(hc1), 0o600)
	if code, out, errText := runCLI(t, nil, "verify", "--trust", base, "--trust-key", pinned, appFile); code != 0 || !strings.Contains(out, "VALID test") {
		t.Fatalf("app certificate: exit %d\n%s%s", code, out, errText)
	}

	// Contract statuses the apps rely on.
	for _, tc := range []struct {
		path string
		body any
		want int
	}{
		{"/version/v1/registrationToken", map[string]string{"key": "nothex", "keyType": "GUID"}, 400},
		{"/version/v1/registrationToken", map[string]string{"key": testID, "keyType": "TELETAN"}, 400},
		{"/version/v1/registrationToken", map[string]string{"key": testID, "keyType": "GUID"}, 400}, // given once
		{"/version/v1/publicKey", map[string]string{"registrationToken": token, "publicKey": keys[0].PublicKey}, 200},
		{"/version/v1/publicKey", map[string]string{"registrationToken": token, "publicKey": "bm90IGEga2V5"}, 400},
		{"/version/v1/publicKey", map[string]string{"registrationToken": "00000000-0000-4000-8000-000000000000", "publicKey": keys[0].PublicKey}, 404},
		{"/version/v1/dcc", map[string]string{"registrationToken": "00000000-0000-4000-8000-000000000000"}, 404},
		{"/version/v1/dcc", "not an object", 400},
	} {
		if status, body := postJSON(t, "POST", base+tc.path, "", tc.body); status != tc.want {
			t.Errorf("POST %s %v = %d %s, want %d", tc.path, tc.body, status, body, tc.want)
		}
	}
	big := strings.Repeat("x", 10001)
	if status, _ := postJSON(t, "POST", base+"/version/v1/dcc", "", map[string]string{"registrationToken": big}); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", status)
	}
}

// pendingGauge waits until /metrics has the line (the gauge is counted
// every --sweep-interval).
func pendingGauge(t *testing.T, base, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if strings.Contains(scrape(t, base), line) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q within 30 s", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
