package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
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
