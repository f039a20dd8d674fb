package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// certificates list|show|revoke against a running server: the issuer's
// own certificates, the UVCI encoded by the tool.
func TestCertificatesCommand(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir)
	token := issuerToken(t, dir)
	other := issuerToken(t, dir, "--sub", "apotheke-0815")
	var issued []string
	for range 2 {
		var out struct {
			UVCI string `json:"uvci"`
		}
		if err := json.Unmarshal(issueHTTP(t, addr, token, "application/json", "", vaccinationRequest), &out); err != nil {
			t.Fatal(err)
		}
		issued = append(issued, out.UVCI)
	}
	url := "http://" + addr
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, nil, append([]string{"certificates"}, append(args, "--url", url)...)...)
	}
	code, out, errText := cli("list", "--token", token)
	if code != 0 || !strings.Contains(out, issued[0]) || !strings.Contains(out, issued[1]) || !strings.Contains(errText, "2 certificates") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errText)
	}
	code, out, errText = cli("show", issued[0], "--token", token)
	var rec struct {
		UVCI, Issuer string
	}
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.UVCI != issued[0] || rec.Issuer != "apotheke-4711" {
		t.Fatalf("show: exit %d\n%s%s", code, out, errText)
	}
	if code, out, errText = cli("revoke", issued[0], "--token", token); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: exit %d\n%s%s", code, out, errText)
	}
	if code, out, _ = cli("revoke", issued[0], "--token", token); code != 0 || !strings.Contains(out, "already revoked") {
		t.Fatalf("revoke again: exit %d %s", code, out)
	}
	code, out, errText = cli("list", "--json", "--token", token)
	if code != 0 || strings.Count(out, "\n") != 2 || strings.Count(out, `"revokedAt"`) != 1 || !strings.Contains(out, `"revokedAt"`) {
		t.Fatalf("list --json after the revocation: exit %d\n%s%s", code, out, errText)
	}
	// Another issuer: nothing listed, the certificate is not found.
	if code, out, errText = cli("list", "--token", other); code != 0 || strings.Contains(out, "URN:UVCI") || !strings.Contains(errText, "0 certificates") {
		t.Fatalf("another issuer's list: exit %d\n%s%s", code, out, errText)
	}
	if code, _, errText = cli("revoke", issued[1], "--token", other); code != 1 || !strings.Contains(errText, "404") {
		t.Fatalf("another issuer's revoke: exit %d %s", code, errText)
	}
	for _, args := range [][]string{
		{"list"}, // no token
		{"list", "--token", token, "--from", "yesterday"},
		{"show", "--token", token},
		{"frob", "--token", token},
	} {
		if code, _, errText := cli(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errText)
		}
	}
}
