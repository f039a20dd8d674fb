package verifier

import (
	"math/rand/v2"
	"testing"
)

// boxNaive is the definition boxH and boxV must match: the clamped mean.
func boxNaive(src []byte, w, h, r int, horizontal bool) []byte {
	out := make([]byte, len(src))
	n := 2*r + 1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sum := 0
			for i := -r; i <= r; i++ {
				if horizontal {
					sum += int(src[y*w+min(max(x+i, 0), w-1)])
				} else {
					sum += int(src[min(max(y+i, 0), h-1)*w+x])
				}
			}
			out[y*w+x] = byte((sum + n/2) / n)
		}
	}
	return out
}

func TestBoxFiltersMatchDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range [][3]int{{1, 1, 1}, {3, 2, 2}, {17, 5, 3}, {40, 31, 4}, {8, 8, 6}} {
		w, h, r := size[0], size[1], size[2]
		src := make([]byte, w*h)
		for i := range src {
			src[i] = byte(rng.IntN(256))
		}
		got := make([]byte, len(src))
		boxH(src, got, w, h, r)
		if want := boxNaive(src, w, h, r, true); string(got) != string(want) {
			t.Errorf("boxH %dx%d r=%d differs from the clamped mean", w, h, r)
		}
		boxV(src, got, w, h, r)
		if want := boxNaive(src, w, h, r, false); string(got) != string(want) {
			t.Errorf("boxV %dx%d r=%d differs from the clamped mean", w, h, r)
		}
	}
}

func TestScaleKeepsFlatImagesFlat(t *testing.T) {
	g := &gray{pix: make([]byte, 30*20), w: 30, h: 20}
	for i := range g.pix {
		g.pix[i] = 77
	}
	for _, f := range []float64{0.5, 1.5, 2, 3} {
		s := g.scale(f)
		if s.w != int(30*f+0.5) || s.h != int(20*f+0.5) {
			t.Fatalf("scale(%v) = %dx%d", f, s.w, s.h)
		}
		for _, p := range s.pix {
			if p != 77 {
				t.Fatalf("scale(%v) changed a flat image to %d", f, p)
			}
		}
	}
}
