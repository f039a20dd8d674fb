package qrscan

import (
	"fmt"
	"math"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// shrunkCode draws bits at 8 pixels per module with a quiet zone of six
// modules and shrinks it by area averaging to about pxPerModule pixels per
// module (ImageMagick's -resize of a screenshot, roughly). It returns the
// image and the grid's module-to-pixel transform in it.
func shrunkCode(bits *gozxing.BitMatrix, pxPerModule float64) (*gray, *common.PerspectiveTransform) {
	const module = 8
	dim := bits.GetWidth()
	quiet := 6 * module
	side := dim*module + 2*quiet
	big := &gray{pix: make([]byte, side*side), w: side, h: side}
	for y := range side {
		for x := range side {
			mx, my := (x-quiet)/module, (y-quiet)/module
			big.pix[y*side+x] = 235
			if x >= quiet && y >= quiet && mx < dim && my < dim && bits.Get(mx, my) {
				big.pix[y*side+x] = 30
			}
		}
	}
	g := big.scale(pxPerModule / module)
	// The scale the image really got; scale's box filter starts each
	// output pixel at a whole source pixel, on average half a source pixel
	// early, which moves the content half a source pixel the other way.
	f := float64(g.w) / float64(side)
	q, d := (float64(quiet)+0.5)*f, float64(dim*module)*f
	dm := float64(dim)
	return g, common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, dm, 0, dm, dm, 0, dm,
		q, q, q+d, q, q+d, q+d, q, q+d)
}

// TestSuperResolvedReadsSmallCode: codes of 0.9 and 0.95 pixels per module,
// on their true grid. Sampling at module centres reads none of them at any
// sharpening; the least squares gets most modules right and the erasures
// read the rest.
func TestSuperResolvedReadsSmallCode(t *testing.T) {
	bits := encodeQRLevel(t, softText, 22, decoder.ErrorCorrectionLevel_Q)
	dim := bits.GetWidth()
	accept := func(s string) bool { return s == softText }
	for _, px := range []float64{0.9, 0.95} {
		g, tr := shrunkCode(bits, px)
		if got := moduleSize(tr, dim); math.Abs(got-px) > 0.02 {
			t.Fatalf("%.2f px: moduleSize %.3f", px, got)
		}
		vals, ok := sampleModules(g, tr, dim)
		if !ok {
			t.Fatalf("%.2f px: grid off the image", px)
		}
		th := newModuleThreshold(vals, dim, 3)
		for _, sh := range []float32{0, 0.6, 1.2, 2, 3, 4.5} {
			if res, err := decoder.NewDecoder().Decode(th.bits(sh), nil); err == nil && accept(res.GetText()) {
				t.Fatalf("%.2f px: read at module centres (sharpening %.1f): no longer a test of the super-resolution", px, sh)
			}
		}
		sv, ok := superResolved(g, tr, dim)
		if !ok {
			t.Fatalf("%.2f px: not solved", px)
		}
		wrong := wrongModules(bits, sv)
		t.Logf("%.2f px: %.1f %% of the modules wrong", px, 100*wrong)
		if wrong > 0.06 {
			t.Errorf("%.2f px: %.1f %% of the modules wrong", px, 100*wrong)
		}
		if _, ok := decodeSuperResolved(g, tr, dim, accept, never); !ok {
			t.Errorf("%.2f px: not read", px)
		}
	}
}

// TestRefineGrid: the true grid's corners moved by up to 0.4 pixels (a
// located grid's error; over a third of a module) come back within 0.1.
func TestRefineGrid(t *testing.T) {
	bits := encodeQRLevel(t, softText, 22, decoder.ErrorCorrectionLevel_Q)
	dim := bits.GetWidth()
	g, tr := shrunkCode(bits, 0.9)
	d := float64(dim)
	truth := []float64{0, 0, d, 0, d, d, 0, d}
	tr.TransformPoints(truth)
	moved := append([]float64(nil), truth...)
	for i, o := range []float64{0.4, -0.3, -0.35, 0.25, 0.3, 0.4, -0.4, -0.2} {
		moved[i] += o
	}
	off := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, d, 0, d, d, 0, d,
		moved[0], moved[1], moved[2], moved[3], moved[4], moved[5], moved[6], moved[7])
	if _, ok := decodeSuperResolved(g, off, dim, func(s string) bool { return s == softText }, never); !ok {
		// decodeSuperResolved refines: this is the test's point.
		t.Error("not read from the moved grid")
	}
	got := []float64{0, 0, d, 0, d, d, 0, d}
	refineGrid(g, off, dim, never).TransformPoints(got)
	for i := 0; i < 8; i += 2 {
		if e := math.Hypot(got[i]-truth[i], got[i+1]-truth[i+1]); e > 0.1 {
			t.Errorf("corner %d: %.2f,%.2f, %.2f pixels from the true %.2f,%.2f", i/2, got[i], got[i+1], e, truth[i], truth[i+1])
		}
	}
}

// TestKnownModules: the fixed modules have the standard's colours, and
// every unknown module listed touches a known one.
func TestKnownModules(t *testing.T) {
	bits := encodeQR(t, softText, 20)
	dim := bits.GetWidth()
	known := knownModules(dim)
	colour := map[[2]int]float64{}
	for _, m := range known {
		colour[[2]int{m.x, m.y}] = m.colour
	}
	fixed := 0
	for _, m := range known {
		switch {
		case m.x < 0 || m.y < 0 || m.x >= dim || m.y >= dim:
			if m.colour != 1 {
				t.Fatalf("quiet zone module %d,%d is %v", m.x, m.y, m.colour)
			}
		case m.colour != 0:
			fixed++
			if want := map[bool]float64{true: -1, false: 1}[bits.Get(m.x, m.y)]; m.colour != want {
				t.Fatalf("module %d,%d is %v, the code has %v", m.x, m.y, m.colour, want)
			}
		default:
			touches := false
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					touches = touches || colour[[2]int{m.x + dx, m.y + dy}] != 0
				}
			}
			if !touches {
				t.Fatalf("unknown module %d,%d touches no known one", m.x, m.y)
			}
		}
	}
	if fixed < 3*64 {
		t.Fatalf("%d fixed modules in the code: fewer than the finder patterns", fixed)
	}
}

// TestSuperResolvedBounds: a grid reaching past the image, a degenerate
// transform and a blank image are not solved.
func TestSuperResolvedBounds(t *testing.T) {
	bits := encodeQR(t, softText, 20)
	dim := bits.GetWidth()
	g, tr := shrunkCode(bits, 0.9)
	d := float64(dim)
	past := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, d, 0, d, d, 0, d, 50, 50, 50+d, 50, 50+d, 50+d, 50, 50+d)
	if _, ok := superResolved(g, past, dim); ok {
		t.Error("a grid past the image was solved")
	}
	nan := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	if _, ok := superResolved(g, nan, dim); ok {
		t.Error("a degenerate transform was solved")
	}
	blank := &gray{pix: make([]byte, g.w*g.h), w: g.w, h: g.h}
	for i := range blank.pix {
		blank.pix[i] = 200
	}
	if _, ok := superResolved(blank, tr, dim); ok {
		t.Error("a blank image was solved")
	}
	if refined := refineGrid(blank, nan, dim, never); refined != nan {
		t.Error("a degenerate transform was refined")
	}
	stopped := func() bool { return true }
	if _, ok := decodeSuperResolved(g, tr, dim, func(string) bool { return true }, stopped); ok {
		t.Error("read after being told to stop")
	}
}

// TestScanReadsShrunkCode runs the whole search on codes of 0.9 and 0.95
// pixels per module that no pass reads. The passes locate the code at 0.9
// px but not at 0.95: the restorations' search of the image upscaled ×2
// does.
func TestScanReadsShrunkCode(t *testing.T) {
	if testing.Short() {
		t.Skip("every pass: skipped with -short")
	}
	bits := encodeQRLevel(t, softText, 22, decoder.ErrorCorrectionLevel_Q)
	for _, px := range []float64{0.9, 0.95} {
		g, _ := shrunkCode(bits, px)
		wantReadBy(t, g, "super-resolved", fmt.Sprintf("%.2f px", px))
	}
}

// FuzzRestore runs the restorations and the refit on arbitrary pixels and
// grids (any corners, NaN and infinities included, any dimension): they
// must fail cleanly or return, never panic or index outside their windows.
func FuzzRestore(f *testing.F) {
	f.Add([]byte{0, 255, 30, 200}, uint8(40), 5.0, 5.0, 35.0, 5.0, 35.0, 35.0, 5.0, 35.0, uint8(21))
	f.Add([]byte{128}, uint8(30), 0.0, 0.0, 1e300, 0.0, math.NaN(), 1.0, -5.0, 29.0, uint8(25))
	f.Fuzz(func(t *testing.T, pix []byte, side uint8, x0, y0, x1, y1, x2, y2, x3, y3 float64, v uint8) {
		if len(pix) == 0 || side < 2 {
			return
		}
		w := int(side)
		g := &gray{pix: make([]byte, w*w), w: w, h: w}
		for i := range g.pix {
			g.pix[i] = pix[i%len(pix)]
		}
		dim := 17 + 4*(1+int(v)%40) // versions 1 to 40
		d := float64(dim)
		tr := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, d, 0, d, d, 0, d, x0, y0, x1, y1, x2, y2, x3, y3)
		never := func() bool { return false }
		accept := func(string) bool { return true }
		decodeDeblurred(g, tr, dim, accept, never)
		decodeSuperResolved(g, tr, dim, accept, never)
		refineGrid(g, tr, dim, never)
		checks := 0 // a refit restores a hundred grids or more: the first 30
		refitDeblurGrid(g, tr, dim, func() bool { checks++; return checks > 30 })
		moduleSize(tr, dim)
	})
}
