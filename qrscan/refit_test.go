package qrscan

import (
	"fmt"
	"math"
	"testing"

	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// TestRefitDeblurGrid: a level-M code of 2 px per module under σ = 2 px
// (the blur2 class), handed to the deblurring on grids like the ones the
// finder correlation locates in such images: corners a pixel or two off,
// the dimension a version off. None is read as handed over; each is read
// once refitted, on the code's own dimension and within 0.6 px of its true
// corners (the descent's last step is half a pixel).
func TestRefitDeblurGrid(t *testing.T) {
	bits := encodeQRLevel(t, softText, 15, decoder.ErrorCorrectionLevel_M)
	dim := bits.GetWidth()
	g, truth := blurredCode(bits, 2, 2)
	trueQuad := finderQuad(truth, dim)
	accept := func(s string) bool { return s == softText }
	never := func() bool { return false }
	for _, c := range []struct {
		name   string
		dim    int
		offset []float64 // added to the true corner points
	}{
		{"corners off by up to 2 px", dim, []float64{1.5, -1, -2, 0.5, 1, 1.5, -0.5, -1.5}},
		{"a version too large", dim + 4, []float64{0, 0, 0, 0, 0, 0, 0, 0}},
		{"a version too small, corners off", dim - 4, []float64{-1, 0.5, 1, -1, 0, 1, 1, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			quad := append([]float64{}, trueQuad...)
			for i := range quad {
				quad[i] += c.offset[i]
			}
			located := quadGrid(quad, c.dim)
			if _, ok := decodeDeblurred(g, located, c.dim, accept, never); ok {
				t.Fatal("read as handed over: no longer a test of the refit")
			}
			tr, gotDim, ok := refitDeblurGrid(g, located, c.dim, never)
			if !ok {
				t.Fatal("no grid refitted")
			}
			if gotDim != dim {
				t.Fatalf("dimension %d, want %d", gotDim, dim)
			}
			got := finderQuad(tr, dim)
			for i := range got {
				if math.Abs(got[i]-trueQuad[i]) > 0.6 {
					t.Errorf("corner coordinate %d at %.2f, true %.2f", i, got[i], trueQuad[i])
				}
			}
			if _, ok := decodeDeblurred(g, tr, gotDim, accept, never); !ok {
				t.Error("not read on the refitted grid")
			}
		})
	}
}

// TestRefitRefusesNoCode: a grid over no code (a flat image, and a
// blurred code's grid turned by a quarter of its side, which covers data
// and quiet zone) is not refitted: no dimension's restored patterns reach
// refitMinFit, and nothing is spent on a descent.
func TestRefitRefusesNoCode(t *testing.T) {
	bits := encodeQR(t, softText, 15)
	dim := bits.GetWidth()
	g, truth := blurredCode(bits, 2, 2)
	flat := &gray{pix: make([]byte, g.w*g.h), w: g.w, h: g.h}
	for i := range flat.pix {
		flat.pix[i] = 200
	}
	q := finderQuad(truth, dim)
	shift := float64(dim) / 2 // half the code's side in pixels at 2 px per module
	moved := quadGrid([]float64{q[0] + shift, q[1] + shift, q[2] + shift, q[3] + shift, q[4] + shift, q[5] + shift, q[6] + shift, q[7] + shift}, dim)
	checks := 0
	stop := func() bool { checks++; return false }
	for _, c := range []struct {
		name string
		g    *gray
		tr   *common.PerspectiveTransform
	}{{"flat image", flat, truth}, {"grid off the code", g, moved}} {
		checks = 0
		if _, _, ok := refitDeblurGrid(c.g, c.tr, dim, stop); ok {
			t.Errorf("%s: refitted", c.name)
		}
		if checks > 2*refitVersions+1 {
			t.Errorf("%s: %d stop checks, more than the dimensions' %d: a descent ran", c.name, checks, 2*refitVersions+1)
		}
	}
}

// TestRefitStops: the refit asks stop before each grid it judges and gives
// up when told.
func TestRefitStops(t *testing.T) {
	bits := encodeQR(t, softText, 15)
	dim := bits.GetWidth()
	g, truth := blurredCode(bits, 2, 2)
	q := finderQuad(truth, dim)
	q[0] += 1.5
	for _, after := range []int{0, 3, 12} {
		n := 0
		if _, _, ok := refitDeblurGrid(g, quadGrid(q, dim), dim, func() bool { n++; return n > after }); ok {
			t.Errorf("stopped after %d checks, still refitted", after)
		}
		if n != after+1 {
			t.Errorf("stop asked %d times, want %d (it said stop at the last)", n, after+1)
		}
	}
}

// TestScanRefitsBlurredGrid: codes of 2 and 2.2 px modules under a blur of
// one module that the located grids do not restore, read by the scan once
// refitted.
func TestScanRefitsBlurredGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("every pass: skipped with -short")
	}
	for _, c := range []struct {
		level   decoder.ErrorCorrectionLevel
		version int
		module  float64
	}{
		{decoder.ErrorCorrectionLevel_L, 22, 2},
		{decoder.ErrorCorrectionLevel_M, 22, 2},
		{decoder.ErrorCorrectionLevel_M, 23, 2.2},
	} {
		name := fmt.Sprintf("%v version %d, %.1f px", c.level, c.version, c.module)
		g, _ := blurredCode(encodeQRLevel(t, softText, c.version, c.level), c.module, c.module)
		wantReadBy(t, g, "deblurred, refitted", name)
	}
}

// TestRestoreGridsRefitsWhenAsked: a grid two pixels off is read by the
// restorations with refit (a photo) and not without (a live frame, whose
// budget a refit would spend).
func TestRestoreGridsRefitsWhenAsked(t *testing.T) {
	bits := encodeQRLevel(t, softText, 15, decoder.ErrorCorrectionLevel_M)
	dim := bits.GetWidth()
	g, truth := blurredCode(bits, 2, 2)
	quad := finderQuad(truth, dim)
	for i, d := range []float64{1.5, -1, -2, 0.5, 1, 1.5, -0.5, -1.5} {
		quad[i] += d
	}
	grids := []softCandidate{{dim: dim, score: 1, g: g, tr: quadGrid(quad, dim)}}
	accept := func(s string) bool { return s == softText }
	never := func() bool { return false }
	if _, pass, ok := restoreGrids(grids, accept, false, never); ok {
		t.Errorf("read by %q without refit", pass)
	}
	if _, pass, ok := restoreGrids(grids, accept, true, never); !ok || pass != "deblurred, refitted" {
		t.Errorf("with refit: read %v by %q, want the refit", ok, pass)
	}
}
