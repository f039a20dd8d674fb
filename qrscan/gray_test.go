package qrscan

import (
	"math"
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

func TestAtRejectsPointsOutsideAndNaN(t *testing.T) {
	g := &gray{pix: []byte{0, 100, 200, 255}, w: 2, h: 2}
	for _, p := range [][2]float64{{math.NaN(), 1}, {1, math.NaN()}, {math.Inf(1), 1}, {-5, 1}, {1, 9}} {
		if _, ok := g.at(p[0], p[1]); ok {
			t.Errorf("at(%v, %v) accepted", p[0], p[1])
		}
	}
	if v, ok := g.at(1, 1); !ok || v < 0 || v > 255 {
		t.Errorf("at(1, 1) = %v, %v", v, ok)
	}
	if v, _ := g.at(0.5, 0.5); v != 0 {
		t.Errorf("at a pixel centre = %v, want the pixel's value 0", v)
	}
}

// TestAtShortPathMatchesEdgePath: at's short path for points inside the
// image gives what the general path (atEdge) gives, bit for bit, at random
// points, pixel centres and the last column and row.
func TestAtShortPathMatchesEdgePath(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := &gray{pix: make([]byte, 7*5), w: 7, h: 5}
	for i := range g.pix {
		g.pix[i] = byte(rng.IntN(256))
	}
	pts := [][2]float64{{0.5, 0.5}, {6.5, 4.5}, {6.49, 4.49}, {6.5, 1.2}, {3.3, 4.5}, {0.5, 4.2}}
	for range 2000 {
		pts = append(pts, [2]float64{rng.Float64() * 7, rng.Float64() * 5})
	}
	short := 0
	for _, p := range pts {
		got, ok := g.at(p[0], p[1])
		want, wantOK := g.atEdge(p[0]-0.5, p[1]-0.5)
		if got != want || ok != wantOK {
			t.Fatalf("at(%v, %v) = %v, %v; the general path gives %v, %v", p[0], p[1], got, ok, want, wantOK)
		}
		if p[0] >= 0.5 && p[0] < 6.5 && p[1] >= 0.5 && p[1] < 4.5 {
			short++
		}
	}
	if short < 1000 {
		t.Fatalf("only %d points on the short path", short)
	}
}

// rounded.of is (sum + n/2) / n for every sum a box of bytes can have.
func TestRoundedDivision(t *testing.T) {
	for n := 1; n <= 41; n += 2 {
		d := roundedBy(n)
		for sum := 0; sum <= 255*n; sum++ {
			if got, want := d.of(sum), byte((sum+n/2)/n); got != want {
				t.Fatalf("n %d sum %d: %d, want %d", n, sum, got, want)
			}
		}
	}
}
