package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRulesEvalCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	expr := write("expr.json", `{"and":[{">=":[{"var":"payload.v.0.dn"},{"var":"payload.v.0.sd"}]},{"plusTime":[{"var":"payload.v.0.dt"},270,"day"]}]}`)
	data := write("data.json", `{"payload":{"v":[{"dn":2,"sd":2,"dt":"2021-06-01"}]}}`)
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{"date-time result", []string{expr, data}, "", 0, `"2022-02-26T00:00:00.000Z"` + "\n", ""},
		{"data on stdin", []string{write("e2.json", `{"var":"a.0"}`), "-"}, `{"a":[7]}`, 0, "7\n", ""},
		{"expression on stdin", []string{"-", data}, `{"in":["x",["x"]]}`, 0, "true\n", ""},
		{"invalid expression", []string{write("bad.json", `{"or":[true]}`), data}, "", 2, "", "unrecognised operator"},
		{"branch not taken is not evaluated", []string{write("lazy.json", `{"if":[false,{"plusTime":["2021-06-01",{"var":"payload.v.0.dn"},"month"]},true]}`), data}, "", 0, "true\n", ""},
		{"branch taken fails", []string{write("eager.json", `{"if":[true,{"plusTime":["2021-06-01",{"var":"payload.v.0.dn"},"month"]},true]}`), data}, "", 2, "", "amount"},
		{"error at evaluation", []string{write("lt.json", `{"<":[{"var":"x"},1]}`), data}, "", 2, "", "integer"},
		{"data not JSON", []string{expr, write("nojson.json", `{"a":`)}, "", 2, "", "is not JSON"},
		{"missing file", []string{expr, filepath.Join(dir, "none.json")}, "", 2, "", "no such file"},
		{"both on stdin", []string{"-", "-"}, "", 2, "", "only one"},
		{"one argument", []string{expr}, "", 2, "", "give the expression file and the data file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errText := runCLI(t, []byte(tc.stdin), append([]string{"rules", "eval"}, tc.args...)...)
			if code != tc.code || out != tc.stdout || !strings.Contains(errText, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errText, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

// businessRules are the demonstration rules: a full vaccination course and
// a test at most 48 hours old, acceptance rules of country.
func businessRules(country string) string {
	rule := func(id, certType, logic string) string {
		return fmt.Sprintf(`{"Identifier":%q,"Type":"Acceptance","Country":%q,"Version":"1.0.0","SchemaVersion":"1.0.0",
			"Engine":"CERTLOGIC","EngineVersion":"1.0.0","CertificateType":%q,
			"Description":[{"lang":"en","desc":"%s"},{"lang":"de","desc":"%s (de)"}],
			"ValidFrom":"2021-07-01T00:00:00Z","ValidTo":"2030-06-01T00:00:00Z","AffectedFields":["x"],"Logic":%s}`,
			id, country, certType, id+" text", id+" text", logic)
	}
	return "[" + rule("VR-"+country+"-0001", "Vaccination",
		`{"if":[{"var":"payload.v.0"},{">=":[{"var":"payload.v.0.dn"},{"var":"payload.v.0.sd"}]},true]}`) + "," +
		rule("TR-"+country+"-0001", "Test",
			`{"if":[{"var":"payload.t.0"},{"not-after":[{"plusTime":[{"var":"external.validationClock"},0,"hour"]},{"plusTime":[{"var":"payload.t.0.sc"},48,"hour"]}]},true]}`) + "]"
}

const halfCourse = `{"nam":{"fn":"Muster","gn":"Max"},"dob":"1980-01-01",
	"v":[{"tg":"840539006","vp":"1119349007","mp":"EU/1/20/1528","ma":"ORG-100030215","dn":1,"sd":2,"dt":"2021-06-01"}]}`

// Rules end to end: the server publishes rules the sync imported from a
// rules directory; greenpass verify --trust URL --country refuses a 1-of-2
// vaccination and a test older than 48 hours, naming the rule; --rules
// FILE does the same offline.
func TestRulesEndToEnd(t *testing.T) {
	_, upstream, anchor := gatewayFixture(t)
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	os.MkdirAll(rulesDir, 0o700)
	os.WriteFile(filepath.Join(rulesDir, "de.json"), []byte(businessRules("DE")), 0o600)
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 0 {
		t.Fatal(errText)
	}
	if code, out, errText := runCLI(t, nil, "sync", "--data", dir, "--source", upstream.URL, "--trust-anchor", anchor, "--rules-source", rulesDir); code != 0 || !strings.Contains(out, "2 rules") {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errText)
	}
	addr, _ := startServe(t, "--data", dir)
	base := "http://" + addr
	token := issuerToken(t, dir)
	pinned := filepath.Join(dir, "keys", "trustlist.pub.pem")

	resp, err := http.Get(base + "/rules/DE")
	if err != nil {
		t.Fatal(err)
	}
	var listed []struct{ Identifier, Hash string }
	json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if len(listed) != 2 || resp.Header.Get("X-SIGNATURE") == "" {
		t.Fatalf("/rules/DE: %+v", listed)
	}

	half := filepath.Join(dir, "half.txt")
	os.WriteFile(half, issueHTTP(t, addr, token, "text/plain", "", halfCourse), 0o600)
	full := filepath.Join(dir, "full.txt")
	os.WriteFile(full, issueHTTP(t, addr, token, "text/plain", "", vaccinationRequest), 0o600)
	test := filepath.Join(dir, "test.txt")
	os.WriteFile(test, issueHTTP(t, addr, token, "text/plain", "", testRequest("")), 0o600)

	verify := func(args ...string) (int, string) {
		t.Helper()
		code, out, errText := runCLI(t, nil, append([]string{"verify", "--trust", base, "--trust-key", pinned}, args...)...)
		if code == exitUsage {
			t.Fatalf("verify %v: %s", args, errText)
		}
		return code, out
	}
	if code, out := verify("--country", "DE", full); code != 0 {
		t.Fatalf("full course: %s", out)
	}
	if code, out := verify("--country", "DE", half); code != 1 || !strings.Contains(out, "rules: RULE_FAILED: VR-DE-0001") {
		t.Fatalf("1 of 2 doses: exit %d %s", code, out)
	}
	if code, out := verify("--country", "AT", half); code != 0 {
		t.Fatalf("AT has no rules: exit %d %s", code, out)
	}
	// The test was sampled an hour before issuance: 60 hours later it is
	// 61 hours old, still within its technical validity (72 h).
	later := time.Now().Add(60 * time.Hour).UTC().Format(time.RFC3339)
	if code, out := verify("--country", "DE", "--at", later, test); code != 1 || !strings.Contains(out, "TR-DE-0001") {
		t.Fatalf("61-hour-old test: exit %d %s", code, out)
	}
	if code, out := verify("--country", "DE", test); code != 0 {
		t.Fatalf("fresh test: exit %d %s", code, out)
	}
	// Offline, with the rules from a file.
	rulesFile := filepath.Join(dir, "rules.json")
	os.WriteFile(rulesFile, []byte(businessRules("DE")), 0o600)
	code, out, _ := runCLI(t, nil, "verify", "--dsc", filepath.Join(dir, "keys", "dsc-v.pem"), "--country", "DE", "--rules", rulesFile, "--json", half)
	var res struct {
		Valid   bool
		Stages  map[string]string
		Reasons []struct{ Stage, Code, Message string }
	}
	json.Unmarshal([]byte(out), &res)
	if code != 1 || res.Valid || res.Stages["rules"] != "fail" || len(res.Reasons) != 1 || !strings.Contains(res.Reasons[0].Message, "VR-DE-0001 text / VR-DE-0001 text (de)") {
		t.Fatalf("--rules file: exit %d %s", code, out)
	}
}

// A revoked certificate is rejected by greenpass verify --trust URL at the
// next refresh of the server's revocation list (at once on the instance
// that took the revocation).
func TestRevocationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir, "--trust-refresh", "1h")
	base := "http://" + addr
	token := issuerToken(t, dir)
	other := issuerToken(t, dir, "--sub", "apotheke-0815")
	pinned := filepath.Join(dir, "keys", "trustlist.pub.pem")
	var issued struct{ UVCI, HC1 string }
	json.Unmarshal(issueHTTP(t, addr, token, "application/json", "", vaccinationRequest), &issued)
	cert := filepath.Join(dir, "cert.txt")
	os.WriteFile(cert, []byte(issued.HC1), 0o600)
	if code, out, errText := runCLI(t, nil, "verify", "--trust", base, "--trust-key", pinned, cert); code != 0 {
		t.Fatalf("before revocation: exit %d\n%s%s", code, out, errText)
	}
	path := base + "/api/v1/certificates/" + url.PathEscape(issued.UVCI)
	if status, _ := postJSON(t, "POST", path+"/revoke", other, nil); status != http.StatusNotFound {
		t.Fatalf("another issuer's revocation: %d", status)
	}
	status, body := postJSON(t, "POST", path+"/revoke", token, nil)
	var rev struct {
		UVCI   string
		Hashes map[string]string
	}
	if status != http.StatusCreated || json.Unmarshal(body, &rev) != nil || rev.UVCI != issued.UVCI || len(rev.Hashes) != 3 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if status, _ := postJSON(t, "POST", path+"/revoke", token, nil); status != http.StatusOK {
		t.Fatalf("revoke again: %d", status)
	}
	if status, body := postJSON(t, "GET", path, token, nil); status != 200 || !strings.Contains(string(body), "revokedAt") {
		t.Fatalf("audit record after revocation: %d %s", status, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, out, _ := runCLI(t, nil, "verify", "--trust", base, "--trust-key", pinned, cert)
		if code == 1 && strings.Contains(out, "revocation: REVOKED") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still accepted after revocation: exit %d %s", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
