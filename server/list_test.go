package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// GET /api/v1/certificates lists the caller's own certificates of a
// window, paged; another issuer sees none of them, bad parameters are 400.
func TestListOwnCertificates(t *testing.T) {
	f := newIssueFixture(t, nil, nil)
	mine, theirs := f.token("apotheke-1"), f.token("apotheke-2")
	var uvcis []string
	for range 3 {
		rec := f.do("POST", "/api/v1/certificates", mine, vaccinationBody)
		if rec.Code != http.StatusCreated {
			t.Fatalf("issue: %d %s", rec.Code, rec.Body)
		}
		uvcis = append(uvcis, rec.Header().Get("X-UVCI"))
	}
	type page struct {
		Certificates []struct {
			UVCI, Issuer, Type string
			IssuedAt           time.Time
		}
		Next string
	}
	get := func(token, query string) (int, page, string) {
		t.Helper()
		rec := f.do("GET", "/api/v1/certificates"+query, token, "")
		var p page
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, p, rec.Body.String()
	}
	code, p, body := get(mine, "")
	if code != http.StatusOK || len(p.Certificates) != 3 || p.Next != "" {
		t.Fatalf("last 24 h: %d %s", code, body)
	}
	// Oldest first; certificates of one millisecond in any order.
	listed := map[string]bool{}
	for i, c := range p.Certificates {
		listed[c.UVCI] = true
		if c.Issuer != "apotheke-1" || c.Type != "v" || i > 0 && c.UVCI[:len(c.UVCI)-18] < p.Certificates[i-1].UVCI[:len(c.UVCI)-18] {
			t.Errorf("certificate %d: %+v", i, c)
		}
	}
	for _, u := range uvcis {
		if !listed[u] {
			t.Errorf("%s not listed", u)
		}
	}
	// Two pages of two and one.
	code, p, body = get(mine, "?limit=2")
	if code != http.StatusOK || len(p.Certificates) != 2 || p.Next == "" {
		t.Fatalf("first page: %d %s", code, body)
	}
	first := map[string]bool{p.Certificates[0].UVCI: true, p.Certificates[1].UVCI: true}
	code, p, body = get(mine, "?limit=2&cursor="+url.QueryEscape(p.Next))
	if code != http.StatusOK || len(p.Certificates) != 1 || first[p.Certificates[0].UVCI] || !listed[p.Certificates[0].UVCI] || p.Next != "" {
		t.Fatalf("second page: %d %s", code, body)
	}
	// Whole UTC days (yesterday too: the test may run across midnight), a
	// window in the past.
	now := time.Now().UTC()
	days := "?from=" + now.Add(-24*time.Hour).Format(time.DateOnly) + "&to=" + now.Format(time.DateOnly)
	if code, p, body = get(mine, days); code != http.StatusOK || len(p.Certificates) != 3 {
		t.Fatalf("yesterday and today: %d %s", code, body)
	}
	if code, p, body = get(mine, "?from=2021-06-01&to=2021-06-02T00:00:00Z"); code != http.StatusOK || len(p.Certificates) != 0 {
		t.Fatalf("2021: %d %s", code, body)
	}
	if code, p, body = get(theirs, ""); code != http.StatusOK || len(p.Certificates) != 0 {
		t.Fatalf("another issuer: %d %s", code, body)
	}
	for _, q := range []string{"?from=yesterday", "?to=2026-13-01", "?limit=0", "?limit=x", "?limit=100000",
		"?from=2026-12-02&to=2026-12-01", "?cursor=" + url.QueryEscape("URN:UVCI:01:DE:APOTHEKE2/0")} {
		if code, _, body := get(mine, q); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q, code, body)
		}
	}
	if code, _, _ := get("", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
}
