package qrscan

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// finderSearch is what a finder pattern search leaves: its answer and
// every candidate the finder kept.
func finderSearch(f *detector.FinderPatternFinder, info *detector.FinderPatternInfo, err error) string {
	s := fmt.Sprint("error: ", err != nil)
	if info != nil {
		for _, p := range []*detector.FinderPattern{info.GetBottomLeft(), info.GetTopLeft(), info.GetTopRight()} {
			s += fmt.Sprintf(" (%v, %v, %v, %d)", p.GetX(), p.GetY(), p.GetEstimatedModuleSize(), p.GetCount())
		}
	}
	s += "; candidates:"
	for _, p := range f.GetPossibleCenters() {
		s += fmt.Sprintf(" (%v, %v, %v, %d)", p.GetX(), p.GetY(), p.GetEstimatedModuleSize(), p.GetCount())
	}
	return s
}

// sameSearchAsGozxing fails t when findPatterns on bits answers other than
// gozxing's Find or leaves other candidates, and reports whether gozxing
// found three patterns.
func sameSearchAsGozxing(t *testing.T, name string, bits *gozxing.BitMatrix) bool {
	t.Helper()
	theirs := detector.NewFinderPatternFinder(bits, nil)
	info, err := theirs.Find(tryHarder)
	want := finderSearch(theirs, info, err)
	ours := detector.NewFinderPatternFinder(bits, nil)
	oursInfo, oursErr := findPatterns(ours)
	if got := finderSearch(ours, oursInfo, oursErr); got != want {
		t.Fatalf("%s: findPatterns\n%s\ngozxing\n%s", name, got, want)
	}
	return err == nil
}

// findPatterns finds what gozxing's Find finds, and leaves the same
// candidates: in a seventh of the photo corpus, binarized both ways and
// turned by 180° as locateIn turns it, and in noise.
func TestFindPatternsMatchesGozxing(t *testing.T) {
	found := 0
	for i, c := range loadPhotoCorpus(t) {
		if i%7 != 0 {
			continue
		}
		g := toGray(c.image(t))
		src, _ := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
		for _, bin := range []gozxing.Binarizer{newHybridBinarizer(src), gozxing.NewGlobalHistgramBinarizer(src)} {
			bits, err := bin.GetBlackMatrix()
			if err != nil {
				continue
			}
			if sameSearchAsGozxing(t, c.file, bits) {
				found++
			}
			bits.Rotate180()
			sameSearchAsGozxing(t, c.file+" turned", bits)
		}
	}
	// Patterns against the right edge end with their row, where a
	// confirmed one sets the row step to its first run.
	for px := 1; px <= 6; px++ {
		for _, side := range []int{25, 40} {
			w := side * px
			bits, _ := gozxing.NewBitMatrix(w, w)
			for _, at := range [][2]int{{0, 0}, {side - 7, 0}, {0, side - 7}, {side - 7, side - 7}} {
				for y := range 7 {
					for x := range 7 {
						ring := max(abs(x-3), abs(y-3))
						if ring == 3 || ring <= 1 {
							bits.SetRegion((at[0]+x)*px, (at[1]+y)*px, px, px)
						}
					}
				}
			}
			if !sameSearchAsGozxing(t, fmt.Sprintf("patterns at the edges, %d px a module", px), bits) && px > 1 {
				t.Fatalf("no patterns found at %d px a module", px)
			}
			bits.Rotate180()
			sameSearchAsGozxing(t, fmt.Sprintf("patterns at the edges, %d px a module, turned", px), bits)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 200 {
		w, h := 1+rng.IntN(120), 1+rng.IntN(120)
		bits, _ := gozxing.NewBitMatrix(w, h)
		density := rng.Float64()
		for y := range h {
			for x := range w {
				if rng.Float64() < density {
					bits.Set(x, y)
				}
			}
		}
		sameSearchAsGozxing(t, fmt.Sprintf("noise %d (%d×%d)", n, w, h), bits)
	}
	if found < 100 {
		t.Fatalf("gozxing found patterns in only %d matrices", found)
	}
}

// FuzzFindPatterns: on any matrix findPatterns answers as gozxing's Find.
func FuzzFindPatterns(f *testing.F) {
	f.Add(uint8(21), []byte{0xff, 0x00, 0x7f, 0x41, 0x5d, 0x5d, 0x5d, 0x41, 0x7f})
	f.Add(uint8(40), make([]byte, 300))
	f.Fuzz(func(t *testing.T, w uint8, data []byte) {
		if w == 0 || len(data) > 1<<14 {
			return
		}
		h := (len(data)*8 + int(w) - 1) / int(w)
		if h == 0 {
			return
		}
		bits, _ := gozxing.NewBitMatrix(int(w), h)
		for i := range int(w) * h {
			if i/8 < len(data) && data[i/8]>>(i%8)&1 != 0 {
				bits.Set(i%int(w), i/int(w))
			}
		}
		sameSearchAsGozxing(t, "fuzz", bits)
	})
}

// BenchmarkFindPatterns: gozxing's Find beside findPatterns on the
// binarizations of eight hard photos.
func BenchmarkFindPatterns(b *testing.B) {
	var mats []*gozxing.BitMatrix
	for _, c := range loadPhotoCorpus(b) {
		if c.class != "photo" || len(mats) == 8 {
			continue
		}
		g := toGray(c.image(b))
		src, _ := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
		bits, err := newHybridBinarizer(src).GetBlackMatrix()
		if err != nil {
			b.Fatal(err)
		}
		mats = append(mats, bits)
	}
	b.Run("gozxing", func(b *testing.B) {
		for b.Loop() {
			for _, m := range mats {
				detector.NewFinderPatternFinder(m, nil).Find(tryHarder)
			}
		}
	})
	b.Run("findPatterns", func(b *testing.B) {
		for b.Loop() {
			for _, m := range mats {
				findPatterns(detector.NewFinderPatternFinder(m, nil))
			}
		}
	})
}

// crossRatios decides as gozxing's foundPatternCross for every five runs
// of 0 to 14 pixels, and for long runs.
func TestCrossRatiosMatchGozxing(t *testing.T) {
	c := make([]int, 5)
	var check func(k int)
	check = func(k int) {
		if k == 5 {
			if got, want := crossRatios(c), detector.FinderPatternFinder_foundPatternCross(c); got != want {
				t.Fatalf("runs %v: %v, gozxing %v", c, got, want)
			}
			return
		}
		for n := range 15 {
			c[k] = n
			check(k + 1)
		}
	}
	check(0)
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		m := 1 + rng.IntN(400)
		for k := range c {
			c[k] = m*[]int{1, 1, 3, 1, 1}[k] + rng.IntN(m+1) - m/2
			c[k] = max(c[k], 0)
		}
		if got, want := crossRatios(c), detector.FinderPatternFinder_foundPatternCross(c); got != want {
			t.Fatalf("runs %v: %v, gozxing %v", c, got, want)
		}
	}
}
