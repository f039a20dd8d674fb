package verifier

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"image"
	"image/jpeg"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// BenchmarkCameraFrame verifies 1280×720 JPEG camera frames as the
// checkpoint API receives them (decode, find and read the code, verify),
// with the checkpoint's scan budget: one showing a DCC, one showing another
// QR code, one showing none — most of a live camera's frames. Each is
// scanned as a photo (VerifyImage) and as a live frame (VerifyFrame).
func BenchmarkCameraFrame(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(b, key, nil, dscFrom, dscTo)
	dcc, _, err := render.CameraFrame(issueText(b, key, dsc.KID, vaccination(), issued, expires), 1280, 720, 1)
	if err != nil {
		b.Fatal(err)
	}
	other, _, err := render.CameraFrame("https://example.org/menu", 1280, 720, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		frame []byte
		valid bool
	}{
		{"dcc", dcc, true},
		{"other-code", other, false},
		{"no-code", noiseFrame(b, 1280, 720, 4), false},
		{"no-code-noisy", noiseFrame(b, 1280, 720, 15), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := New(trustlist.NewList(dsc), WithClock(func() time.Time { return during }), WithScanBudget(400*time.Millisecond))
			if r := v.VerifyImage(context.Background(), bc.frame); r.Valid != bc.valid {
				b.Fatalf("frame valid = %v, want %v: %+v", r.Valid, bc.valid, r.Reasons)
			}
			if r := v.VerifyFrame(context.Background(), bc.frame); r.Valid != bc.valid {
				b.Fatalf("VerifyFrame: valid = %v, want %v: %+v", r.Valid, bc.valid, r.Reasons)
			}
			b.Run("photo", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					v.VerifyImage(context.Background(), bc.frame)
				}
			})
			b.Run("frame", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					v.VerifyFrame(context.Background(), bc.frame)
				}
			})
		})
	}
}

// noiseFrame is a JPEG frame without any code: a grey ground lit unevenly
// with sensor noise of ±noise levels (the ground of render.CameraFrame at 4;
// 15 is a dim, grainy sensor, the worst case for finder-pattern search).
func noiseFrame(tb testing.TB, w, h, noise int) []byte {
	tb.Helper()
	g := image.NewGray(image.Rect(0, 0, w, h))
	rng := mrand.New(mrand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			g.Pix[y*g.Stride+x] = uint8(150 - 40*(x+y)/(w+h) + rng.IntN(2*noise+1) - noise)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
