package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"image"
	"image/jpeg"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/internal/qrtest"
	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// staticVerifier verifies against one fixed trust list and counts the
// images it was given as live frames.
type staticVerifier struct {
	v      *verifier.Verifier
	frames *atomic.Int32
}

func (s staticVerifier) VerifyImage(ctx context.Context, image []byte, _ string) *verifier.Result {
	return s.v.VerifyImage(ctx, image)
}
func (s staticVerifier) VerifyFrame(ctx context.Context, image []byte, _ string) *verifier.Result {
	s.frames.Add(1)
	return s.v.VerifyFrame(ctx, image)
}
func (s staticVerifier) VerifyText(ctx context.Context, text, _ string) *verifier.Result {
	return s.v.VerifyText(ctx, text)
}

// checkpointFixture signs a vaccination certificate with a fresh DSC and
// returns its text and a verifier that trusts the DSC.
func checkpointFixture(t *testing.T) (string, staticVerifier) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "DSC", Country: []string{"DE"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	dsc, err := trustlist.NewDSC(der, "DE")
	if err != nil {
		t.Fatal(err)
	}
	cert := &hcert.Certificate{Version: "1.3.0", Name: hcert.Name{Family: "Muster", FamilyStandard: "MUSTER", Given: "Max", GivenStandard: "MAX"},
		DateOfBirth: "1990-01-01", Vaccinations: []hcert.Vaccination{{Target: "840539006", Vaccine: "1119349007", Product: "EU/1/20/1528",
			Manufacturer: "ORG-100030215", DoseNumber: 2, TotalDoses: 2, Date: "2021-05-29", Country: "DE", Issuer: "RKI", ID: "URN:UVCI:01:DE:X#1"}}}
	msg, err := hcert.Sign(rand.Reader, key, dsc.KID, hcert.Claims{Issuer: "DE", IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}, cert)
	if err != nil {
		t.Fatal(err)
	}
	return hcert.EncodeText(msg), staticVerifier{verifier.New(trustlist.NewList(dsc)), new(atomic.Int32)}
}

func post(t *testing.T, h http.Handler, path, contentType string, body []byte, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestCheckpointAPI(t *testing.T) {
	text, v := checkpointFixture(t)
	s := newTestServer(t, nil)
	s.MountCheckpoint(Checkpoint{Verifier: v, MaxBody: 1 << 20})
	h := s.Handler()
	frame, _, err := render.CameraFrame(text, 1280, 720, 3)
	if err != nil {
		t.Fatal(err)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("image", "frame.jpg")
	fw.Write(frame)
	mw.Close()
	pdf, err := render.PDF(render.Document{HC1: text, Certificate: &hcert.Certificate{Version: "1.3.0"}, IssuedAt: time.Now(), ExpiresAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	var pdfForm bytes.Buffer
	pw := multipart.NewWriter(&pdfForm)
	fw, _ = pw.CreateFormFile("image", "certificate.pdf")
	fw.Write(pdf)
	pw.Close()

	type result struct {
		Valid   bool           `json:"valid"`
		Type    string         `json:"type"`
		Payload map[string]any `json:"payload"`
		Stages  map[string]string
	}
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		wantValid               bool
		wantKeys                string
	}{
		{"JPEG photo", "/api/v1/verify", "image/jpeg", frame, true, "dob nam ver"},
		{"live camera frame", "/api/v1/verify?live=1", "image/jpeg", frame, true, "dob nam ver"},
		{"multipart", "/api/v1/verify", mw.FormDataContentType(), form.Bytes(), true, "dob nam ver"},
		{"the certificate's PDF", "/api/v1/verify", "application/pdf", pdf, true, "dob nam ver"},
		{"the PDF in a form", "/api/v1/verify", pw.FormDataContentType(), pdfForm.Bytes(), true, "dob nam ver"},
		{"HC1 text", "/api/v1/verify", "text/plain; charset=utf-8", []byte(text + "\n"), true, "dob nam ver"},
		{"whole payload on request", "/api/v1/verify?full=1", "text/plain", []byte(text), true, "dob nam v ver"},
		{"tampered text", "/api/v1/verify", "text/plain", []byte(strings.Replace(text, "HC1:6", "HC1:7", 1)), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames := v.frames.Load()
			rec := post(t, h, tc.path, tc.contentType, tc.body)
			var r result
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &r) != nil || r.Valid != tc.wantValid {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if live := strings.Contains(tc.path, "live=1"); (v.frames.Load() > frames) != live {
				t.Fatalf("scanned as a live frame: %v, want %v", v.frames.Load() > frames, live)
			}
			var keys []string
			for k := range r.Payload {
				keys = append(keys, k)
			}
			if got := strings.Join(sortStrings(keys), " "); tc.wantKeys != "" && got != tc.wantKeys {
				t.Fatalf("payload keys %q, want %q", got, tc.wantKeys)
			}
		})
	}
	// A frame without a code is a 200 whose picture stage failed; a menu
	// link is reported as what it is.
	var blank bytes.Buffer
	jpeg.Encode(&blank, image.NewGray(image.Rect(0, 0, 320, 240)), nil)
	rec := post(t, h, "/api/v1/verify", "image/jpeg", blank.Bytes())
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"picture":"fail"`) || !strings.Contains(rec.Body.String(), "QR_NOT_FOUND") {
		t.Fatalf("frame without a code: %d %s", rec.Code, rec.Body)
	}
	link, _, _ := render.CameraFrame("https://example.org/menu", 320, 240, 1)
	rec = post(t, h, "/api/v1/verify", "image/jpeg", link)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "PREFIX_MISSING") || strings.Contains(rec.Body.String(), `"valid":true`) {
		t.Fatalf("frame with a menu link: %d %s", rec.Code, rec.Body)
	}
	// Client mistakes.
	pdfBomb := qrtest.PDF(qrtest.PDFGray(12_000, 12_000, func(x, y int) byte { return 255 }))
	if len(pdfBomb) > 1<<20 {
		t.Fatalf("the bomb is %d bytes", len(pdfBomb))
	}
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		status            int
		message           string
	}{
		{"not an image", "image/png", []byte("hello"), 422, "IMAGE_UNREADABLE"},
		{"empty", "image/jpeg", nil, 422, "IMAGE_UNREADABLE"},
		{"a non-image that sniffs as one", "image/gif", []byte("GIF89a-not-really"), 422, "IMAGE_UNREADABLE"},
		{"a 16-bit decompression bomb", "image/png", qrtest.PNGHeader(6320, 6320, 16, 6, 300_000), 413, "IMAGE_TOO_LARGE"},
		{"pixels that do not decode", "image/png", qrtest.PNGHeader(100, 100, 8, 0, 0), 422, "IMAGE_UNREADABLE"},
		{"a PDF that is not one", "application/pdf", []byte("%PDF-1.7\nhello"), 422, "IMAGE_UNREADABLE"},
		{"a PDF decompression bomb", "application/pdf", pdfBomb, 413, "IMAGE_TOO_LARGE"},
		{"JSON", "application/json", []byte(`{}`), 415, "send an image"},
		{"no content type", "", []byte(`x`), 415, "send an image"},
		{"too large", "image/jpeg", make([]byte, 2<<20), 413, "larger than"},
		{"form without image", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x--\r\n"), 400, "no field image"},
		{"binary as text", "text/plain", []byte{0xff, 0xfe, 0x00}, 400, "not an HC1"},
	} {
		rec := post(t, h, "/api/v1/verify", tc.contentType, tc.body)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.message) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, rec.Code, rec.Body, tc.status, tc.message)
		}
		if id := rec.Header().Get("X-Request-Id"); id == "" || !strings.Contains(rec.Body.String(), `"request_id":"`+id+`"`) {
			t.Errorf("%s: no request ID in %v %s", tc.name, rec.Header(), rec.Body)
		}
	}
	// The page.
	page := get(t, h, "/check")
	if page.Code != 200 || !strings.Contains(page.Body.String(), `<script src="/check/check.js">`) ||
		!strings.Contains(page.Header().Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("/check: %d %v", page.Code, page.Header())
	}
	for _, asset := range []string{"/check/check.js", "/check/check.css"} {
		if rec := get(t, h, asset); rec.Code != 200 || rec.Body.Len() < 100 {
			t.Errorf("%s: %d", asset, rec.Code)
		}
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

type verifyTokens struct{}

func (verifyTokens) Verify(token string) (*auth.Identity, error) {
	switch token {
	case "checkpoint":
		return &auth.Identity{Subject: "door", Roles: []auth.Role{auth.RoleVerify}}, nil
	case "pharmacy":
		return &auth.Identity{Subject: "pharmacy", Roles: []auth.Role{auth.RoleIssueVaccination}}, nil
	case "operator":
		return &auth.Identity{Subject: "operator", Roles: []auth.Role{auth.RoleAdmin}}, nil
	case "rogue":
		return &auth.Identity{Subject: "rogue", Roles: []auth.Role{auth.RoleIssueTest}}, nil
	}
	return nil, auth.ErrUnauthorized
}

// suspendedSet is a SuspensionChecker over a fixed set of issuer ids.
type suspendedSet map[string]bool

func (s suspendedSet) Suspended(id string) bool { return s[id] }

func TestCheckpointAccessControl(t *testing.T) {
	text, v := checkpointFixture(t)
	s := newTestServer(t, nil)
	s.MountCheckpoint(Checkpoint{Verifier: v, Key: "a-long-shared-key-123", Tokens: verifyTokens{}, Suspensions: suspendedSet{"rogue": true}})
	h := s.Handler()
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"nothing", nil, 401},
		{"wrong key", []string{"X-Checkpoint-Key", "guess"}, 401},
		{"key", []string{"X-Checkpoint-Key", "a-long-shared-key-123"}, 200},
		{"verify token", []string{"Authorization", "Bearer checkpoint"}, 200},
		{"issuer token: the counter reads a previous certificate", []string{"Authorization", "Bearer pharmacy"}, 200},
		{"token with neither verify nor issue roles", []string{"Authorization", "Bearer operator"}, 401},
		{"a suspended issuer's token", []string{"Authorization", "Bearer rogue"}, 403},
	} {
		if rec := post(t, h, "/api/v1/verify", "text/plain", []byte(text), tc.headers...); rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.status)
		}
	}
	// The page itself stays reachable: it asks for the key.
	if rec := get(t, h, "/check"); rec.Code != 200 {
		t.Fatalf("/check: %d", rec.Code)
	}
}
