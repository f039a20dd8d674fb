package qrscan

import (
	"math"
	"slices"
	"sort"

	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// Finder patterns by correlation. gozxing finds finder patterns in a
// binarized image by their 1:1:3:1:1 runs. At about two pixels per module
// under blur, noise and JPEG, binarization merges the one-module rings and
// no run pattern is left, although the pattern is still plainly there in the
// gray image. Here each pixel is scored by the normalized correlation of its
// neighbourhood with the pattern (dark 3×3 centre, light ring, dark ring,
// light separator) at a few module sizes. The pattern is concentric squares,
// so the correlation is four box sums from integral images: O(1) per pixel
// and size.

// templateModules are the module sizes (pixels) the correlation tries: the
// small codes gozxing's run search misses. Larger modules survive
// binarization.
var templateModules = []float64{1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3}

// minFinderScore is the correlation a finder pattern must reach. A real one
// under the corpus's distortions scores 0.6 to 0.9; data areas rarely pass
// 0.5 over the separator ring's extent.
const minFinderScore = 0.55

// The pass runs on working images of at most templateMaxPixels (a 4:3
// photo at the working size). Its summed-area tables (4 and 8 bytes a
// pixel) and best score and module size per pixel (4 and 1), 17 bytes a
// pixel, stay below the peak of the upscaling passes that Inspect's
// ScanBytes counts.
const templateMaxPixels = maxWorkingSide * maxWorkingSide * 3 / 4

// integral holds the summed-area tables of the pixel values and their
// squares (exact: a 2-megapixel sum of bytes fits 32 bits, of their squares
// 64).
type integral struct {
	w  int // g.w + 1
	s  []uint32
	s2 []uint64
}

func newIntegral(g *gray) *integral {
	w := g.w + 1
	it := &integral{w: w, s: make([]uint32, w*(g.h+1)), s2: make([]uint64, w*(g.h+1))}
	for y := 0; y < g.h; y++ {
		var row uint32
		var row2 uint64
		for x := 0; x < g.w; x++ {
			v := uint32(g.pix[y*g.w+x])
			row += v
			row2 += uint64(v * v)
			i := (y+1)*w + x + 1
			it.s[i] = it.s[i-w] + row
			it.s2[i] = it.s2[i-w] + row2
		}
	}
	return it
}

// finderCandidate is a correlation peak: a likely finder pattern centre.
type finderCandidate struct {
	x, y, module, score float64
}

// findFinderPatterns returns the strongest correlation peaks of at least
// minScore (minFinderScore, or lower for a search that expects blur), at
// most n, best first, each the best of its neighbourhood. stop is asked every few
// rows (a 1600×1200 image takes about half a second); when it says so, the
// search ends with nothing.
func findFinderPatterns(g *gray, n int, minScore float64, stop func() bool) []finderCandidate {
	if g.w*g.h > templateMaxPixels {
		return nil
	}
	it := newIntegral(g)
	best := make([]float32, g.w*g.h)
	bestM := make([]uint8, g.w*g.h)
	for mi, m := range templateModules {
		// Half-widths of the 3, 5, 7 and 9 module squares, in whole pixels
		// around the centre pixel.
		h3, h5, h7, h9 := halfWidth(1.5*m), halfWidth(2.5*m), halfWidth(3.5*m), halfWidth(4.5*m)
		a3, a5, a7, a9 := sq(2*h3+1), sq(2*h5+1), sq(2*h7+1), sq(2*h9+1)
		// Template: centre −1, ring +1, ring −1, separator +1.
		tsum := -a3 + (a5 - a3) - (a7 - a5) + (a9 - a7)
		n := a9
		tmean := tsum / n
		tvar := n - n*tmean*tmean // Σt² = n (every value ±1)
		if tvar <= 0 {
			continue
		}
		w := it.w
		for y := h9; y < g.h-h9; y++ {
			if y%32 == 0 && stop() {
				return nil
			}
			// The rows of the four squares' top and bottom edges in the
			// tables, and the column offsets of their sides.
			t3, b3r := (y-h3)*w, (y+h3+1)*w
			t5, b5r := (y-h5)*w, (y+h5+1)*w
			t7, b7r := (y-h7)*w, (y+h7+1)*w
			t9, b9r := (y-h9)*w, (y+h9+1)*w
			for x := h9; x < g.w-h9; x++ {
				box := func(top, bot, h int) uint32 {
					l, r := x-h, x+h+1
					return it.s[bot+r] - it.s[top+r] - it.s[bot+l] + it.s[top+l]
				}
				b3, b5, b7 := float64(box(t3, b3r, h3)), float64(box(t5, b5r, h5)), float64(box(t7, b7r, h7))
				b9 := float64(box(t9, b9r, h9))
				num := -2*b3 + 2*b5 - 2*b7 + b9 - tmean*b9
				if num <= 0 {
					continue // negative correlation: best starts at 0
				}
				l, r := x-h9, x+h9+1
				xvar := float64(it.s2[b9r+r]-it.s2[t9+r]-it.s2[b9r+l]+it.s2[t9+l]) - b9*b9/n
				i := y*g.w + x
				// num / sqrt(tvar·xvar) > best, without the square root
				// for the many pixels that do not beat their best.
				if bi := float64(best[i]); xvar <= 0 || num*num <= bi*bi*tvar*xvar {
					continue
				}
				if r := num / math.Sqrt(tvar*xvar); float32(r) > best[i] {
					best[i], bestM[i] = float32(r), uint8(mi)
				}
			}
		}
	}
	// Local maxima above the threshold, suppressed within 3.5 modules.
	var peaks []finderCandidate
	for y := 1; y < g.h-1; y++ {
		for x := 1; x < g.w-1; x++ {
			i := y*g.w + x
			r := best[i]
			if float64(r) < minScore {
				continue
			}
			m := templateModules[bestM[i]]
			rad := int(3.5 * m)
			isMax := true
			for yy := max(0, y-rad); yy <= min(g.h-1, y+rad) && isMax; yy++ {
				for xx := max(0, x-rad); xx <= min(g.w-1, x+rad); xx++ {
					if j := yy*g.w + xx; best[j] > r || best[j] == r && j < i {
						isMax = false
						break
					}
				}
			}
			if !isMax {
				continue
			}
			// Sub-pixel centre: a parabola through the scores either side.
			dx := parabolaPeak(best[i-1], r, best[i+1])
			dy := parabolaPeak(best[i-g.w], r, best[i+g.w])
			peaks = append(peaks, finderCandidate{float64(x) + 0.5 + dx, float64(y) + 0.5 + dy, m, float64(r)})
		}
	}
	sort.Slice(peaks, func(i, j int) bool { return peaks[i].score > peaks[j].score })
	return peaks[:min(len(peaks), n)]
}

func halfWidth(v float64) int { return max(1, int(math.Round(v-0.5))) }

func sq(v int) float64 { return float64(v * v) }

// parabolaPeak is the offset (−0.5…0.5) of the vertex of the parabola
// through (−1, a), (0, b), (1, c), b being the largest.
func parabolaPeak(a, b, c float32) float64 {
	d := float64(a - 2*b + c)
	if d >= 0 {
		return 0
	}
	return math.Max(-0.5, math.Min(0.5, 0.5*float64(a-c)/d))
}

// locateByTemplate turns the correlation peaks of at least minScore into
// grids (nothing when stop ends the search): every triple of
// peaks that forms the corners of a square seen at a plausible angle, with
// similar module sizes, best first, at most maxTriples.
func locateByTemplate(g *gray, minScore float64, stop func() bool) []*located {
	peaks := findFinderPatterns(g, 8, minScore, stop)
	type triple struct {
		loc  *located
		cost float64
	}
	var triples []triple
	for i := range peaks {
		for j := i + 1; j < len(peaks); j++ {
			for k := j + 1; k < len(peaks); k++ {
				p := [3]finderCandidate{peaks[i], peaks[j], peaks[k]}
				ms := []float64{p[0].module, p[1].module, p[2].module}
				if slices.Max(ms)/slices.Min(ms) > 1.5 {
					continue
				}
				fp := func(c finderCandidate) *detector.FinderPattern {
					return detector.NewFinderPattern(c.x, c.y, c.module, 2)
				}
				info := orderedInfo(fp(p[0]), fp(p[1]), fp(p[2]))
				cost, ok := squareCost(info)
				if !ok {
					continue
				}
				if loc := estimateGrid(info); loc != nil {
					loc.rough = true
					triples = append(triples, triple{loc, cost - (p[0].score+p[1].score+p[2].score)/3})
				}
			}
		}
	}
	sort.Slice(triples, func(i, j int) bool { return triples[i].cost < triples[j].cost })
	var out []*located
	for _, t := range triples[:min(len(triples), maxTriples)] {
		out = append(out, t.loc)
	}
	return out
}
