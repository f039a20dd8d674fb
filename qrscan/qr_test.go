package qrscan

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
)

// The scanner returns the code the caller accepts: one of them, beside
// other codes, never a guess between two.
func TestScanChoosesTheAcceptedCode(t *testing.T) {
	accept := func(text string) bool { return strings.HasPrefix(text, "HC1:") }
	dcc1, dcc2 := "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", "HC1:6BFOXN%TSMAHN-HWWK2RL99TEZP3Z9M52N651WG"
	menu := "https://example.org/menu"
	img := func(texts ...string) []byte {
		var imgs []image.Image
		for _, text := range texts {
			imgs = append(imgs, qrtest.Image(t, text, 4))
		}
		return qrtest.SideBySide(imgs...)
	}
	tests := []struct {
		name string
		img  []byte
		want string
		err  error
	}{
		{"one code", img(dcc1), dcc1, nil},
		{"a code beside a menu link", img(menu, dcc1), dcc1, nil},
		{"only a menu link", img(menu), menu, nil},
		{"two codes", img(dcc1, dcc2), "", ErrMultiple},
		{"the same code twice", img(dcc1, dcc1), dcc1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []Mode{Photo, Frame} {
				got, err := Read(context.Background(), tt.img, Options{Mode: mode, Accept: accept})
				if !errors.Is(err, tt.err) || got.Text != tt.want {
					t.Fatalf("mode %d: Read = %.30q, %v; want %.30q, %v", mode, got.Text, err, tt.want, tt.err)
				}
			}
		})
	}
	// Without Accept every code is wanted: two codes are two.
	if _, err := Read(context.Background(), tests[1].img, Options{}); !errors.Is(err, ErrMultiple) {
		t.Fatalf("two codes, nil Accept: %v, want ErrMultiple", err)
	}
}

func TestScanQRRespectsBudgetAndContext(t *testing.T) {
	// Noise with no code in it runs every pass unless stopped.
	noise := image.NewGray(image.Rect(0, 0, 800, 800))
	rand.Read(noise.Pix)
	start := time.Now()
	if _, err := Scan(context.Background(), noise, Options{Budget: time.Millisecond}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("error = %v, want ErrNotFound", err)
	}
	budgeted := time.Since(start)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, noise, Options{Budget: time.Minute}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: error = %v, want context.Canceled", err)
	}
	start = time.Now()
	Scan(context.Background(), noise, Options{Budget: time.Minute})
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

// TestToGraySharesOrCopies: a Gray or YCbCr image whose rows lie back to
// back is read in place, any other (a sub-image narrower than its parent)
// copied; either way the pixels are the image's.
func TestToGraySharesOrCopies(t *testing.T) {
	parent := image.NewGray(image.Rect(0, 0, 4, 3))
	for i := range parent.Pix {
		parent.Pix[i] = byte(10 * i)
	}
	ycc := image.NewYCbCr(image.Rect(0, 0, 4, 3), image.YCbCrSubsampleRatio420)
	copy(ycc.Y, parent.Pix)
	for _, tc := range []struct {
		name   string
		img    image.Image
		want   []byte
		shared bool
	}{
		{"gray", parent, parent.Pix, true},
		{"rows 1-2", parent.SubImage(image.Rect(0, 1, 4, 3)), parent.Pix[4:], true},
		{"columns 1-2", parent.SubImage(image.Rect(1, 0, 3, 3)), []byte{10, 20, 50, 60, 90, 100}, false},
		{"ycbcr", ycc, parent.Pix, true},
		{"ycbcr columns 1-2", ycc.SubImage(image.Rect(1, 0, 3, 3)), []byte{10, 20, 50, 60, 90, 100}, false},
	} {
		g := toGray(tc.img)
		if !bytes.Equal(g.pix, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, g.pix, tc.want)
		}
		if shared := &g.pix[0] == &parent.Pix[len(parent.Pix)-len(tc.want)] || &g.pix[0] == &ycc.Y[len(ycc.Y)-len(tc.want)]; shared != tc.shared {
			t.Errorf("%s: shared %v, want %v", tc.name, shared, tc.shared)
		}
	}
}

// TestScanLeavesItsImageAlone: the scan reads the caller's pixels in place
// (toGray) and must never write them: a blurred code that every pass and
// the restorations see, as Gray and as YCbCr.
func TestScanLeavesItsImageAlone(t *testing.T) {
	code, _ := photoOf(t, softText, 20, 2, 2, 10, 60)
	gimg := image.NewGray(image.Rect(0, 0, code.w, code.h))
	copy(gimg.Pix, code.pix)
	ycc := image.NewYCbCr(gimg.Rect, image.YCbCrSubsampleRatio444)
	copy(ycc.Y, code.pix)
	for _, img := range []image.Image{gimg, ycc} {
		Scan(context.Background(), img, Options{Mode: Photo, Budget: time.Hour, Accept: func(string) bool { return false }})
	}
	if !bytes.Equal(gimg.Pix, code.pix) || !bytes.Equal(ycc.Y, code.pix) {
		t.Fatal("the scan changed the image it read")
	}
}

func TestTimeBudget(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want time.Duration
	}{
		{Options{}, DefaultBudget},
		{Options{Mode: Frame}, DefaultFrameBudget},
		{Options{Budget: time.Second, Mode: Frame}, time.Second},
	} {
		if got := tc.opts.TimeBudget(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.opts, got, tc.want)
		}
	}
}
