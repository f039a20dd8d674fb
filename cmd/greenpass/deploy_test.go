package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The alert rules and the dashboard in deploy/ name only metrics that a
// running serve exposes, and every rule says what it is about.
func TestAlertRulesAndDashboard(t *testing.T) {
	_, upstream, anchor := gatewayFixture(t)
	dir := t.TempDir()
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 0 {
		t.Fatal(errText)
	}
	addr, _ := startServe(t, "--data", dir, "--issuer-rate", "0.001", "--issuer-burst", "1",
		"--sync-source", upstream.URL, "--sync-trust-anchor", anchor)
	base := "http://" + addr
	token := issuerToken(t, dir)
	// A sample for every labelled metric: one certificate, one refusal
	// (the issuer's burst is spent), one checkpoint scan.
	hc1 := string(issueHTTP(t, addr, token, "text/plain", "", vaccinationRequest))
	req, _ := http.NewRequest("POST", base+"/api/v1/certificates", strings.NewReader(vaccinationRequest))
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second certificate: %v %v", resp.StatusCode, err)
	}
	checkpointCode(t, addr, hc1)
	exposed := map[string]bool{}
	deadline := time.Now().Add(time.Minute)
	for {
		body := scrape(t, base)
		for _, m := range regexp.MustCompile(`(?m)^# TYPE (greenpass_\w+)`).FindAllStringSubmatch(body, -1) {
			exposed[m[1]] = true
		}
		if exposed["greenpass_trustlist_sync_last_success_timestamp_seconds"] {
			break // the built-in sync ran at start; it reports once done
		}
		if time.Now().After(deadline) {
			t.Fatal("the built-in sync reported nothing within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	metric := regexp.MustCompile(`greenpass_\w+`)
	check := func(where, expr string) {
		t.Helper()
		if strings.TrimSpace(expr) == "" {
			t.Errorf("%s: empty expression", where)
		}
		for _, name := range metric.FindAllString(expr, -1) {
			name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if !exposed[name] {
				t.Errorf("%s: %s is not exposed", where, name)
			}
		}
	}

	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "greenpass-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			check("rule "+r.Alert, r.Expr)
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("rule %q lacks a name, severity, summary or description", r.Alert)
			}
		}
	}
	if n < 5 {
		t.Fatalf("%d rules", n)
	}

	raw, err = os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "greenpass-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			check("panel "+p.Title, target.Expr)
		}
	}
	if len(dash.Panels) < 5 {
		t.Fatalf("%d panels", len(dash.Panels))
	}
}

// scrape returns the server's /metrics text.
func scrape(t *testing.T, base string) string {
	t.Helper()
	_, body := httpGet(t, base+"/metrics")
	return string(body)
}

// httpGet fetches url and returns the status and the body.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
