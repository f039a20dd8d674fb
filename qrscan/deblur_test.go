package qrscan

import (
	"context"
	"image"
	"math"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// blurredCode draws bits at module pixels per module with a quiet zone of
// six modules (dark 30, light 235), blurs it with a Gaussian of sigma
// pixels computed in floating point and rounds once to 8 bits: the photo
// corpus's blur2 class (ImageMagick's -gaussian-blur 0x2). It returns the
// image and the grid's module-to-pixel transform.
func blurredCode(bits *gozxing.BitMatrix, module, sigma float64) (*gray, *common.PerspectiveTransform) {
	dim := bits.GetWidth()
	quiet := 6 * module
	side := int(math.Ceil(float64(dim)*module + 2*quiet))
	sharp := make([]float64, side*side)
	for y := range side {
		for x := range side {
			mx, my := int(math.Floor((float64(x)+0.5-quiet)/module)), int(math.Floor((float64(y)+0.5-quiet)/module))
			sharp[y*side+x] = 235
			if mx >= 0 && my >= 0 && mx < dim && my < dim && bits.Get(mx, my) {
				sharp[y*side+x] = 30
			}
		}
	}
	r := int(math.Ceil(4 * sigma))
	kernel := make([]float64, 2*r+1)
	var sum float64
	for i := range kernel {
		d := float64(i - r)
		kernel[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += kernel[i]
	}
	pass := func(src []float64, dx, dy int) []float64 {
		out := make([]float64, len(src))
		for y := range side {
			for x := range side {
				var v float64
				for i, k := range kernel {
					xx := min(max(x+(i-r)*dx, 0), side-1)
					yy := min(max(y+(i-r)*dy, 0), side-1)
					v += k * src[yy*side+xx]
				}
				out[y*side+x] = v / sum
			}
		}
		return out
	}
	blurred := pass(pass(sharp, 1, 0), 0, 1)
	g := &gray{pix: make([]byte, side*side), w: side, h: side}
	for i, v := range blurred {
		g.pix[i] = byte(math.Round(v))
	}
	d, q := float64(dim), quiet
	tr := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, d, 0, d, d, 0, d,
		q, q, q+d*module, q, q+d*module, q+d*module, q, q+d*module)
	return g, tr
}

// wantReadBy scans g as a photo, with an Accept that takes only softText,
// and fails the test (the case called name) unless the reading named pass
// reads it.
func wantReadBy(t *testing.T, g *gray, pass, name string) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, g.w, g.h))
	copy(img.Pix, g.pix)
	found, err := Scan(context.Background(), img, Options{Mode: Photo, Budget: time.Hour, Accept: func(s string) bool { return s == softText }})
	switch {
	case err != nil || found.Text != softText:
		t.Errorf("%s: not read: %v", name, err)
	case found.Pass != pass:
		t.Errorf("%s: read by %q: no longer a test of the %s reading", name, found.Pass, pass)
	}
}

// wrongModules is the share of modules whose sign in vals (dark below
// zero) differs from bits.
func wrongModules(bits *gozxing.BitMatrix, vals []float32) float64 {
	dim := bits.GetWidth()
	wrong := 0
	for i, v := range vals {
		if (v < 0) != bits.Get(i%dim, i/dim) {
			wrong++
		}
	}
	return float64(wrong) / float64(len(vals))
}

// TestDeblurRestoresModules: a code of 2 pixels per module under a
// Gaussian blur of σ = 2 pixels, sampled on its true grid. The sharpest
// threshold reading the hard decoder tries gets a fifth of the modules
// wrong; the inverse filter at the right width well under 1 %, and a width
// 10 % off still under 5 %, where erasures correct.
func TestDeblurRestoresModules(t *testing.T) {
	bits := encodeQR(t, softText, 20)
	dim := bits.GetWidth()
	g, tr := blurredCode(bits, 2, 2)

	vals, ok := sampleModules(g, tr, dim)
	if !ok {
		t.Fatal("grid off the image")
	}
	sharpened := newModuleThreshold(vals, dim, 3).bits(4.5)
	hard := 0
	for i := range vals {
		if sharpened.Get(i%dim, i/dim) != bits.Get(i%dim, i/dim) {
			hard++
		}
	}
	share := float64(hard) / float64(len(vals))
	if share < 0.1 {
		t.Fatalf("the sharpened threshold reads %.1f %% wrong: the image is not blurred enough to test anything", 100*share)
	}
	t.Logf("sharpened threshold: %.1f %% of the modules wrong", 100*share)

	d, ok := newDeblurGrid(g, tr, dim, deblurSubsamples)
	if !ok {
		t.Fatal("deblur grid off the image")
	}
	for _, c := range []struct {
		sigma, max float64
	}{{1, 0.01}, {0.9, 0.05}, {1.1, 0.05}} {
		got := wrongModules(bits, d.modules(c.sigma))
		t.Logf("width %.1f: %.2f %% wrong", c.sigma, 100*got)
		if got > c.max {
			t.Errorf("width %.1f: %.2f %% of the modules wrong, want at most %.0f %%", c.sigma, 100*got, 100*c.max)
		}
	}
	if got := wrongModules(bits, d.modules(0.6)); got < 0.1 {
		t.Errorf("width 0.6 (far too narrow) still restores all but %.2f %%: the test cannot tell widths apart", 100*got)
	}
}

// TestScanReadsBlurredCode runs the whole search on blurred codes that
// no pass reads: the deblurring does.
func TestScanReadsBlurredCode(t *testing.T) {
	if testing.Short() {
		t.Skip("every pass: skipped with -short")
	}
	bits := encodeQRLevel(t, softText, 22, decoder.ErrorCorrectionLevel_Q)
	for _, c := range []struct {
		name          string
		module, sigma float64
	}{
		{"2 px per module, σ 2 px", 2, 2},
		{"2.2 px per module, σ 2.2 px", 2.2, 2.2},
		{"2.5 px per module, σ 2.5 px", 2.5, 2.5},
		{"3 px per module, σ 3 px", 3, 3},
		{"2 px per module, σ 2.2 px", 2, 2.2},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, _ := blurredCode(bits, c.module, c.sigma)
			img := image.NewGray(image.Rect(0, 0, g.w, g.h))
			copy(img.Pix, g.pix)
			accept := func(s string) bool { return s == softText }
			found, err := Scan(context.Background(), img, Options{Mode: Photo, Budget: time.Hour, Accept: accept})
			if err != nil || found.Text != softText {
				t.Fatalf("not read: %v", err)
			}
			if found.Pass != "deblurred" {
				t.Errorf("read by %q: no longer a test of the deblurring", found.Pass)
			}
			// Without Accept (a caller that cannot tell a miscorrection)
			// there is no deblurring, and nothing reads the code.
			if found, err := Scan(context.Background(), img, Options{Mode: Photo, Budget: time.Hour}); err == nil {
				t.Errorf("read without Accept by %q", found.Pass)
			}
			// A live frame in which no pass located a code goes on to the
			// next frame, not to the costliest reading.
			if found, err := Scan(context.Background(), img, Options{Mode: Frame, Budget: time.Hour, Accept: accept}); err == nil {
				t.Errorf("frame read by %q", found.Pass)
			}
		})
	}
}

// TestDecodeDeblurredWithErasures: a level-M code of 2.2 pixels per module
// under σ = 2.2 px, on its true grid. No width's restoration decodes hard;
// at the right width the erasures correct it. (The erasure decoding once
// got the bits the failed hard decoding had left unmasked, and read
// nothing.)
func TestDecodeDeblurredWithErasures(t *testing.T) {
	bits := encodeQR(t, softText, 20)
	dim := bits.GetWidth()
	g, tr := blurredCode(bits, 2.2, 2.2)
	d, ok := newDeblurGrid(g, tr, dim, deblurSubsamples)
	if !ok {
		t.Fatal("grid off the image")
	}
	for _, sigma := range deblurWidths {
		signs, _ := gozxing.NewSquareBitMatrix(dim)
		for i, v := range d.modules(sigma) {
			if v < 0 {
				signs.Set(i%dim, i/dim)
			}
		}
		if res, err := decoder.NewDecoder().Decode(signs, nil); err == nil {
			t.Fatalf("width %.2f decodes hard (%d characters): no longer a test of the erasures", sigma, len(res.GetText()))
		}
	}
	accept := func(s string) bool { return s == softText }
	if _, ok := decodeDeblurred(g, tr, dim, accept, func() bool { return false }); !ok {
		t.Fatal("not read")
	}
}

// TestModuleResponse: the shares a module's colour spreads over the
// modules add up to one (the response at frequency 0), and the response is
// that of a symmetric filter, falling with frequency up to the middle.
func TestModuleResponse(t *testing.T) {
	for _, sigma := range deblurWidths {
		resp := moduleResponse(108, sigma)
		if math.Abs(resp[0]-1) > 1e-4 {
			t.Errorf("width %.2f: response %.6f at frequency 0, want 1", sigma, resp[0])
		}
		for k := 1; k < len(resp); k++ {
			if math.Abs(resp[k]-resp[len(resp)-k]) > 1e-12 {
				t.Fatalf("width %.2f: not symmetric at %d", sigma, k)
			}
			if k <= len(resp)/2 && resp[k] > resp[k-1] {
				t.Fatalf("width %.2f: rises at %d", sigma, k)
			}
		}
	}
}

func TestFFTSize(t *testing.T) {
	for _, c := range [][2]int{{0, 1}, {1, 1}, {7, 8}, {11, 12}, {97, 100}, {107, 108}, {119, 120}, {121, 125}, {187, 192}} {
		if got := fftSize(c[0]); got != c[1] {
			t.Errorf("fftSize(%d) = %d, want %d", c[0], got, c[1])
		}
	}
}

// TestDeblurGridOffImage: a grid whose modules leave the image is not
// restored (its margin may: the quiet zone is clamped to the edge).
func TestDeblurGridOffImage(t *testing.T) {
	bits := encodeQR(t, softText, 20)
	dim := bits.GetWidth()
	g, _ := blurredCode(bits, 2, 2)
	shifted := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, float64(dim), 0, float64(dim), float64(dim), 0, float64(dim),
		100, 100, 100+2*float64(dim), 100, 100+2*float64(dim), 100+2*float64(dim), 100, 100+2*float64(dim))
	if _, ok := newDeblurGrid(g, shifted, dim, deblurSubsamples); ok {
		t.Fatal("a grid reaching past the image was restored")
	}
	nan := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	if _, ok := newDeblurGrid(g, nan, dim, deblurSubsamples); ok {
		t.Fatal("a degenerate transform was restored")
	}
}

func TestPatternErrors(t *testing.T) {
	bits := encodeQR(t, softText, 20)
	dim := bits.GetWidth()
	cells := patternCells(dim)
	right := make([]float32, dim*dim)
	for i := range right {
		right[i] = 1
		if bits.Get(i%dim, i/dim) {
			right[i] = -1
		}
	}
	if got := patternErrors(right, dim, cells); got != 0 {
		t.Errorf("the code itself: %.3f wrong", got)
	}
	wrong := make([]float32, len(right))
	for i, v := range right {
		wrong[i] = -v
	}
	if got := patternErrors(wrong, dim, cells); got != 1 {
		t.Errorf("the code's negative: %.3f wrong, want 1", got)
	}
}
