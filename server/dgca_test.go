package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// The rest of the DGCA verifier service, as the reference answers it:
// the delta since If-Modified-Since, the lookup of DSCs by kid (removed
// ones too) and the trusted issuers; over two snapshots, a day apart, in
// which one DSC came and one went.
func TestDGCAVerifierServiceDeltaAndLookup(t *testing.T) {
	gw, err := fakegateway.New(time.Now(), "DE", "AT")
	if err != nil {
		t.Fatal(err)
	}
	var first []trustlist.SnapshotEntry
	for _, cc := range []string{"DE", "DE", "AT"} {
		e, err := gw.AddDSC(fakegateway.DSC{Country: cc})
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, trustlist.SnapshotEntry{Entry: e})
	}
	day1 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	snap1 := trustlist.NewSnapshot(nil, day1, "test", first)
	added, err := gw.AddDSC(fakegateway.DSC{Country: "AT"})
	if err != nil {
		t.Fatal(err)
	}
	gone := first[0].Entry // a DE DSC leaves
	second := append(append([]trustlist.SnapshotEntry(nil), first[1:]...), trustlist.SnapshotEntry{Entry: added})
	snap2 := trustlist.NewSnapshot(snap1, day2, "test", second)
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, errs := trustlist.NewView(snap2, "h2", signer)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tl := &fixedView{}
	tl.v.Store(v)
	s := newTestServer(t, nil)
	s.MountTrustLists(tl)
	h := s.Handler()

	type delta struct{ Updated, Deleted []string }
	getDelta := func(since string) (int, delta, *httptest.ResponseRecorder) {
		t.Helper()
		var headers []string
		if since != "" {
			headers = []string{"If-Modified-Since", since}
		}
		rec := get(t, h, "/signercertificateStatus/delta", headers...)
		var d delta
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || d.Updated == nil || d.Deleted == nil {
				t.Fatalf("delta body %s: %v", rec.Body, err)
			}
		}
		return rec.Code, d, rec
	}
	kids := func(es ...trustlist.SnapshotEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.KID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s []string) []string { slices.Sort(s); return s }

	code, d, rec := getDelta("")
	if code != 200 || !slices.Equal(sorted(d.Updated), kids(second...)) || !slices.Equal(d.Deleted, []string{gone.KID}) ||
		rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("delta without a point: %d %s", code, rec.Body)
	}
	// Since the first day (RFC 3339 and an HTTP date alike): what came
	// and went on the second.
	for _, since := range []string{day1.Format(time.RFC3339), day1.Format(http.TimeFormat)} {
		if code, d, rec = getDelta(since); code != 200 || !slices.Equal(d.Updated, []string{added.KID}) || !slices.Equal(d.Deleted, []string{gone.KID}) {
			t.Fatalf("delta since %s: %d %s", since, code, rec.Body)
		}
	}
	if code, d, rec = getDelta(day2.Format(time.RFC3339)); code != 200 || len(d.Updated)+len(d.Deleted) != 0 {
		t.Fatalf("delta since the second day: %d %s", code, rec.Body)
	}
	if code, _, rec = getDelta("NotValid"); code != http.StatusBadRequest || rec.Body.String() != "Can not parse if-modified-since header" {
		t.Fatalf("bad If-Modified-Since: %d %q", code, rec.Body)
	}
	_, _, rec = getDelta("")
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("delta without ETag")
	}
	if rec := get(t, h, "/signercertificateStatus/delta", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Fatalf("delta revalidation: %d", rec.Code)
	}

	// Lookup by kid: by country, the removed DSC too, unknown kids left out.
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/signercertificateUpdate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec = post(`["` + gone.KID + `","` + added.KID + `","NotAvailable="]`)
	var found map[string][]struct{ KID, RawData string }
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &found) != nil || len(found["DE"]) != 1 || found["DE"][0].KID != gone.KID ||
		found["DE"][0].RawData != gone.RawData || len(found["AT"]) != 1 || found["AT"][0].KID != added.KID {
		t.Fatalf("lookup: %d %s", rec.Code, rec.Body)
	}
	if rec = post(`["NotAvailable="]`); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "{}" {
		t.Fatalf("lookup of an unknown kid: %d %s", rec.Code, rec.Body)
	}
	for _, bad := range []string{`{"kid":1}`, `[`, `["` + strings.Repeat(`a","`, 10_001) + `a"]`} {
		if rec = post(bad); rec.Code != http.StatusBadRequest {
			t.Errorf("lookup body %.20q: %d, want 400", bad, rec.Code)
		}
	}
	if rec = post(`["` + strings.Repeat("a", 2<<20) + `"]`); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB lookup body: %d, want 413", rec.Code)
	}

	// Trusted issuers: none synced, an empty signed list with an ETag.
	rec = get(t, h, "/trustedissuers")
	if rec.Code != 200 || rec.Body.String() != "[]" || rec.Header().Get("ETag") == "" || rec.Header().Get("X-Signature") == "" {
		t.Fatalf("trusted issuers: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := get(t, h, "/trustedissuers", "If-None-Match", rec.Header().Get("ETag")); rec.Code != http.StatusNotModified {
		t.Fatalf("trusted issuers revalidation: %d", rec.Code)
	}
}
