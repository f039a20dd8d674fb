package verifier

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"image"
	"image/draw"
	"image/png"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// qrImage renders text as a QR code with px pixels per module.
func qrImage(t *testing.T, text string, px int) image.Image {
	t.Helper()
	w := qrcode.NewQRCodeWriter()
	probe, err := w.Encode(text, gozxing.BarcodeFormat_QR_CODE, 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := w.Encode(text, gozxing.BarcodeFormat_QR_CODE, probe.GetWidth()*px, probe.GetWidth()*px, nil)
	if err != nil {
		t.Fatal(err)
	}
	return bm
}

// sideBySide pastes images left to right on white.
func sideBySide(imgs ...image.Image) []byte {
	w, h := 0, 0
	for _, im := range imgs {
		w += im.Bounds().Dx()
		h = max(h, im.Bounds().Dy())
	}
	canvas := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	x := 0
	for _, im := range imgs {
		draw.Draw(canvas, im.Bounds().Add(image.Pt(x, 0)), im, im.Bounds().Min, draw.Src)
		x += im.Bounds().Dx()
	}
	var buf bytes.Buffer
	png.Encode(&buf, canvas)
	return buf.Bytes()
}

func TestReadQRChoosesTheDCC(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	dcc1 := issueText(t, key, dsc.KID, vaccination(), issued, expires)
	dcc2 := issueText(t, key, dsc.KID, testCert(), issued, expires)
	menu := "https://example.org/menu"
	tests := []struct {
		name string
		img  []byte
		want string
		err  error
	}{
		{"one DCC", sideBySide(qrImage(t, dcc1, 4)), dcc1, nil},
		{"a DCC beside a menu link", sideBySide(qrImage(t, menu, 4), qrImage(t, dcc1, 4)), dcc1, nil},
		{"only a menu link", sideBySide(qrImage(t, menu, 4)), menu, nil},
		{"two DCCs", sideBySide(qrImage(t, dcc1, 4), qrImage(t, dcc2, 4)), "", ErrMultipleDCCs},
		{"the same DCC twice", sideBySide(qrImage(t, dcc1, 4), qrImage(t, dcc1, 4)), dcc1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadQR(context.Background(), tt.img)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("ReadQR = %.30q, %v; want %.30q, %v", got, err, tt.want, tt.err)
			}
		})
	}
	r := New(nil).VerifyImage(context.Background(), tests[3].img)
	if r.Stages.Get(StagePicture) != Fail || r.Reasons[0].Code != CodeMultipleDCCs {
		t.Fatalf("two DCCs: picture %s %v, want MULTIPLE_DCCS", r.Stages.Get(StagePicture), r.Reasons)
	}
	r = New(nil).VerifyImage(context.Background(), tests[2].img)
	if r.Stages.Get(StagePicture) != Pass || r.Stages.Get(StagePrefix) != Fail {
		t.Fatalf("menu link: stages %v, want picture pass and prefix fail", r.Stages)
	}
}

func TestScanQRRespectsBudgetAndContext(t *testing.T) {
	// Noise with no code in it runs every pass unless stopped.
	noise := image.NewGray(image.Rect(0, 0, 800, 800))
	rand.Read(noise.Pix)
	start := time.Now()
	if _, err := scanQR(context.Background(), noise, time.Millisecond, scanPhoto); !errors.Is(err, ErrQRNotFound) {
		t.Fatalf("error = %v, want ErrQRNotFound", err)
	}
	budgeted := time.Since(start)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := scanQR(ctx, noise, time.Minute, scanPhoto); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: error = %v, want context.Canceled", err)
	}
	start = time.Now()
	scanQR(context.Background(), noise, time.Minute, scanPhoto)
	if full := time.Since(start); budgeted > full {
		t.Errorf("a 1 ms budget took %v, longer than all passes (%v)", budgeted, full)
	}
}

func TestToGrayCompositesTransparencyOnWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Pix = []byte{0, 0, 0, 0, 0, 0, 0, 255} // transparent black, opaque black
	g := toGray(img)
	if g.pix[0] != 255 || g.pix[1] != 0 {
		t.Fatalf("gray = %v, want [255 0]", g.pix)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 1))
	rgba.Pix = []byte{0, 0, 0, 0, 255, 255, 255, 255}
	if g := toGray(rgba); g.pix[0] != 255 || g.pix[1] != 255 {
		t.Fatalf("gray = %v, want [255 255]", g.pix)
	}
}
