package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// BenchmarkCameraFrame verifies a 1280×720 JPEG camera frame with a DCC,
// as the checkpoint API receives them: decode, find and read the code,
// verify.
func BenchmarkCameraFrame(b *testing.B) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(b, key, nil, dscFrom, dscTo)
	text := issueText(b, key, dsc.KID, vaccination(), issued, expires)
	frame, _, err := render.CameraFrame(text, 1280, 720, 1)
	if err != nil {
		b.Fatal(err)
	}
	v := New(trustlist.NewList(dsc), WithClock(func() time.Time { return during }))
	if r := v.VerifyImage(context.Background(), frame); !r.Valid {
		b.Fatalf("frame not valid: %+v", r.Reasons)
	}
	b.ReportAllocs()
	for b.Loop() {
		v.VerifyImage(context.Background(), frame)
	}
}
