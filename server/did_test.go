package server

import (
	"crypto/ecdsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/greenpass-dcc/greenpass/didtrust"
)

// The DID documents: each level filters, entries verify under the signer
// document's key, validators give 304, and what is no level is 404.
func TestDIDTrustLists(t *testing.T) {
	v, signer := trustListView(t, 2)
	tl := &fixedView{}
	s := newTestServer(t, nil)
	s.MountDIDTrustLists(DIDTrustLists{Lists: tl, Signer: signer})
	h := s.Handler()
	if rec := get(t, h, "/v2/trustlist/did.json"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before a list: %d", rec.Code)
	}
	tl.v.Store(v)

	rec := get(t, h, "/v2/signer/did.json")
	key, err := didtrust.PublicKeyOf(rec.Body.Bytes())
	if rec.Code != 200 || err != nil || !key.Equal(signer.Public().(*ecdsa.PublicKey)) {
		t.Fatalf("signer document: %d %v", rec.Code, err)
	}
	base := "did:web:example.com:v2:trustlist"
	for _, tc := range []struct {
		path, id    string
		sca, dsc    int
		participant string
	}{
		{"/v2/trustlist/did.json", base, 2, 4, ""},
		{"/v2/trustlist/-/-/SCA/did.json", base + ":-:-:SCA", 2, 0, ""},
		{"/v2/trustlist/DCC/-/DSC/did.json", base + ":DCC:-:DSC", 0, 4, ""},
		{"/v2/trustlist/-/AUT/did.json", base + ":-:AUT", 1, 2, "AUT"},
		{"/v2/trustlist/DCC/DEU/DSC/did.json", base + ":DCC:DEU:DSC", 0, 2, "DEU"},
		{"/v2/trustlist/-/FRA/did.json", base + ":-:FRA", 0, 0, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := get(t, h, tc.path)
			if rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			listed, err := didtrust.Open(rec.Body.Bytes(), key, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, e := range listed.Entries {
				count[e.KeyUsage]++
				if tc.participant != "" && e.Participant != tc.participant {
					t.Errorf("entry of %s in %s", e.Participant, tc.path)
				}
				if e.KeyUsage == didtrust.UsageDSC && (len(e.Chain) != 2 || e.Chain[0].CheckSignatureFrom(e.Chain[1]) != nil) {
					t.Errorf("a DSC without its CSCA in x5c")
				}
			}
			if count[didtrust.UsageSCA] != tc.sca || count[didtrust.UsageDSC] != tc.dsc {
				t.Fatalf("%v, want %d SCAs and %d DSCs", count, tc.sca, tc.dsc)
			}
			var doc struct{ Controller string }
			json.Unmarshal(rec.Body.Bytes(), &doc)
			if up := tc.id[:max(strings.LastIndex(tc.id, ":"), 0)]; tc.id != base && doc.Controller != up {
				t.Errorf("controller %s, want %s", doc.Controller, up)
			}
			etag := rec.Header().Get("ETag")
			if again := get(t, h, tc.path, "If-None-Match", etag); etag == "" || again.Code != http.StatusNotModified {
				t.Errorf("If-None-Match %q: %d", etag, again.Code)
			}
		})
	}
	for _, p := range []string{"/v2/trustlist/IPS/did.json", "/v2/trustlist/-/DE/did.json", "/v2/trustlist/-/XXA/did.json",
		"/v2/trustlist/-/-/UPLOAD/did.json", "/v2/trustlist/-/deu/did.json"} {
		if rec := get(t, h, p); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
	}
}

// Without a configured host the request's names the documents, for a few
// hosts only: an attacker cycling Host headers cannot make the server
// sign document after document.
func TestDIDTrustListHosts(t *testing.T) {
	v, signer := trustListView(t, 1)
	tl := &fixedView{}
	tl.v.Store(v)
	s := newTestServer(t, nil)
	s.MountDIDTrustLists(DIDTrustLists{Lists: tl, Signer: signer})
	h := s.Handler()
	for i := range maxDIDHosts + 2 {
		req, _ := http.NewRequest("GET", "/v2/trustlist/did.json", nil)
		req.Host = "host" + strconv.Itoa(i) + ".example"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if want := map[bool]int{true: 200, false: http.StatusMisdirectedRequest}[i < maxDIDHosts]; rec.Code != want {
			t.Fatalf("host %d: %d, want %d", i, rec.Code, want)
		}
	}
	s2 := newTestServer(t, nil)
	s2.MountDIDTrustLists(DIDTrustLists{Lists: tl, Signer: signer, Host: "trust.example:8443"})
	rec := get(t, s2.Handler(), "/v2/trustlist/did.json")
	var doc struct{ ID string }
	if json.Unmarshal(rec.Body.Bytes(), &doc) != nil || doc.ID != "did:web:trust.example%3A8443:v2:trustlist" {
		t.Fatalf("configured host: %s", rec.Body)
	}
}
