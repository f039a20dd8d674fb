package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// The trust network's chain: greenpass B syncs from greenpass A as from a
// gateway — A's CSCA and upload certificate signed by A's trust anchor,
// A's DSCs by its upload certificate — and a certificate issued by A
// verifies as VALID against B's trust list.
func TestSyncFromAnotherGreenpass(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	addrA, _ := startServe(t, "--data", dirA)
	cert := filepath.Join(t.TempDir(), "cert.txt")
	if err := os.WriteFile(cert, issueHTTP(t, addrA, issuerToken(t, dirA), "text/plain", "", vaccinationRequest), 0o600); err != nil {
		t.Fatal(err)
	}

	// A publishes its own entries as a country's: CSCA and UPLOAD signed,
	// every DSC signed.
	for _, typ := range []string{"CSCA", "UPLOAD", "DSC"} {
		var entries []trustlist.Entry
		getJSON(t, "http://"+addrA+"/trustList/"+typ, &entries)
		want := map[string]int{"CSCA": 1, "UPLOAD": 1, "DSC": 3}[typ]
		if len(entries) != want {
			t.Fatalf("A's /trustList/%s: %d entries, want %d", typ, len(entries), want)
		}
		for _, e := range entries {
			if e.Signature == "" || e.Country != "DE" {
				t.Fatalf("A's %s entry %s is unsigned or not DE: %+v", typ, e.KID, e)
			}
		}
	}

	// B: its own keys (another country), then the sync from A.
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dirB, "--country", "AT"); code != 0 {
		t.Fatal(errText)
	}
	anchor := filepath.Join(dirA, "keys", "trust-anchor.pem")
	code, out, errText := runCLI(t, nil, "sync", "--data", dirB, "--source", "http://"+addrA, "--trust-anchor", anchor, "--json")
	var rep struct {
		Accepted, CSCAs, Uploads int
		Dropped                  []struct{ Code, Detail string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Accepted != 3 || rep.CSCAs != 1 || rep.Uploads != 1 || len(rep.Dropped) != 0 {
		t.Fatalf("B syncs from A: exit %d\n%s%s", code, out, errText)
	}
	addrB, _ := startServe(t, "--data", dirB)
	code, out, errText = runCLI(t, nil, "verify", "--trust", "http://"+addrB, "--trust-key", filepath.Join(dirB, "keys", "trustlist.pub.pem"), cert)
	if code != 0 || !strings.Contains(out, "VALID vaccination (DE)") {
		t.Fatalf("A's certificate against B's trust list: exit %d\n%s%s", code, out, errText)
	}
	// B lists A's CSCA beside its own, each signed.
	var cscas []trustlist.Entry
	getJSON(t, "http://"+addrB+"/trustList/CSCA", &cscas)
	countries := map[string]bool{}
	for _, e := range cscas {
		countries[e.Country] = e.Signature != ""
	}
	if len(cscas) != 2 || !countries["DE"] || !countries["AT"] {
		t.Fatalf("B's CSCAs: %+v", cscas)
	}

	// Another anchor (B's own) does not vouch for A: nothing of A is taken.
	code, out, _ = runCLI(t, nil, "sync", "--data", dirB, "--source", "http://"+addrA, "--trust-anchor",
		filepath.Join(dirB, "keys", "trust-anchor.pem"), "--json", "--dry-run")
	if json.Unmarshal([]byte(out), &rep) != nil || rep.Accepted != 0 || rep.CSCAs != 0 {
		t.Fatalf("sync with the wrong anchor: exit %d\n%s", code, out)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	status, body := httpGet(t, url)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d", url, status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// The same chain through WHO's format: B syncs from A's DID trust list
// (A's signing key taken from A's signer DID document) and verifies A's
// certificate.
func TestSyncFromAnotherGreenpassDID(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	addrA, _ := startServe(t, "--data", dirA)
	cert := filepath.Join(t.TempDir(), "cert.txt")
	if err := os.WriteFile(cert, issueHTTP(t, addrA, issuerToken(t, dirA), "text/plain", "", vaccinationRequest), 0o600); err != nil {
		t.Fatal(err)
	}
	var dsc struct {
		ID                 string
		VerificationMethod []struct {
			ID, Controller string
			PublicKeyJwk   struct {
				Kid string
				X5c []string
			}
		}
	}
	getJSON(t, "http://"+addrA+"/v2/trustlist/DCC/-/DSC/did.json", &dsc)
	if want := "did:web:" + strings.ReplaceAll(addrA, ":", "%3A") + ":v2:trustlist:DCC:-:DSC"; dsc.ID != want || len(dsc.VerificationMethod) != 3 {
		t.Fatalf("A's DSC document %s with %d entries, want %s with 3", dsc.ID, len(dsc.VerificationMethod), want)
	}
	for _, m := range dsc.VerificationMethod {
		if len(m.PublicKeyJwk.X5c) != 2 || m.ID != dsc.ID+"#"+m.PublicKeyJwk.Kid {
			t.Fatalf("entry %s: %d certificates in x5c, want the DSC and its CSCA", m.ID, len(m.PublicKeyJwk.X5c))
		}
	}
	resp, err := http.Get("http://" + addrA + "/v2/signer/did.json")
	if err != nil {
		t.Fatal(err)
	}
	signerDoc := filepath.Join(t.TempDir(), "signer-did.json")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := os.WriteFile(signerDoc, body, 0o600); err != nil {
		t.Fatal(err)
	}

	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dirB, "--country", "AT"); code != 0 {
		t.Fatal(errText)
	}
	code, out, errText := runCLI(t, nil, "sync", "--data", dirB, "--source", "http://"+addrA+"/v2/trustlist", "--trust-anchor", signerDoc, "--json")
	var rep struct {
		Accepted, CSCAs int
		Dropped         []struct{ Code, Detail string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Accepted != 3 || rep.CSCAs != 1 || len(rep.Dropped) != 0 {
		t.Fatalf("B syncs from A's DID documents: exit %d\n%s%s", code, out, errText)
	}
	addrB, _ := startServe(t, "--data", dirB)
	code, out, errText = runCLI(t, nil, "verify", "--trust", "http://"+addrB, "--trust-key", filepath.Join(dirB, "keys", "trustlist.pub.pem"), cert)
	if code != 0 || !strings.Contains(out, "VALID vaccination (DE)") {
		t.Fatalf("A's certificate against B's trust list: exit %d\n%s%s", code, out, errText)
	}

	// B's own key does not verify A's documents: nothing is taken.
	code, out, errText = runCLI(t, nil, "sync", "--data", dirB, "--source", "http://"+addrA+"/v2/trustlist", "--trust-anchor",
		filepath.Join(dirB, "keys", "trustlist.pub.pem"), "--json", "--dry-run")
	if code == 0 || !strings.Contains(errText, "proof does not verify") {
		t.Fatalf("sync with another key: exit %d\n%s%s", code, out, errText)
	}
}
