package qrscan

import (
	"math/rand/v2"
	"testing"

	"github.com/makiuchi-d/gozxing"
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
