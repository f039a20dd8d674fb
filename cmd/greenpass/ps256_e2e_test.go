package main

import (
	"bytes"
	"compress/zlib"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/veraison/go-cose"

	"github.com/greenpass-dcc/greenpass/hcert"
)

// Countries sign with RSA-PSS too: keys init --alg PS256 makes RSA-3072
// document signers, and issuing, the served trust list and the checkpoint
// work unchanged. go-cose, independent of our COSE code, verifies the
// certificate under the DSC's key with the algorithm PS256.
func TestPS256Issuing(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA-3072 key generation: skipped with -short")
	}
	dir := t.TempDir()
	code, out, errText := runCLI(t, nil, "keys", "init", "--data", dir, "--alg", "ps256")
	if code != 0 || strings.Count(out, "PS256 kid") != 3 {
		t.Fatalf("keys init --alg PS256: exit %d\n%s%s", code, out, errText)
	}
	addr, _ := startServe(t, "--data", dir)
	hc1 := string(issueHTTP(t, addr, issuerToken(t, dir), "text/plain", "", vaccinationRequest))

	// Independent check: inflate, parse and verify with go-cose.
	b45, err := hcert.TrimPrefix(hc1)
	if err != nil {
		t.Fatal(err)
	}
	compressed, err := hcert.DecodeBase45(b45)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		t.Fatal(err)
	}
	coseBytes, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(coseBytes); err != nil {
		t.Fatal(err)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmPS256 {
		t.Fatalf("protected alg %v, %v; want PS256", alg, err)
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "keys", "dsc-v.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	dsc, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cose.NewVerifier(cose.AlgorithmPS256, dsc.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Verify(nil, v); err != nil {
		t.Fatalf("go-cose does not verify the PS256 certificate: %v", err)
	}

	// The served trust list carries the RSA DSCs; verify trusts it.
	cert := filepath.Join(dir, "cert.txt")
	if err := os.WriteFile(cert, []byte(hc1), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errText = runCLI(t, nil, "verify", "--json", "--trust", "http://"+addr, "--trust-key", filepath.Join(dir, "keys", "trustlist.pub.pem"), cert)
	var res struct {
		Valid bool   `json:"valid"`
		Alg   string `json:"alg"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Valid || res.Alg != "PS256" {
		t.Fatalf("verify --trust: exit %d\n%s%s", code, out, errText)
	}

	// The checkpoint (open on loopback) says valid too.
	resp, err := http.Post("http://"+addr+"/api/v1/verify", "text/plain", strings.NewReader(hc1))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || !res.Valid {
		t.Fatalf("checkpoint: %d %s", resp.StatusCode, body)
	}
}
