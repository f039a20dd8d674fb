package server

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

type fixedView struct {
	v   atomic.Pointer[trustlist.View]
	rev atomic.Pointer[trustlist.RevocationView]
}

func (f *fixedView) Current() *trustlist.View               { return f.v.Load() }
func (f *fixedView) Revocations() *trustlist.RevocationView { return f.rev.Load() }

// trustListView renders a snapshot of n DSCs per country (DE, AT) and a
// CSCA each.
func trustListView(t *testing.T, n int) (*trustlist.View, *ecdsa.PrivateKey) {
	t.Helper()
	gw, err := fakegateway.New(time.Now(), "DE", "AT")
	if err != nil {
		t.Fatal(err)
	}
	var entries []trustlist.SnapshotEntry
	for _, cc := range []string{"DE", "AT"} {
		for range n {
			e, err := gw.AddDSC(fakegateway.DSC{Country: cc})
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, trustlist.SnapshotEntry{Entry: e})
		}
		entries = append(entries, trustlist.SnapshotEntry{Entry: gw.Entries(trustlist.TypeCSCA, cc)[0]})
	}
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, errs := trustlist.NewView(trustlist.NewSnapshot(nil, time.Now(), "test", entries), "h", signer)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return v, signer
}

func get(t *testing.T, h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTrustListEndpoints(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	tl := &fixedView{}
	s.MountTrustLists(tl)
	h := s.Handler()
	if rec := get(t, h, "/trustList/DSC/"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before publication: %d", rec.Code)
	}
	v, signer := trustListView(t, 20)
	tl.v.Store(v)

	// CovPass list: signed, ETag/304, gzip.
	rec := get(t, h, "/trustList/DSC/")
	doc, err := trustlist.ParseDocument(rec.Body.Bytes())
	if rec.Code != 200 || err != nil || doc.Verify(signer.Public()) != nil || len(doc.Entries) != 40 {
		t.Fatalf("/trustList/DSC/ = %d, %v, %d entries", rec.Code, err, len(doc.Entries))
	}
	etag := rec.Header().Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) || rec.Header().Get("Last-Modified") == "" || rec.Header().Get("Content-Length") != strconv.Itoa(rec.Body.Len()) {
		t.Fatalf("headers %v", rec.Header())
	}
	for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `"other", ` + etag, "*"} {
		if rec := get(t, h, "/trustList/DSC/", "If-None-Match", inm); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d", inm, rec.Code)
		}
	}
	if rec := get(t, h, "/trustList/DSC/", "If-None-Match", `W/"stale"`); rec.Code != 200 {
		t.Errorf("stale ETag: %d", rec.Code)
	}
	rec = get(t, h, "/trustList/DSC/", "Accept-Encoding", "br, gzip")
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Header().Get("ETag") != etag {
		t.Fatalf("gzip: %v", rec.Header())
	}
	zr, _ := gzip.NewReader(rec.Body)
	plain, _ := io.ReadAll(zr)
	if doc, err := trustlist.ParseDocument(plain); err != nil || doc.Verify(signer.Public()) != nil {
		t.Fatalf("gzip body: %v", err)
	}
	if rec := get(t, h, "/trustList/DSC/", "Accept-Encoding", "gzip;q=0"); rec.Header().Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}

	// The signing key.
	rec = get(t, h, "/trustList/signing-key")
	if pub, err := trustlist.ParsePublicKey(rec.Body.Bytes()); err != nil || !signer.PublicKey.Equal(pub) {
		t.Fatalf("signing key: %v", err)
	}

	// Gateway lists with X-SIGNATURE; bad type or country → 400.
	for path, want := range map[string]int{"/trustList": 42, "/trustList/DSC": 40, "/trustList/DSC/DE": 20, "/trustList/CSCA/AT": 1, "/trustList/UPLOAD": 0} {
		rec := get(t, h, path)
		var entries []trustlist.Entry
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &entries) != nil || len(entries) != want {
			t.Errorf("%s = %d, %d entries, want %d", path, rec.Code, len(entries), want)
		}
		if err := trustlist.VerifyHeader(signer.Public(), rec.Body.Bytes(), rec.Header().Get("X-SIGNATURE")); err != nil {
			t.Errorf("%s X-SIGNATURE: %v", path, err)
		}
	}
	for _, path := range []string{"/trustList/FOO", "/trustList/DSC/de", "/trustList/DSC/DEU", "/rules/de", "/rules/DEU"} {
		if rec := get(t, h, path); rec.Code != 400 {
			t.Errorf("%s = %d, want 400", path, rec.Code)
		}
	}

	if rec := get(t, h, "/rules/DE"); rec.Code != 200 {
		t.Errorf("/rules/DE = %d", rec.Code)
	}

	// DGCA verifier service: status and paged updates.
	var kids []string
	rec = get(t, h, "/signercertificateStatus")
	if json.Unmarshal(rec.Body.Bytes(), &kids); len(kids) != 40 {
		t.Fatalf("status: %d kids", len(kids))
	}
	seen := map[string]bool{}
	token := ""
	for range 100 {
		rec := get(t, h, "/signercertificateUpdate", "X-RESUME-TOKEN", token)
		if rec.Code == http.StatusNoContent {
			break
		}
		kid := rec.Header().Get("X-KID")
		if rec.Code != 200 || kid == "" || seen[kid] || rec.Header().Get("X-RESUME-TOKEN") == "" {
			t.Fatalf("update after %q: %d %v", token, rec.Code, rec.Header())
		}
		if _, err := trustlist.NewDSC(mustB64(t, rec.Body.String()), ""); err != nil {
			t.Fatalf("update body: %v", err)
		}
		seen[kid] = true
		token = rec.Header().Get("X-RESUME-TOKEN")
	}
	if len(seen) != 40 {
		t.Fatalf("paged %d DSCs, want 40", len(seen))
	}
	if rec := get(t, h, "/signercertificateUpdate", "X-RESUME-TOKEN", "abc"); rec.Code != 400 {
		t.Errorf("bad resume token: %d", rec.Code)
	}

	// Downloads are counted, not logged one by one at info.
	if strings.Contains(logs.String(), `"route":"/trustList/DSC/"`) {
		t.Error("trust-list downloads logged at info")
	}
}

// The documents served before Echo answer exactly as the Echo routes do,
// are counted in the same metrics, and a panic in them is a 500.
func TestTrustListFastPath(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, &logs)
	tl := &fixedView{}
	s.MountTrustLists(tl)
	h := s.Handler()
	v, _ := trustListView(t, 3)
	tl.v.Store(v)
	etag := v.CovPassList().ETag
	for _, path := range []string{"/trustList/DSC/", "/trustList/signing-key", "/signercertificateStatus", "/valuesets", "/countrylist"} {
		for _, hdr := range [][]string{nil, {"Accept-Encoding", "gzip"}, {"If-None-Match", etag}, {"If-None-Match", v.SignerStatus().ETag}} {
			for _, method := range []string{"GET", "HEAD"} {
				req := func() *http.Request {
					r := httptest.NewRequest(method, path, nil)
					if hdr != nil {
						r.Header.Set(hdr[0], hdr[1])
					}
					return r
				}
				fast, viaEcho := httptest.NewRecorder(), httptest.NewRecorder()
				h.ServeHTTP(fast, req())
				s.echo.ServeHTTP(viaEcho, req())
				if fast.Code != viaEcho.Code || !bytes.Equal(fast.Body.Bytes(), viaEcho.Body.Bytes()) || !sameHeaders(fast.Header(), viaEcho.Header()) {
					t.Errorf("%s %s %v: fast %d %v, Echo %d %v", method, path, hdr, fast.Code, fast.Header(), viaEcho.Code, viaEcho.Header())
				}
			}
		}
	}
	head := httptest.NewRecorder()
	h.ServeHTTP(head, httptest.NewRequest("HEAD", "/trustList/DSC/", nil))
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != strconv.Itoa(len(v.CovPassList().Body)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %s", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
	for range 3 {
		get(t, h, "/signercertificateStatus", "If-None-Match", v.SignerStatus().ETag)
	}
	metrics := get(t, h, "/metrics").Body.String()
	for _, want := range []string{
		`greenpass_http_requests_total{method="GET",route="/signercertificateStatus",status="304"} 5`,
		`greenpass_http_request_duration_seconds_count{class="3xx",method="GET",route="/signercertificateStatus"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	s2 := newTestServer(t, &logs)
	s2.MountTrustLists(panicky{})
	rec := get(t, s2.Handler(), "/trustList/DSC/")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal error") || !strings.Contains(logs.String(), "panic in handler") {
		t.Errorf("panic: %d %s", rec.Code, rec.Body)
	}
}

type panicky struct{}

func (panicky) Current() *trustlist.View               { panic("broken") }
func (panicky) Revocations() *trustlist.RevocationView { panic("broken") }

// sameHeaders compares two responses' headers, apart from the request ID
// Echo's routes may add.
func sameHeaders(a, b http.Header) bool {
	a, b = a.Clone(), b.Clone()
	a.Del(echo.HeaderXRequestID)
	b.Del(echo.HeaderXRequestID)
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	der, err := trustlist.ParseCertificate([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return der
}
