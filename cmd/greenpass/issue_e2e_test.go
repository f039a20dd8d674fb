package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// issueHTTP posts an issuance request to a running server and returns the
// response body; it fails the test unless the answer is 201.
func issueHTTP(t *testing.T, addr, token, accept, idempotencyKey, body string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/certificates", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("issue: %d %s", resp.StatusCode, out)
	}
	return out
}

// issuerToken prints a token with the keys command, as an operator would.
// postCertificate sends an issuance request as JSON and returns the status
// and the body.
func postCertificate(t *testing.T, addr, token, body string) (int, []byte) {
	t.Helper()
	return postJSON(t, "POST", "http://"+addr+"/api/v1/certificates", token, json.RawMessage(body))
}

func issuerToken(t *testing.T, dataDir string, args ...string) string {
	t.Helper()
	code, out, errText := runCLI(t, nil, append([]string{"keys", "issuer-token", "--data", dataDir, "--sub", "apotheke-4711"}, args...)...)
	if code != 0 {
		t.Fatalf("keys issuer-token: exit %d: %s", code, errText)
	}
	return strings.TrimSpace(out)
}

const vaccinationRequest = `{"nam":{"fn":"Musterfrau-Gößinger","gn":"Gabriele"},"dob":"1998-02-26",
	"v":[{"tg":"840539006","vp":"1119349007","mp":"EU/1/20/1528","ma":"ORG-100030215","dn":2,"sd":2,"dt":"2021-06-01"}]}`

// The whole operator path: serve makes development keys, an issuer token
// from the keys command, a certificate over HTTP, and greenpass verify
// accepts its HC1 text and its QR image against the development DSC, and
// refuses them against another type's DSC (key usage).
func TestIssuedCertificateVerifiesWithCLI(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startServe(t, "--data", dir)
	token := issuerToken(t, dir)

	var issued struct {
		UVCI string `json:"uvci"`
		HC1  string `json:"hc1"`
	}
	if err := json.Unmarshal(issueHTTP(t, addr, token, "application/json", "order-1", vaccinationRequest), &issued); err != nil {
		t.Fatal(err)
	}
	// The retry of the same order as a QR image is the same certificate.
	png := issueHTTP(t, addr, token, "image/png", "order-1", vaccinationRequest)
	stop()

	text := filepath.Join(dir, "cert.txt")
	image := filepath.Join(dir, "cert.png")
	if err := os.WriteFile(text, []byte(issued.HC1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(image, png, 0o600); err != nil {
		t.Fatal(err)
	}
	dscV := filepath.Join(dir, "keys", "dsc-v.pem")
	code, out, errText := runCLI(t, nil, "verify", "--json", "--dsc", dscV, text, image)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errText)
	}
	type result struct {
		Valid   bool           `json:"valid"`
		Payload map[string]any `json:"payload"`
	}
	var results []result
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(out)), []byte("\n")) {
		var r result
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for i, r := range results {
		v, _ := r.Payload["v"].([]any)
		if !r.Valid || len(v) != 1 || v[0].(map[string]any)["ci"] != issued.UVCI {
			t.Errorf("result %d: valid=%v payload=%v, want the issued UVCI %s", i, r.Valid, r.Payload, issued.UVCI)
		}
	}

	// The test DSC may not sign vaccinations.
	code, out, _ = runCLI(t, nil, "verify", "--dsc", filepath.Join(dir, "keys", "dsc-t.pem"), text)
	if code != 1 || !strings.Contains(out, "INVALID") {
		t.Errorf("verify against the test DSC: exit %d %s, want INVALID", code, out)
	}
}

// greenpass verify --trust URL: the server's list, checked against the
// pinned key, is what the verifier trusts.
func TestVerifyAgainstServedTrustList(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir)
	token := issuerToken(t, dir)
	hc1 := issueHTTP(t, addr, token, "text/plain", "", vaccinationRequest)
	cert := filepath.Join(dir, "cert.txt")
	if err := os.WriteFile(cert, hc1, 0o600); err != nil {
		t.Fatal(err)
	}
	pinned := filepath.Join(dir, "keys", "trustlist.pub.pem")
	base := "http://" + addr

	for _, url := range []string{base, base + "/trustList/DSC/"} {
		code, out, errText := runCLI(t, nil, "verify", "--trust", url, "--trust-key", pinned, cert)
		if code != 0 || !strings.Contains(out, "VALID vaccination") || errText != "" {
			t.Fatalf("verify --trust %s: exit %d\n%s%s", url, code, out, errText)
		}
	}
	if code, _, errText := runCLI(t, nil, "verify", "--trust", base, cert); code != exitUsage || !strings.Contains(errText, "--trust-key") {
		t.Fatalf("URL without --trust-key: exit %d %s", code, errText)
	}
	// Another key (the issuer-token key's certificate is not at hand; the
	// CSCA will do): the list is refused, not used.
	if code, _, errText := runCLI(t, nil, "verify", "--trust", base, "--trust-key", filepath.Join(dir, "keys", "csca.pem"), cert); code != exitUsage ||
		!strings.Contains(errText, "not used") {
		t.Fatalf("wrong pinned key: exit %d %s", code, errText)
	}
	// An old list is used, with a warning.
	code, out, errText := runCLI(t, nil, "verify", "--trust", base, "--trust-key", pinned, "--trust-max-age", "1ns", cert)
	if code != 0 || !strings.Contains(errText, "ago") {
		t.Fatalf("old list: exit %d\n%s%s", code, out, errText)
	}
}

// greenpass loadtest verify renders a certificate into camera frames and
// drives the checkpoint API; every frame is answered with a result (200).
func TestLoadtestVerify(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir)
	hc1 := filepath.Join(dir, "cert.txt")
	os.WriteFile(hc1, issueHTTP(t, addr, issuerToken(t, dir), "text/plain", "", vaccinationRequest), 0o600)
	code, out, errText := runCLI(t, nil, "loadtest", "verify", "--url", "http://"+addr, "--hc1", hc1, "--frame", "640x360",
		"--concurrency", "2", "--fps", "0", "--duration", "1s", "--warmup", "0s", "--json", "--quiet")
	var rep struct {
		Requests uint64         `json:"requests"`
		Created  uint64         `json:"created"`
		Statuses map[string]int `json:"statuses"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Requests == 0 || rep.Created != rep.Requests {
		t.Fatalf("exit %d\n%s%s", code, out, errText)
	}
	if code, _, errText := runCLI(t, nil, "loadtest", "verify", "--url", "http://"+addr); code != exitUsage || !strings.Contains(errText, "--image or --hc1") {
		t.Fatalf("without a frame: exit %d %s", code, errText)
	}
}
