package qrscan

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// photoOf draws a code at module pixels per module with a quiet zone,
// blurs it (σ in pixels), adds Gaussian noise and round-trips it through
// JPEG at quality q: a small, soft phone photo. It returns the image and
// the pixel centres of the top-left, top-right and bottom-left finder
// patterns.
func photoOf(t testing.TB, text string, version int, module, sigma, noise float64, q int) (*gray, [3][2]float64) {
	t.Helper()
	bits := encodeQR(t, text, version)
	dim := bits.GetWidth()
	quiet := 6 * module
	side := int(float64(dim)*module + 2*quiet)
	g := &gray{pix: make([]byte, side*side), w: side, h: side}
	for y := range side {
		for x := range side {
			mx, my := int((float64(x)+0.5-quiet)/module), int((float64(y)+0.5-quiet)/module)
			v := byte(235)
			if mx >= 0 && my >= 0 && mx < dim && my < dim && bits.Get(mx, my) {
				v = 30
			}
			g.pix[y*side+x] = v
		}
	}
	if sigma > 0 {
		g = g.blur(sigma) // three box blurs of radius 1 at least: σ ≈ 1.4 px
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i, p := range g.pix {
		g.pix[i] = byte(min(255, max(0, float64(p)+rng.NormFloat64()*noise)))
	}
	img := image.NewGray(image.Rect(0, 0, side, side))
	copy(img.Pix, g.pix)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	back, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	c := func(m float64) float64 { return quiet + m*module }
	return toGray(back), [3][2]float64{{c(3.5), c(3.5)}, {c(float64(dim) - 3.5), c(3.5)}, {c(3.5), c(float64(dim) - 3.5)}}
}

var softText = "HC1:" + strings.Repeat("NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOOP-I*4OZ4EEP2PT8G*V4HI/QF:80PVSNCNA9QKSFZKW3IAE7CU0T7D-VMJ*4D/8S7UQW1Y-8M 5FPO:HO::J5C2%.H*1ES$0ET0", 3)

// correlationNaive is the definition correlate computes: for every pixel
// and template, the normalized correlation of the pixel's neighbourhood
// with the template, its sums taken pixel by pixel; per pixel the best of
// the templates (first of equals) and which one.
func correlationNaive(g *gray) ([]float32, []uint8) {
	best, bestM := make([]float32, g.w*g.h), make([]uint8, g.w*g.h)
	for ti, t := range finderTemplates() {
		h9 := t.h[3]
		for y := h9; y < g.h-h9; y++ {
			for x := h9; x < g.w-h9; x++ {
				var sum, sum2, dot float64
				for yy := y - h9; yy <= y+h9; yy++ {
					for xx := x - h9; xx <= x+h9; xx++ {
						v := float64(g.pix[yy*g.w+xx])
						// The innermost square the pixel lies in gives its
						// template value: −1, +1, −1, +1 from the centre.
						tv := 1.0
						if d := max(abs(xx-x), abs(yy-y)); d <= t.h[0] || d > t.h[1] && d <= t.h[2] {
							tv = -1
						}
						sum, sum2, dot = sum+v, sum2+v*v, dot+tv*v
					}
				}
				num, xvar := dot-t.mean*sum, sum2-sum*sum/t.n
				if num <= 0 || xvar <= 0 {
					continue
				}
				if r := float32(num / math.Sqrt(t.tvar*xvar)); r > best[y*g.w+x] {
					best[y*g.w+x], bestM[y*g.w+x] = r, uint8(ti)
				}
			}
		}
	}
	return best, bestM
}

// TestCorrelateMatchesDefinition: the correlation from shared row box sums
// keeps exactly the definition's scores of at least minScore, with their
// templates, and nothing else; scoreAt gives the definition's score at
// every pixel. On a soft code (whose finder patterns pass minScore), noise,
// a flat image and one narrower than the largest template.
func TestCorrelateMatchesDefinition(t *testing.T) {
	code, _ := photoOf(t, softText[:120], 5, 2, 1, 8, 70)
	noise := &gray{pix: make([]byte, 61*47), w: 61, h: 47}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise.pix {
		noise.pix[i] = byte(rng.IntN(256))
	}
	flat := &gray{pix: bytes.Repeat([]byte{90}, 40*40), w: 40, h: 40}
	narrow := &gray{pix: noise.pix[:20*61], w: 20, h: 61}
	tpl := finderTemplates()
	for name, g := range map[string]*gray{"code": code, "noise": noise, "flat": flat, "narrow": narrow} {
		want, wantM := correlationNaive(g)
		for _, minScore := range []float64{minFinderScore, 0.3} {
			best, bestM := correlate(g, newIntegral(g), tpl, minScore, never)
			kept := 0
			for i := range want {
				switch {
				case float64(want[i]) >= minScore && (best[i] != want[i] || bestM[i] != wantM[i]):
					t.Fatalf("%s, %v: pixel (%d,%d): %v (template %d), want %v (%d)", name, minScore, i%g.w, i/g.w, best[i], bestM[i], want[i], wantM[i])
				case float64(want[i]) < minScore && best[i] != 0:
					t.Fatalf("%s, %v: pixel (%d,%d) under minScore (%v) kept as %v", name, minScore, i%g.w, i/g.w, want[i], best[i])
				case best[i] != 0:
					kept++
				}
			}
			if name == "code" && kept == 0 {
				t.Fatalf("code, %v: no score kept", minScore)
			}
		}
		for i := range want {
			if got := scoreAt(g, newIntegral(g), tpl, i%g.w, i/g.w); got != want[i] {
				t.Fatalf("%s: scoreAt(%d,%d) = %v, want %v", name, i%g.w, i/g.w, got, want[i])
			}
		}
	}
}

// TestIntegralBoxSums: the summed-area tables give every box's sum of
// values and of squares exactly, also where the 32-bit table of squares
// has wrapped around (a bright image of more than 66,000 pixels).
func TestIntegralBoxSums(t *testing.T) {
	g := &gray{pix: make([]byte, 400*300), w: 400, h: 300}
	rng := rand.New(rand.NewPCG(3, 4))
	var squares uint64
	for i := range g.pix {
		g.pix[i] = byte(200 + rng.IntN(56))
		squares += uint64(g.pix[i]) * uint64(g.pix[i])
	}
	if squares <= math.MaxUint32 {
		t.Fatalf("the squares sum to %d: the table would not wrap", squares)
	}
	it := newIntegral(g)
	for range 3000 {
		h := 1 + rng.IntN(14) // up to the largest template's 27×27
		x, y := h+rng.IntN(g.w-2*h-1), h+rng.IntN(g.h-2*h-1)
		var sum, sum2 uint64
		for yy := y - h; yy <= y+h; yy++ {
			for xx := x - h; xx <= x+h; xx++ {
				v := uint64(g.pix[yy*g.w+xx])
				sum, sum2 = sum+v, sum2+v*v
			}
		}
		top, bot, l, r := (y-h)*it.w, (y+h+1)*it.w, x-h, x+h+1
		if got := boxSum(it.s, top, bot, l, r); uint64(got) != sum {
			t.Fatalf("box %d±%d,%d±%d: sum %d, want %d", x, h, y, h, got, sum)
		}
		if got := boxSum(it.s2, top, bot, l, r); uint64(got) != sum2 {
			t.Fatalf("box %d±%d,%d±%d: sum of squares %d, want %d", x, h, y, h, got, sum2)
		}
	}
}

// TestFinderCorrelationFindsSoftSmallPatterns: at 2 pixels per module,
// noisy and JPEG-compressed, and at 1.25 pixels per module (drawn large and
// shrunk by area averaging, as a downscaled photo is), gozxing's
// run-length search finds no finder pattern; the correlation finds all
// three within 1.5 pixels, and the grid it implies is read.
func TestFinderCorrelationFindsSoftSmallPatterns(t *testing.T) {
	jpegged, at := photoOf(t, softText, 20, 2, 0, 14, 50)
	big, bigAt := photoOf(t, softText, 20, 5, 0, 0, 100)
	shrunk := big.scale(0.25)
	var shrunkAt [3][2]float64
	for i, p := range bigAt {
		shrunkAt[i] = [2]float64{p[0] / 4, p[1] / 4}
	}
	for name, tc := range map[string]struct {
		g    *gray
		want [3][2]float64
	}{"2 px, noise, JPEG q50": {jpegged, at}, "1.25 px": {shrunk, shrunkAt}} {
		g := tc.g
		if locs := slices.Collect(locateAll(g, true)); len(locs) > 0 {
			t.Fatalf("%s: gozxing located %d grids: the test image is too easy", name, len(locs))
		}
		peaks := findFinderPatterns(g, 8, minFinderScore, never)
		for _, w := range tc.want {
			found := false
			for _, p := range peaks[:min(3, len(peaks))] {
				found = found || math.Hypot(p.x-w[0], p.y-w[1]) <= 1.5
			}
			if !found {
				t.Fatalf("%s: no peak within 1.5 pixels of the finder pattern at %.1f,%.1f: %+v", name, w[0], w[1], peaks)
			}
		}
		read := false
		for _, loc := range locateByTemplate(g, minFinderScore, never) {
			if txt, ok := decodeGrid(g, loc, func(s string) bool { return s == softText }, nil); ok && txt == softText {
				read = true
			}
		}
		if !read {
			t.Fatalf("%s: the located grid was not read", name)
		}
	}
}

func never() bool { return false }

// TestFinderCorrelationBounds: nothing is found in noise or a blank
// image, an image past templateMaxPixels is not searched at all, and a
// search told to stop stops.
func TestFinderCorrelationBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	noise := &gray{pix: make([]byte, 300*300), w: 300, h: 300}
	for i := range noise.pix {
		noise.pix[i] = byte(rng.IntN(256))
	}
	blank := &gray{pix: bytes.Repeat([]byte{200}, 300*300), w: 300, h: 300}
	for name, g := range map[string]*gray{"noise": noise, "blank": blank} {
		if locs := locateByTemplate(g, minFinderScore, never); len(locs) != 0 {
			t.Errorf("%s: %d grids", name, len(locs))
		}
	}
	big := &gray{pix: make([]byte, (templateMaxPixels/1000+1)*1000), w: 1000, h: templateMaxPixels/1000 + 1}
	if p := findFinderPatterns(big, 8, minFinderScore, never); p != nil {
		t.Fatal("an image past templateMaxPixels was searched")
	}
	g, _ := photoOf(t, softText, 20, 2, 0, 0, 100)
	asked := 0
	if p := findFinderPatterns(g, 8, minFinderScore, func() bool { asked++; return true }); p != nil || asked != 1 {
		t.Fatalf("told to stop: %d peaks after %d questions", len(p), asked)
	}
}

// TestScanReadsSoftSmallCode runs the whole search on that photo: the
// passes before the correlation find no grid they can read.
func TestScanReadsSoftSmallCode(t *testing.T) {
	g, _ := photoOf(t, softText, 20, 2, 0, 14, 50)
	img := image.NewGray(image.Rect(0, 0, g.w, g.h))
	copy(img.Pix, g.pix)
	found, err := Scan(context.Background(), img, Options{Mode: Photo, Budget: time.Hour, Accept: func(s string) bool { return s == softText }})
	if err != nil || found.Text != softText {
		t.Fatalf("not read: %v", err)
	}
	t.Logf("read by pass %q", found.Pass)
}

// TestScanStaysWithinItsWeight scans images where every reading runs and
// compares the heap each scan held at its peak with what Inspect weighed
// the image at (the checkpoint admits scans by that weight): images of
// noise, where every pass runs on many pixels (at 346² the restorations'
// search on the doubled image as well), and small images
// of codes under a pixel per module that nothing accepts, where the
// restorations run on large codes (an attacker's cheapest way to make a
// scan hold memory its pixels do not account for). The peak is sampled
// while the scan runs, with the collector kept close behind; the test
// allows half as much again as the weight, so only a real excess fails it.
func TestScanStaysWithinItsWeight(t *testing.T) {
	if testing.Short() {
		t.Skip("every pass on a large image: skipped with -short")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(side int) image.Image {
		img := image.NewGray(image.Rect(0, 0, side, side))
		for i := range img.Pix {
			img.Pix[i] = byte(rng.IntN(256))
		}
		return img
	}
	code := func(version int, px float64) image.Image {
		g, _ := shrunkCode(encodeQR(t, softText[:200], version), px)
		img := image.NewGray(image.Rect(0, 0, g.w, g.h))
		copy(img.Pix, g.pix)
		return img
	}
	for _, c := range []struct {
		name string
		img  image.Image
	}{
		{"noise 800×800", noise(800)},
		// The largest image the restorations search doubled (the doubled
		// one just under templateMaxPixels).
		{"noise 346×346", noise(346)},
		{"version 22 at 0.8 px per module", code(22, 0.8)},
		{"version 40 at 1 px per module", code(40, 1)},
		{"version 40 at 1.3 px per module", code(40, 1.3)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := png.Encode(&buf, c.img); err != nil {
				t.Fatal(err)
			}
			h, err := Inspect(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			held := scanPeak(c.img)
			// The image itself was made before the base was taken: the
			// weight without it is what the scan may add.
			weight := h.ScanBytes - h.DecodedBytes
			pixels := float64(c.img.Bounds().Dx() * c.img.Bounds().Dy())
			t.Logf("peak %d bytes (%.1f a pixel), weight %d (%.1f)", held, float64(held)/pixels, weight, float64(weight)/pixels)
			if held > weight*3/2 {
				t.Fatalf("the scan held %d bytes, %d more than half again its weight of %d", held, held-weight*3/2, weight)
			}
		})
	}
}

// scanPeak scans img with every reading running (an Accept that takes
// nothing) and returns the most heap the scan held above what was live
// before, sampled every 200 µs with the collector at GOGC 5.
func scanPeak(img image.Image) int64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	Scan(context.Background(), img, Options{Budget: time.Hour, Accept: func(string) bool { return false }})
	close(done)
	<-sampled
	return int64(peak.Load()) - int64(base.HeapAlloc)
}

// BenchmarkCorrelate scores a 640×480 image, a soft code in texture: the
// correlation pass's work on a working-size photo.
func BenchmarkCorrelate(b *testing.B) {
	code, _ := photoOf(b, softText, 20, 2, 1, 8, 70)
	g := &gray{pix: make([]byte, 640*480), w: 640, h: 480}
	for i := range g.pix {
		g.pix[i] = byte(i*7919%97 + 80)
	}
	for y := range code.h {
		copy(g.pix[y*g.w:], code.pix[y*code.w:(y+1)*code.w])
	}
	for b.Loop() {
		findFinderPatterns(g, 8, minFinderScore, never)
	}
}
