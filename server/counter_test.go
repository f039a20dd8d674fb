package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/valueset"
)

func TestCounterAPI(t *testing.T) {
	f := newIssueFixture(t, nil, nil)
	v, _ := auth.NewVerifier(f.set.IssuerToken.Public(), nil)
	f.srv.MountCounter(Counter{Tokens: auth.NewCache(v, 0, nil), ValueSets: valueset.Builtin(), DefaultIssuerName: "greenpass"})
	testOnly := f.token("testzentrum-1", auth.RoleIssueTest)
	unnamed, err := auth.Sign(f.set.IssuerToken, auth.Identity{Subject: "p-2", Country: "AT", Roles: []auth.Role{auth.RoleIssueVaccination}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	rec := f.do("GET", "/api/v1/issuer", testOnly, "")
	var p struct {
		ID, Name, Country string
		Types             []string
		ValueSets         map[string]map[string]string
		Products          map[string]struct{ MA, VP string }
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
		t.Fatalf("profile: %d %s", rec.Code, rec.Body)
	}
	if p.ID != "testzentrum-1" || p.Name != "Apotheke" || p.Country != "DE" || strings.Join(p.Types, ",") != "t" {
		t.Fatalf("profile: %+v", p)
	}
	if p.ValueSets[valueset.Product]["EU/1/20/1528"] != "Comirnaty" || p.ValueSets[valueset.Country]["DE"] == "" ||
		p.ValueSets[valueset.Product]["NVX-CoV2373"] != "" || p.Products["EU/1/20/1528"].MA != "ORG-100030215" {
		t.Fatalf("value sets (active codes only) and products: %v %v", p.ValueSets[valueset.Product], p.Products)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("profile Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
	rec = f.do("GET", "/api/v1/issuer", unnamed, "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"name":"greenpass"`) || !strings.Contains(rec.Body.String(), `"country":"AT"`) {
		t.Fatalf("unnamed issuer: %d %s", rec.Code, rec.Body)
	}

	rec = f.do("POST", "/api/v1/issuer/names", testOnly, `{"fn":"Musterfrau-Gößinger","gn":"Gabriele Łucja"}`)
	var names struct{ FNT, GNT string }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &names) != nil || names.FNT != "MUSTERFRAU<GOESSINGER" || names.GNT != "GABRIELE<LUCJA" {
		t.Fatalf("names: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name, token, body string
		status            int
	}{
		{"no token", "", `{"fn":"A"}`, http.StatusUnauthorized},
		{"not JSON", testOnly, `{"fn":`, http.StatusBadRequest},
		{"too large", testOnly, `{"fn":"` + strings.Repeat("a", 20000) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		if rec := f.do("POST", "/api/v1/issuer/names", tc.token, tc.body); rec.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.status)
		}
	}

	// The page: served with a strict policy, no token needed to load it.
	rec = f.do("GET", "/counter", "", "")
	csp := rec.Header().Get("Content-Security-Policy")
	if rec.Code != http.StatusOK || !strings.HasPrefix(csp, "default-src 'self'") || !strings.Contains(rec.Body.String(), "<!doctype html>") {
		t.Fatalf("/counter: %d CSP %q", rec.Code, csp)
	}
}
