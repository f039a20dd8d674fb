package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// A picture with two certificates is refused, one with another code is
// read and fails at the prefix: the verifier says what the picture holds.
func TestVerifyImageSaysWhatThePictureHolds(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	dcc1 := issueText(t, key, dsc.KID, vaccination(), issued, expires)
	dcc2 := issueText(t, key, dsc.KID, testCert(), issued, expires)
	menu := "https://example.org/menu"
	two := qrtest.SideBySide(qrtest.Image(t, dcc1, 4), qrtest.Image(t, dcc2, 4))
	menuOnly := qrtest.SideBySide(qrtest.Image(t, menu, 4))
	beside := qrtest.SideBySide(qrtest.Image(t, menu, 4), qrtest.Image(t, dcc1, 4))
	if r := New(nil).VerifyImage(context.Background(), beside); r.HC1 != dcc1 {
		t.Fatalf("a DCC beside a menu link: read %.30q", r.HC1)
	}
	r := New(nil).VerifyImage(context.Background(), two)
	if r.Stages.Get(StagePicture) != Fail || r.Reasons[0].Code != CodeMultipleDCCs {
		t.Fatalf("two DCCs: picture %s %v, want MULTIPLE_DCCS", r.Stages.Get(StagePicture), r.Reasons)
	}
	r = New(nil).VerifyImage(context.Background(), menuOnly)
	if r.Stages.Get(StagePicture) != Pass || r.Stages.Get(StagePrefix) != Fail {
		t.Fatalf("menu link: stages %v, want picture pass and prefix fail", r.Stages)
	}
}

// A certificate's PDF verifies like its photo: the issuer's own PDF, a
// document with the code among other images, and the refusals of
// documents that hold no code, two of them, or a decompression bomb.
func TestVerifyPDF(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	dcc1 := issueText(t, key, dsc.KID, vaccination(), issued, expires)
	dcc2 := issueText(t, key, dsc.KID, testCert(), issued, expires)
	issuerPDF, err := render.PDF(render.Document{HC1: dcc1, Certificate: vaccination(), IssuedAt: issued, ExpiresAt: expires, ValueSets: valueset.Builtin()})
	if err != nil {
		t.Fatal(err)
	}
	photo := qrtest.PDFOf(qrtest.Image(t, dcc1, 3))
	logo := qrtest.PDFGray(60, 20, func(x, y int) byte { return byte(x * 4) })
	menu := qrtest.PDFOf(qrtest.Image(t, "https://example.org/menu", 3))
	bomb := qrtest.PDFGray(12_000, 12_000, func(x, y int) byte { return 255 })
	v := New(trustlist.NewList(dsc), WithClock(func() time.Time { return during }))
	tests := []struct {
		name  string
		data  []byte
		valid bool
		code  Code
	}{
		{"greenpass's own PDF", issuerPDF, true, ""},
		{"the code beside a logo and a menu link", qrtest.PDF(logo, menu, photo), true, ""},
		{"a menu link only", qrtest.PDF(logo, menu), false, CodePrefixMissing},
		{"two certificates", qrtest.PDF(photo, qrtest.PDFOf(qrtest.Image(t, dcc2, 3))), false, CodeMultipleDCCs},
		{"no images", qrtest.PDF(), false, CodeQRNotFound},
		{"images without a code", qrtest.PDF(logo), false, CodeQRNotFound},
		{"a decompression bomb", qrtest.PDF(bomb), false, CodeImageTooLarge},
		{"not a PDF behind its header", []byte("%PDF-1.7\nnothing else"), false, CodeImageUnreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !IsPicture(tt.data) {
				t.Fatal("IsPicture: false")
			}
			r := v.VerifyImage(context.Background(), tt.data)
			if r.Valid != tt.valid || (!tt.valid && r.FirstReason().Code != tt.code) {
				t.Fatalf("valid %v, reasons %v; want valid %v %s", r.Valid, r.Reasons, tt.valid, tt.code)
			}
			if tt.valid && r.HC1 != dcc1 {
				t.Fatalf("read %.30q", r.HC1)
			}
		})
	}
}
