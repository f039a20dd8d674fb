package qrscan

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// moduleThreshold reads each sharpening from the tables of the unsharpened
// values; it must give the bits of thresholding the sharpened values
// themselves, module by module (away from ties, where float rounding
// decides).
func TestModuleThresholdMatchesSharpenedValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{21, 57, 97} {
		vals := make([]float32, dim*dim)
		for i := range vals {
			vals[i] = float32(rng.IntN(256))
		}
		th := newModuleThreshold(vals, dim, 3)
		for _, s := range []float32{0, 0.6, 2, 4.5} {
			bits := th.bits(s)
			v := make([]float32, len(vals))
			for y := range dim {
				for x := range dim {
					n := (vals[y*dim+max(x-1, 0)] + vals[y*dim+min(x+1, dim-1)] +
						vals[max(y-1, 0)*dim+x] + vals[min(y+1, dim-1)*dim+x]) / 4
					v[y*dim+x] = vals[y*dim+x] + s*(vals[y*dim+x]-n)
				}
			}
			for y := range dim {
				for x := range dim {
					var sum float32
					var n int
					for yy := max(y-3, 0); yy < min(y+4, dim); yy++ {
						for xx := max(x-3, 0); xx < min(x+4, dim); xx++ {
							sum += v[yy*dim+xx]
							n++
						}
					}
					diff := v[y*dim+x]*float32(n) - sum
					if diff > -1 && diff < 1 {
						continue // a tie within rounding
					}
					if want := diff < 0; bits.Get(x, y) != want {
						t.Fatalf("dim %d sharpen %v: module (%d,%d) is %v, want %v", dim, s, x, y, bits.Get(x, y), want)
					}
				}
			}
		}
	}
}

// Two passes that locate a code alike decode it once: same is true within
// half a module and only for the same dimension and kind of estimate.
func TestLocatedSame(t *testing.T) {
	grid := func(dx float64, dim int, rough bool) *located {
		p := func(x, y float64) gozxing.ResultPoint { return detector.NewFinderPattern(x+dx, y, 4, 2) }
		// 4 px modules: the finder centres are (dim−7)·4 apart.
		span := float64(dim-7) * 4
		return &located{tl: p(100, 100), tr: p(100+span, 100), bl: p(100, 100+span), dimension: dim, rough: rough}
	}
	base := grid(0, 57, false)
	tests := []struct {
		name  string
		other *located
		want  bool
	}{
		{"identical", grid(0, 57, false), true},
		{"a quarter module off", grid(1, 57, false), true},
		{"a module off", grid(4, 57, false), false},
		{"another dimension", grid(0, 61, false), false},
		{"a rough estimate of it", grid(0, 57, true), false},
	}
	for _, tt := range tests {
		if got := base.same(tt.other); got != tt.want {
			t.Errorf("%s: same = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A grid is decoded once per image its modules are read from: the inverted
// pass reads the negative, where the same grid reads other bits.
func TestTriedGridsPerImage(t *testing.T) {
	plain, negative := &gray{}, &gray{}
	p := func(x, y float64) gozxing.ResultPoint { return detector.NewFinderPattern(x, y, 4, 2) }
	loc := &located{tl: p(100, 100), tr: p(300, 100), bl: p(100, 300), dimension: 57}
	again := &located{tl: p(101, 100), tr: p(300, 101), bl: p(100, 300), dimension: 57}
	tried := triedGrids{}
	for i, step := range []struct {
		base *gray
		loc  *located
		want bool
	}{{plain, loc, true}, {plain, again, false}, {negative, again, true}, {negative, loc, false}} {
		if got := tried.first(step.base, step.loc); got != step.want {
			t.Errorf("step %d: first = %v, want %v", i, got, step.want)
		}
	}
}

// keystonedCode draws bits (4 modules of quiet zone) onto a w×h image
// through the perspective that takes the padded code's corners to quad
// (x, y four times: top left, top right, bottom right, bottom left), each
// pixel the mean of 4×4 points: a code photographed tilted away.
func keystonedCode(bits *gozxing.BitMatrix, quad [8]float64, w, h int) *image.Gray {
	dim := bits.GetWidth()
	side := float64(dim + 8)
	toModules := common.PerspectiveTransform_QuadrilateralToQuadrilateral(
		quad[0], quad[1], quad[2], quad[3], quad[4], quad[5], quad[6], quad[7],
		0, 0, side, 0, side, side, 0, side)
	img := image.NewGray(image.Rect(0, 0, w, h))
	pts := make([]float64, 2)
	for y := range h {
		for x := range w {
			dark := 0
			for j := range 4 {
				for i := range 4 {
					pts[0], pts[1] = float64(x)+(float64(i)+0.5)/4, float64(y)+(float64(j)+0.5)/4
					toModules.TransformPoints(pts)
					mx, my := int(math.Floor(pts[0]))-4, int(math.Floor(pts[1]))-4
					if mx >= 0 && my >= 0 && mx < dim && my < dim && bits.Get(mx, my) {
						dark++
					}
				}
			}
			img.Pix[y*w+x] = uint8(235 - dark*(235-30)/16)
		}
	}
	return img
}

// TestStrongKeystoneFindsTheFourthCorner: a version-23 code under the
// photo corpus's strong keystone (make-photos.sh's perspective class: the
// code padded by 15 %, the padded image's corners taken to 14 %/10 %,
// 84 %/6 %, 98 %/97 % and 2 %/93 % of its size). The detector takes the
// dimension from the short top edge, a version too small, and the right
// dimension's fourth corner lies about ten modules from the wrong one's:
// only a coarse search per dimension (decodeGrid's poor fit) finds it.
// Without it, the code of 2.5 px modules was read only by the upscale×2
// pass, and the one of 2 px modules not at all.
func TestStrongKeystoneFindsTheFourthCorner(t *testing.T) {
	bits := encodeQRLevel(t, softText, 23, decoder.ErrorCorrectionLevel_H)
	for _, c := range []struct {
		module   float64
		wantPass string // "" for any
	}{{2.5, "plain"}, {2, ""}} {
		s := float64(bits.GetWidth()+8) * c.module
		side := 1.3 * s
		persp := common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, side, 0, side, side, 0, side,
			0.14*side, 0.10*side, 0.84*side, 0.06*side, 0.98*side, 0.97*side, 0.02*side, 0.93*side)
		lo, hi := 0.15*s, 1.15*s
		quad := [8]float64{lo, lo, hi, lo, hi, hi, lo, hi}
		persp.TransformPoints(quad[:])
		img := keystonedCode(bits, quad, int(side), int(side))
		accept := func(s string) bool { return s == softText }
		found, err := Scan(context.Background(), img, Options{Mode: Photo, Budget: time.Hour, Accept: accept})
		if err != nil || found.Text != softText {
			t.Errorf("%.1f px per module: not read: %v", c.module, err)
			continue
		}
		if c.wantPass != "" && found.Pass != c.wantPass {
			t.Errorf("%.1f px per module: read by %q, want %q", c.module, found.Pass, c.wantPass)
		}
	}
}

// TestReadAllKeepsItsBinarization: the first pass locates codes again in
// the binarization readAll made (locateIn), which is right only if
// its reading (the multi detector, decodeAll) leaves it as it was. Every image of three
// classes of the photo corpus: codes read, codes located and not read, and
// none located.
func TestReadAllKeepsItsBinarization(t *testing.T) {
	if testing.Short() {
		t.Skip("photo corpus: skipped with -short")
	}
	n := map[string]int{"clean": 0, "photo": 0, "small1.5px": 0}
	for _, c := range loadPhotoCorpus(t) {
		if _, ok := n[c.class]; !ok {
			continue
		}
		g := toGray(c.image(t))
		_, bits, err := readAll(g, true, func(string) bool { return true })
		if err != nil || bits == nil {
			t.Fatalf("%s: readAll: %v, %v", c.file, bits, err)
		}
		src, _ := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
		fresh, err := newHybridBinarizer(src).GetBlackMatrix()
		if err != nil {
			t.Fatal(err)
		}
		if bits.String() != fresh.String() {
			t.Fatalf("%s: readAll's binarization changed while it read", c.file)
		}
		n[c.class]++
	}
	for class, k := range n {
		if k == 0 {
			t.Errorf("no image of class %s", class)
		}
	}
}

// The shared pattern lists are what makePatternCells makes, and stay so
// after scans that fit, deblur, refit and super-resolve grids with them.
func TestPatternCellsShared(t *testing.T) {
	if testing.Short() {
		t.Skip("photo corpus: skipped with -short")
	}
	scanned := map[string]bool{"blur2": false, "small1.5px": false, "photo": false}
	for _, c := range loadPhotoCorpus(t) {
		if done, ok := scanned[c.class]; ok && !done {
			// Accepting nothing, every reading runs.
			Scan(t.Context(), c.image(t), Options{Mode: Photo, Budget: time.Hour, Accept: func(string) bool { return false }})
			scanned[c.class] = true
		}
	}
	for dim := 21; dim <= 177; dim += 4 {
		if !slices.Equal(patternCells(dim), makePatternCells(dim)) {
			t.Fatalf("dimension %d: the shared list differs", dim)
		}
	}
}

// A reused threshold reads as a fresh one, after values of the same
// dimension and of another.
func TestModuleThresholdReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	values := func(dim int) []float32 {
		v := make([]float32, dim*dim)
		for i := range v {
			v[i] = rng.Float32() * 255
		}
		return v
	}
	var th moduleThreshold
	for _, dim := range []int{25, 25, 29, 25, 21} {
		vals := values(dim)
		th.reset(vals, dim, 3)
		fresh := newModuleThreshold(vals, dim, 3)
		if !slices.Equal(th.satV, fresh.satV) || !slices.Equal(th.satN, fresh.satN) || !slices.Equal(th.nbr, fresh.nbr) {
			t.Fatalf("dimension %d: the reused tables differ from fresh ones", dim)
		}
		for _, sh := range []float32{0, 2} {
			if th.bits(sh).String() != fresh.bits(sh).String() {
				t.Fatalf("dimension %d, sharpening %v: bits differ", dim, sh)
			}
		}
	}
}
