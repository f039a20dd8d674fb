package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/bolt"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/valueset"
	"github.com/greenpass-dcc/greenpass/verifier"
)

type issueFixture struct {
	srv    *Server
	set    *keys.Set
	engine store.Engine
	gate   *admission.Gate
	token  func(sub string, roles ...auth.Role) string
}

func newIssueFixture(t testing.TB, gate *admission.Gate, rates *admission.Rates) *issueFixture {
	t.Helper()
	ctx := context.Background()
	set, err := keys.Init(ctx, t.TempDir(), keys.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := bolt.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	signers := map[hcert.Type]issuer.DocumentSigner{}
	for typ, d := range set.DSCs {
		signers[typ] = issuer.DocumentSigner{Signer: d.Signer, Certificate: d.Certificate, KID: d.KID}
	}
	v, _ := auth.NewVerifier(set.IssuerToken.Public(), nil)
	s := newTestServer(t, nil)
	s.MountIssuance(Issuance{
		Service: issuer.New(issuer.Config{Signers: signers}, engine),
		Tokens:  auth.NewCache(v, 0, nil),
		Gate:    gate, Rates: rates, ValueSets: valueset.Builtin(),
	})
	token := func(sub string, roles ...auth.Role) string {
		if len(roles) == 0 {
			roles = []auth.Role{auth.RoleIssueVaccination, auth.RoleIssueTest, auth.RoleIssueRecovery}
		}
		tok, err := auth.Sign(set.IssuerToken, auth.Identity{Subject: sub, Country: "DE", Name: "Apotheke", Roles: roles}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return &issueFixture{srv: s, set: set, engine: engine, gate: gate, token: token}
}

const vaccinationBody = `{"nam":{"fn":"Musterfrau-Gößinger","gn":"Gabriele"},"dob":"1998-02-26",
 "v":[{"tg":"840539006","vp":"1119349007","mp":"EU/1/20/1528","ma":"ORG-100030215","dn":2,"sd":2,"dt":"2021-06-01"}]}`

func (f *issueFixture) do(method, path, token, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (f *issueFixture) verifier() *verifier.Verifier {
	var dscs []*trustlist.DSC
	for _, d := range f.set.DSCs {
		dsc, _ := trustlist.NewDSC(d.Certificate.Raw, "DE")
		dscs = append(dscs, dsc)
	}
	return verifier.New(trustlist.NewList(dscs...))
}

func TestIssueFormats(t *testing.T) {
	f := newIssueFixture(t, nil, nil)
	tok := f.token("apotheke-1")
	v := f.verifier()
	ctx := context.Background()

	rec := f.do("POST", "/api/v1/certificates", tok, vaccinationBody)
	if rec.Code != http.StatusCreated {
		t.Fatalf("JSON: %d %s", rec.Code, rec.Body)
	}
	var got struct {
		UVCI, HC1, KID      string
		IssuedAt, ExpiresAt time.Time
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if res := v.VerifyText(ctx, got.HC1); !res.Valid || res.Certificate.UVCI() != got.UVCI {
		t.Fatalf("hc1 does not verify: %+v", res.Reasons)
	}
	if got.KID == "" || got.IssuedAt.IsZero() || !got.ExpiresAt.After(got.IssuedAt) {
		t.Errorf("response %+v", got)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/v1/certificates/"+url.PathEscape(got.UVCI) {
		t.Errorf("Location %q", loc)
	}

	// The audit record, through the escaped path, to its issuer only.
	rec = f.do("GET", "/api/v1/certificates/"+url.PathEscape(got.UVCI), tok, "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"issuer":"apotheke-1"`) {
		t.Errorf("lookup: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "Musterfrau") || strings.Contains(rec.Body.String(), "1998-02-26") {
		t.Errorf("audit record shows personal data: %s", rec.Body)
	}
	if rec := f.do("GET", "/api/v1/certificates/"+url.PathEscape(got.UVCI), f.token("apotheke-2"), ""); rec.Code != http.StatusNotFound {
		t.Errorf("another issuer's lookup: %d", rec.Code)
	}

	rec = f.do("POST", "/api/v1/certificates", tok, vaccinationBody, "Accept", "text/plain")
	if rec.Code != http.StatusCreated || !strings.HasPrefix(rec.Body.String(), "HC1:") || !v.VerifyText(ctx, rec.Body.String()).Valid {
		t.Errorf("text: %d %.40s", rec.Code, rec.Body)
	}
	if rec.Header().Get("X-UVCI") == "" || rec.Header().Get("Content-Length") == "" {
		t.Errorf("text: headers %v", rec.Header())
	}

	rec = f.do("POST", "/api/v1/certificates", tok, vaccinationBody, "Accept", "image/png")
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("png: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if _, err := png.Decode(bytes.NewReader(rec.Body.Bytes())); err != nil {
		t.Fatal(err)
	}
	if res := v.VerifyImage(ctx, rec.Body.Bytes()); !res.Valid || res.Certificate.UVCI() != rec.Header().Get("X-UVCI") {
		t.Errorf("png does not verify: %+v", res.Reasons)
	}

	rec = f.do("POST", "/api/v1/certificates", tok, vaccinationBody, "Accept", "application/pdf;q=0.9, text/html")
	if rec.Code != http.StatusCreated || !bytes.HasPrefix(rec.Body.Bytes(), []byte("%PDF-")) {
		t.Errorf("pdf: %d %.10q", rec.Code, rec.Body)
	}
}

func TestIssueRefusals(t *testing.T) {
	f := newIssueFixture(t, nil, nil)
	tok := f.token("apotheke-1")
	testsOnly := f.token("testzentrum-1", auth.RoleIssueTest)
	tests := []struct {
		name     string
		token    string
		body     string
		headers  []string
		code     int
		contains string
	}{
		{"no token", "", vaccinationBody, nil, 401, "bearer token"},
		{"wrong role", testsOnly, vaccinationBody, nil, 403, "issue:v"},
		{"not acceptable", tok, vaccinationBody, []string{"Accept", "text/html"}, 406, "Accept"},
		{"not json", tok, vaccinationBody, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"malformed", tok, `{"nam":`, nil, 400, "ends too early"},
		{"unknown field", tok, `{"nam":{},"x":1}`, nil, 400, `unknown field \"x\"`},
		{"too large", tok, `{"nam":{"fn":"` + strings.Repeat("a", 17<<10) + `"}}`, nil, 413, "16 KiB"},
		{"invalid", tok, strings.Replace(vaccinationBody, `"dn":2`, `"dn":0`, 1), nil, 422, `"field":"v[0].dn"`},
		{"bad idempotency key", tok, vaccinationBody, []string{"Idempotency-Key", "a b"}, 400, "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do("POST", "/api/v1/certificates", tt.token, tt.body, tt.headers...)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("%d %s, want %d with %s", rec.Code, rec.Body, tt.code, tt.contains)
			}
			if strings.Contains(rec.Body.String(), "Musterfrau") {
				t.Errorf("error shows personal data: %s", rec.Body)
			}
		})
	}
	// Nothing was stored for any refusal.
	n, err := f.engine.Sweep(context.Background(), issuer.CollCertificates)
	if err != nil || n != 0 {
		t.Fatalf("sweep: %d %v", n, err)
	}
}

func TestIssueIdempotencyHTTP(t *testing.T) {
	f := newIssueFixture(t, nil, nil)
	tok := f.token("apotheke-1")
	a := f.do("POST", "/api/v1/certificates", tok, vaccinationBody, "Idempotency-Key", "order-77")
	b := f.do("POST", "/api/v1/certificates", tok, strings.ReplaceAll(vaccinationBody, "\n", " "), "Idempotency-Key", "order-77")
	if a.Code != 201 || b.Code != 201 || a.Body.String() != b.Body.String() {
		t.Fatalf("retry: %d %d, bodies equal %v", a.Code, b.Code, a.Body.String() == b.Body.String())
	}
	if b.Header().Get("Idempotent-Replayed") != "true" || a.Header().Get("Idempotent-Replayed") != "" {
		t.Errorf("replay header: first %q, retry %q", a.Header().Get("Idempotent-Replayed"), b.Header().Get("Idempotent-Replayed"))
	}
	c := f.do("POST", "/api/v1/certificates", tok, strings.Replace(vaccinationBody, `"dn":2`, `"dn":1`, 1), "Idempotency-Key", "order-77")
	if c.Code != http.StatusConflict {
		t.Errorf("same key, other body: %d", c.Code)
	}
	// The replay made no second certificate: it is counted once.
	mfs, _ := f.srv.registry.Gather()
	issued := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "greenpass_certificates_issued_total" {
			issued = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if issued != 1 {
		t.Errorf("greenpass_certificates_issued_total = %v, want 1", issued)
	}
	// By issuer class: the token's class claim, "unspecified" without one.
	pharmacy, err := auth.Sign(f.set.IssuerToken, auth.Identity{Subject: "apotheke-2", Country: "DE", Class: "pharmacy",
		Roles: []auth.Role{auth.RoleIssueVaccination}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rec := f.do("POST", "/api/v1/certificates", pharmacy, vaccinationBody); rec.Code != 201 {
		t.Fatalf("issue with a class: %d %s", rec.Code, rec.Body)
	}
	byClass := map[string]float64{}
	mfs, _ = f.srv.registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "greenpass_certificates_issued_total" {
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				byClass[labels["type"]+"/"+labels["class"]] = m.GetCounter().GetValue()
			}
		}
	}
	if byClass["v/unspecified"] != 1 || byClass["v/pharmacy"] != 1 {
		t.Errorf("certificates by type and class: %v", byClass)
	}
	if _, err := auth.Sign(f.set.IssuerToken, auth.Identity{Subject: "x", Country: "DE", Class: "casino", Roles: []auth.Role{auth.RoleIssueTest}}, time.Hour, time.Now()); err == nil {
		t.Error("a token with an unknown class was signed")
	}
}

func TestIssueOverload(t *testing.T) {
	gate, _ := admission.NewGate(1, 0, 10*time.Millisecond)
	f := newIssueFixture(t, gate, admission.NewRates(0.001, 2, 0, nil))
	tok := f.token("apotheke-1")

	// The gate is full: 503 with Retry-After, at once.
	leave, err := gate.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rec := f.do("POST", "/api/v1/certificates", tok, vaccinationBody)
	if ra, _ := strconv.Atoi(rec.Header().Get("Retry-After")); rec.Code != http.StatusServiceUnavailable || ra < 1 || ra > 3 {
		t.Errorf("full gate: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// At once, not after waiting: the gate has no queue (a generous bound,
	// not a speed test).
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("503 after %v", d)
	}
	leave()
	if rec := f.do("POST", "/api/v1/certificates", tok, vaccinationBody); rec.Code != 201 {
		t.Fatalf("free gate: %d %s", rec.Code, rec.Body)
	}
	// The issuer's burst of 2 is spent (the refused request took no
	// token): 429 with the wait in seconds; another issuer is not limited.
	rec = f.do("POST", "/api/v1/certificates", tok, vaccinationBody)
	if rec.Code != 201 {
		t.Fatalf("second of the burst: %d", rec.Code)
	}
	rec = f.do("POST", "/api/v1/certificates", tok, vaccinationBody)
	ra, _ := strconv.Atoi(rec.Header().Get("Retry-After"))
	if rec.Code != http.StatusTooManyRequests || ra < 1 {
		t.Errorf("over the rate: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := f.do("POST", "/api/v1/certificates", f.token("apotheke-2"), vaccinationBody); rec.Code != 201 {
		t.Errorf("other issuer: %d", rec.Code)
	}
	// Refusals show in the metrics.
	rec = f.do("GET", "/metrics", "", "")
	for _, want := range []string{`greenpass_issuance_refused_total{reason="busy"} 1`, `greenpass_issuance_refused_total{reason="rate"} 1`,
		"greenpass_issuance_limit 1", "greenpass_issuance_retry_after_max_seconds 3", "go_sched_latencies_seconds_bucket"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept, want string
		ok           bool
	}{
		{"", "application/json", true},
		{"*/*", "application/json", true},
		{"image/*", "image/png", true},
		{"text/html, application/pdf", "application/pdf", true},
		{"application/pdf;q=0.5, image/png", "image/png", true},
		{"text/plain;q=0.9, application/json;q=0.9", "application/json", true},
		{"application/json;q=0", "", false},
		{"text/html", "", false},
		{";;;", "", false},
	}
	for _, tt := range tests {
		got, ok := negotiate(tt.accept, issueFormats)
		if got != tt.want || ok != tt.ok {
			t.Errorf("negotiate(%q) = %q %v, want %q %v", tt.accept, got, ok, tt.want, tt.ok)
		}
	}
}
