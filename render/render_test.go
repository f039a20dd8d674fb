package render

import (
	"bytes"
	"context"
	"crypto/rand"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/qrscan"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// sampleHC1 is text of a real certificate's length and alphabet.
func sampleHC1(t testing.TB) string {
	b := make([]byte, 330)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hcert.Prefix + hcert.EncodeBase45(b)
}

func TestPNGRoundTrip(t *testing.T) {
	text := sampleHC1(t)
	data, err := PNG(text, 4)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Encode(text)
	if got, want := img.Bounds().Dx(), (m.Size+2*QuietZone)*4; got != want {
		t.Errorf("width %d px, want %d (symbol plus quiet zone)", got, want)
	}
	found, err := qrscan.Read(context.Background(), data, qrscan.Options{Accept: hcert.IsDCCText})
	if got := found.Text; err != nil || got != text {
		t.Fatalf("read back: %v (%d chars, want %d)", err, len(got), len(text))
	}
	if zbar := zbarRead(t, data); zbar != "" && zbar != text {
		t.Errorf("zbarimg read something else")
	}
	if _, err := PNG(text, 0); err == nil {
		t.Error("scale 0 accepted")
	}
}

// The PDF rasterised at 150 dpi still scans: with ghostscript and zbarimg
// when the machine has them, and always with our own reader on a
// rendering of the same geometry.
func TestPDF(t *testing.T) {
	text := sampleHC1(t)
	doc := Document{
		HC1: text,
		Certificate: &hcert.Certificate{Version: "1.3.0", Name: hcert.Name{Family: "Иванов", FamilyStandard: "IVANOV", Given: "Пётр", GivenStandard: "PETR"},
			DateOfBirth: "1980",
			Tests: []hcert.Test{{Target: "840539006", TestType: "LP217198-3", Device: "1232", SampledAt: "2026-11-23T09:35:00+02:00",
				Result: "260415000", Centre: "Testzentrum am Markt", Country: "DE", Issuer: "Apotheke", ID: "URN:UVCI:01:DE:X/Y#Z"}}},
		IssuedAt:  time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		ExpiresAt: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		ValueSets: valueset.Builtin(),
	}
	pdf, err := PDF(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:8])
	}
	gs, err1 := exec.LookPath("gs")
	_, err2 := exec.LookPath("zbarimg")
	if err1 != nil || err2 != nil {
		t.Skip("ghostscript or zbarimg not installed; PDF scan check skipped")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "c.pdf"), filepath.Join(dir, "c.png")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", "-r150", "-o", out, in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gs: %v\n%s", err, b)
	}
	raster, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := zbarRead(t, raster); got != text {
		t.Errorf("zbarimg read %d chars from the 150-dpi PDF, want the %d-char text", len(got), len(text))
	}
	if found, err := qrscan.Read(context.Background(), raster, qrscan.Options{Accept: hcert.IsDCCText}); err != nil || found.Text != text {
		t.Errorf("our reader on the 150-dpi PDF: %v", err)
	}
	if os.Getenv("GREENPASS_KEEP_ARTEFACTS") != "" {
		os.WriteFile("testdata-certificate.pdf", pdf, 0o644)
	}
}

func TestZoned(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-23T09:35:00+02:00": "2026-11-23 09:35 (UTC+02:00)",
		"2026-11-23T07:35:00Z":      "2026-11-23 07:35 (UTC)",
		"2026-11-23T09:35:00-0500":  "2026-11-23 09:35 (UTC-05:00)",
		"garbage":                   "garbage",
	} {
		if got := zoned(in); got != want {
			t.Errorf("zoned(%q) = %q, want %q", in, got, want)
		}
	}
}

// zbarRead decodes a PNG with zbarimg; "" when zbarimg is not installed.
func zbarRead(t *testing.T, data []byte) string {
	t.Helper()
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		return ""
	}
	f := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", f).Output()
	if err != nil {
		t.Fatalf("zbarimg found no code: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}
