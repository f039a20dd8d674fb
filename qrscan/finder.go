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

// templateModules are the module sizes (pixels) the correlation tries,
// ascending: the small codes gozxing's run search misses. Larger modules
// survive binarization.
var templateModules = []float64{1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3}

// minFinderScore is the correlation a finder pattern must reach. A real one
// under the corpus's distortions scores 0.6 to 0.9; data areas rarely pass
// 0.5 over the separator ring's extent.
const minFinderScore = 0.55

// The pass runs on working images of at most templateMaxPixels (a 4:3
// photo at the working size). Its summed-area tables (4 bytes a pixel
// each) and best score and module size per pixel (4 and 1), 13 bytes a
// pixel, stay below the peak of the upscaling passes that Inspect's
// ScanBytes counts.
const templateMaxPixels = maxWorkingSide * maxWorkingSide * 3 / 4

// integral holds the summed-area tables of the pixel values and their
// squares, both in 32 bits: a 2-megapixel sum of bytes fits, and the
// squares' table wraps around, which leaves its box sums exact (unsigned
// arithmetic is modulo 2³², and the largest template's 27×27 box of squares
// stays far below it). Half the bytes of a 64-bit table of squares.
type integral struct {
	w  int // g.w + 1
	s  []uint32
	s2 []uint32
}

// boxSum is a box's sum from a summed-area table: the box's top and bottom
// edges are the table rows starting at top and bot (y−h and y+h+1 times
// the table's width), its sides the columns l and r (x−h and x+h+1).
func boxSum(t []uint32, top, bot, l, r int) uint32 {
	return t[bot+r] - t[top+r] - t[bot+l] + t[top+l]
}

func newIntegral(g *gray) *integral {
	w := g.w + 1
	it := &integral{w: w, s: make([]uint32, w*(g.h+1)), s2: make([]uint32, w*(g.h+1))}
	for y := 0; y < g.h; y++ {
		var row, row2 uint32
		for x := 0; x < g.w; x++ {
			v := uint32(g.pix[y*g.w+x])
			row += v
			row2 += v * v
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
	tpl := finderTemplates()
	best, bestM := correlate(g, it, tpl, minScore, stop)
	if best == nil {
		return nil
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
			// Sub-pixel centre: a parabola through the scores either
			// side, which correlate left at 0 when under minScore.
			at := func(x, y int) float32 {
				if v := best[y*g.w+x]; v != 0 {
					return v
				}
				return scoreAt(g, it, tpl, x, y)
			}
			dx := parabolaPeak(at(x-1, y), r, at(x+1, y))
			dy := parabolaPeak(at(x, y-1), r, at(x, y+1))
			peaks = append(peaks, finderCandidate{float64(x) + 0.5 + dx, float64(y) + 0.5 + dy, m, float64(r)})
		}
	}
	sort.Slice(peaks, func(i, j int) bool { return peaks[i].score > peaks[j].score })
	return peaks[:min(len(peaks), n)]
}

// correlate scores each pixel with the best correlation of any template
// and returns the scores and which template gave each; nil when stop ends
// it. Only scores of at least minScore are kept, the rest left at 0: the
// peak search needs no other, and a pixel's square root and division are
// then taken only when a template beats minScore.
//
// The templates' squares share half-widths (13 distinct among 36), so each
// row's box sums are taken once per half-width, as exact integers, and read
// by every template; each template then scores the row, the row's best
// kept in a row of its own. Every loop runs over slices of one length, so
// the compiler drops their bounds checks: with the sums in integers, 39 %
// less time than scoring each pixel's templates together with bounds-checked
// sums in floats (BenchmarkCorrelate, 6 alternating rounds), the same
// scores (TestCorrelateMatchesDefinition: the sums are integers either way).
func correlate(g *gray, it *integral, tpl []finderTemplate, minScore float64, stop func() bool) ([]float32, []uint8) {
	best := make([]float32, g.w*g.h)
	bestM := make([]uint8, g.w*g.h)
	// floor is the largest float32 under minScore: a score beats it
	// exactly when it reaches minScore.
	f := float32(minScore)
	if float64(f) < minScore {
		f = math.Nextafter32(f, 2)
	}
	floor := math.Nextafter32(f, 0)
	// rows[k] holds the current row's box sums of half-width hs[k];
	// box[t] indexes each template's four squares into rows.
	var hs []int
	box := make([][4]int, len(tpl))
	for ti, t := range tpl {
		for si, h := range t.h {
			k := slices.Index(hs, h)
			if k < 0 {
				k = len(hs)
				hs = append(hs, h)
			}
			box[ti][si] = k * g.w
		}
	}
	rows := make([]int32, len(hs)*g.w)
	w, minH9 := it.w, tpl[0].h[3] // the smallest template first
	// bestRow and bestMRow are the current row's best score and template.
	bestRow := make([]float32, g.w)
	bestMRow := make([]uint8, g.w)
	for y := minH9; y < g.h-minH9; y++ {
		if y%4 == 0 && stop() {
			return nil, nil
		}
		for k, h := range hs {
			if y < h || y+h+1 > g.h || 2*h >= g.w {
				continue
			}
			// Column x's box is the table's rows top and bot at columns
			// x−h and x+h+1: four slices of one length, read without
			// bounds checks.
			top, bot := it.s[(y-h)*w:(y-h+1)*w], it.s[(y+h+1)*w:(y+h+2)*w]
			out := rows[k*g.w+h : (k+1)*g.w-h]
			tl, bl, tr, br := top[:len(out)], bot[:len(out)], top[2*h+1:][:len(out)], bot[2*h+1:][:len(out)]
			for i := range out {
				out[i] = int32(br[i] - tr[i] - bl[i] + tl[i])
			}
		}
		for x := range bestRow {
			bestRow[x], bestMRow[x] = floor, 0
		}
		for ti := range tpl {
			t, b := &tpl[ti], &box[ti]
			h9 := t.h[3]
			if y < h9 || y >= g.h-h9 {
				continue
			}
			x0, x1 := h9, g.w-h9
			if x1 <= x0 {
				continue
			}
			r0, r1, r2, r3 := rows[b[0]+x0:b[0]+x1], rows[b[1]+x0:b[1]+x1], rows[b[2]+x0:b[2]+x1], rows[b[3]+x0:b[3]+x1]
			n := len(r0)
			s2t, s2b := it.s2[(y-h9)*w:(y-h9+1)*w], it.s2[(y+h9+1)*w:(y+h9+2)*w]
			s2tl, s2bl, s2tr, s2br := s2t[:n], s2b[:n], s2t[2*h9+1:][:n], s2b[2*h9+1:][:n]
			bs, bms := bestRow[x0:x1], bestMRow[x0:x1]
			r1, r2, r3, bs, bms = r1[:n], r2[:n], r3[:n], bs[:n], bms[:n]
			mean, tn, tvar := t.mean, t.n, t.tvar
			for i := range r0 {
				b9 := float64(r3[i])
				num := float64(2*(r1[i]-r0[i]-r2[i])+r3[i]) - mean*b9
				if num <= 0 {
					continue // negative correlation
				}
				xvar := float64(s2br[i]-s2tr[i]-s2bl[i]+s2tl[i]) - b9*b9/tn
				// num / sqrt(tvar·xvar) > best, without the square root
				// for the many that do not beat it.
				if bf := float64(bs[i]); xvar <= 0 || num*num <= bf*bf*tvar*xvar {
					continue
				}
				if r := num / math.Sqrt(tvar*xvar); float32(r) > bs[i] {
					bs[i], bms[i] = float32(r), uint8(ti)
				}
			}
		}
		for x := minH9; x < g.w-minH9; x++ {
			if bestRow[x] > floor {
				best[y*g.w+x], bestM[y*g.w+x] = bestRow[x], bestMRow[x]
			}
		}
	}
	return best, bestM
}

// scoreAt is one pixel's best correlation over the templates (0 when none
// is positive), from the box sums directly: the value correlate would have
// kept with no threshold.
func scoreAt(g *gray, it *integral, tpl []finderTemplate, x, y int) float32 {
	var best float32
	w := it.w
	for _, t := range tpl {
		h9 := t.h[3]
		if y < h9 || y >= g.h-h9 || x < h9 || x >= g.w-h9 {
			continue
		}
		var b [4]float64
		for k, h := range t.h {
			top, bot, l, r := (y-h)*w, (y+h+1)*w, x-h, x+h+1
			b[k] = float64(boxSum(it.s, top, bot, l, r))
		}
		num := -2*b[0] + 2*b[1] - 2*b[2] + b[3] - t.mean*b[3]
		l, r := x-h9, x+h9+1
		t9, b9r := (y-h9)*w, (y+h9+1)*w
		xvar := float64(boxSum(it.s2, t9, b9r, l, r)) - b[3]*b[3]/t.n
		if num <= 0 || xvar <= 0 {
			continue
		}
		if r := float32(num / math.Sqrt(t.tvar*xvar)); r > best {
			best = r
		}
	}
	return best
}

// finderTemplate is the correlation template at one module size: the
// half-widths, in whole pixels around the centre pixel, of its 3, 5, 7 and 9
// module squares, and its pixel count, mean and variance (centre −1, ring
// +1, ring −1, separator +1).
type finderTemplate struct {
	h             [4]int
	n, mean, tvar float64
}

// finderTemplates are the templates at templateModules' sizes, smallest
// first.
func finderTemplates() []finderTemplate {
	tpl := make([]finderTemplate, len(templateModules))
	for i, m := range templateModules {
		h3, h5, h7, h9 := halfWidth(1.5*m), halfWidth(2.5*m), halfWidth(3.5*m), halfWidth(4.5*m)
		a3, a5, a7, a9 := sq(2*h3+1), sq(2*h5+1), sq(2*h7+1), sq(2*h9+1)
		tsum := -a3 + (a5 - a3) - (a7 - a5) + (a9 - a7)
		n := a9
		mean := tsum / n
		tpl[i] = finderTemplate{[4]int{h3, h5, h7, h9}, n, mean, n - n*mean*mean} // Σt² = n (every value ±1)
	}
	return tpl
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
