package qrscan

import (
	"math"

	"github.com/makiuchi-d/gozxing/common"
)

// Refitting a blurred code's grid. Under a blur of about a module the
// finder correlation places the three patterns' centres within a pixel or
// two, and the dimension, estimated from the patterns' apparent module size
// (which the blur inflates), is often a version or more off; the grid score
// of the passes, read from the blurred pixels, cannot tell the right grid
// from its neighbours. Deblurred on a grid one or two pixels off, 9–16 %
// of a code's timing and alignment modules came out wrong (8 % is the most
// a restoration is decoded with), and on the wrong dimension 40–55 %. So
// when no width restores the located grid, the deblurring's own view of the
// code's fixed patterns chooses the grid: the dimensions of up to
// refitVersions versions either side, then coordinate descent on the four
// corner points (the three finder centres and the point opposite) while the
// restored patterns improve.
//
// Measured on 80 fresh codes of mixed error correction levels, module
// sizes and quiet zones (scripts/bench-qr.sh --fresh-mix) under the blur2
// class's σ = 2 px: five of their 16 codes of 2 px modules were missed. Two
// grids had the right dimension with corners 0.7 and 2.5 px off, two were
// two and three versions off; the refit reads these four. The fifth (level
// L, one module of quiet zone) is not read even on its true grid.

// refitVersions is how many versions either side of the located dimension
// the refit tries.
const refitVersions = 4

// refitWidths are the blur widths (modules) the refit judges a dimension
// at; the best one then guides the descent.
var refitWidths = []float64{1, 0.8, 1.2, 0.6}

// refitMinWidth is the narrowest blur (modules) a refit is for: when a
// code's restoration fits best at a narrower width, the passes have located
// its grid about as well as the pixels allow. On fresh codes of the photo
// class (σ = 1 px on 2 px modules, noise, JPEG) whose reading failed, the
// best width was 0.6; refitting them anyway moved the located grids by
// 0.3–0.6 px and read no more modules right (at width 0.5, 3.2–4.4 % wrong
// before and 3.2–5.6 % after).
const refitMinWidth = 0.7

// refitMinFit is the pattern fit (patternFit) a grid needs before the
// descent is spent on it. On the misses above, the right dimension scored
// 0.49–0.84 at its best width; the others mostly under 0.3, up to 0.68 for
// one two versions from the right one (which still scored higher), and
// grids located on no code 0.1 or less.
const refitMinFit = 0.3

// refitSubsamples is the points per module and axis the refit's
// restorations average: a reading averages deblurSubsamples (nine points),
// the refit four, for less than half the sampling of the many grids it
// judges. With one point the descent stopped up to half a pixel from the
// true corners, and the dimension stage took blurred codes for sharper
// ones.
const refitSubsamples = 2

// refitSteps are the descent's step sizes in pixels.
var refitSteps = []float64{1, 0.5, 0.25}

// patternFit is how well restored module values (dark below zero) match
// the code's fixed patterns (patternCells): the mean of each cell's value
// signed by its colour and clamped to ±1, so 1 is a clean restoration and
// 0 chance.
func patternFit(vals []float32, dim int, cells [][3]int) float64 {
	var s float64
	for _, c := range cells {
		s += math.Max(-1, math.Min(1, signedValue(vals, dim, c)))
	}
	return s / float64(max(len(cells), 1))
}

// signedValue is a cell's restored value signed by the colour the cell
// must have: about 1 when restored cleanly, below 0 when wrong.
func signedValue(vals []float32, dim int, c [3]int) float64 {
	v := float64(vals[c[1]*dim+c[0]])
	if c[2] == 1 {
		return -v
	}
	return v
}

// patternMatch is how closely restored module values match the code's
// fixed patterns: minus the mean squared distance of each cell's value,
// signed by its colour, from 1 (a clean restoration's level). Unlike
// patternFit it keeps rising while the grid improves after every cell has
// the right sign.
func patternMatch(vals []float32, dim int, cells [][3]int) float64 {
	var s float64
	for _, c := range cells {
		d := math.Max(-2, math.Min(2, signedValue(vals, dim, c))) - 1
		s += d * d
	}
	return -s / float64(max(len(cells), 1))
}

// fixedCells lists the modules of a dim×dim code whose colour every code
// has, as patternCells does: the finder patterns with their separators as
// well as the timing and alignment patterns.
func fixedCells(dim int) [][3]int {
	var cells [][3]int
	for _, m := range knownModules(dim) {
		if m.colour != 0 && m.x >= 0 && m.y >= 0 && m.x < dim && m.y < dim {
			dark := 0
			if m.colour < 0 {
				dark = 1
			}
			cells = append(cells, [3]int{m.x, m.y, dark})
		}
	}
	return cells
}

// finderQuad is the grid tr's four corner points for a dimension dim: the
// three finder patterns' centres and the point opposite the top-left one.
func finderQuad(tr *common.PerspectiveTransform, dim int) []float64 {
	d := float64(dim)
	p := []float64{3.5, 3.5, d - 3.5, 3.5, d - 3.5, d - 3.5, 3.5, d - 3.5}
	tr.TransformPoints(p)
	return p
}

// quadGrid is the grid of dimension dim whose corner points (finderQuad)
// are p.
func quadGrid(p []float64, dim int) *common.PerspectiveTransform {
	d := float64(dim)
	return common.PerspectiveTransform_QuadrilateralToQuadrilateral(3.5, 3.5, d-3.5, 3.5, d-3.5, d-3.5, 3.5, d-3.5,
		p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
}

// refitDeblurGrid chooses the dimension and corners of a blurred code's
// grid by the pattern fit of its restoration (see above), starting from
// the located grid tr of dimension dim. ok is false when no dimension
// reaches refitMinFit, the best width is under refitMinWidth (no blur to
// refit for), or stop ends the search.
func refitDeblurGrid(g *gray, tr *common.PerspectiveTransform, dim int, stop func() bool) (*common.PerspectiveTransform, int, bool) {
	quad := finderQuad(tr, dim)
	fit := func(p []float64, dim int, cells [][3]int, sigma float64) float64 {
		d, ok := newDeblurGrid(g, quadGrid(p, dim), dim, refitSubsamples)
		if !ok {
			return math.Inf(-1)
		}
		return patternMatch(d.modules(sigma), dim, cells)
	}
	best, bestDim, bestSigma := math.Inf(-1), 0, 0.0
	for v := 0; v <= 2*refitVersions; v++ {
		dd := 4 * ((v + 1) / 2) // 0, 4, 4, 8, 8, …
		if v%2 == 1 {
			dd = -dd
		}
		nd := dim + dd
		if nd < 21 || nd > 177 {
			continue
		}
		if stop() {
			return nil, 0, false
		}
		d, ok := newDeblurGrid(g, quadGrid(quad, nd), nd, refitSubsamples)
		if !ok {
			continue
		}
		cells := patternCells(nd)
		for _, sigma := range refitWidths {
			if f := patternFit(d.modules(sigma), nd, cells); f > best {
				best, bestDim, bestSigma = f, nd, sigma
			}
		}
	}
	if best < refitMinFit || bestSigma < refitMinWidth {
		return nil, 0, false
	}
	cells := fixedCells(bestDim)
	score := func(p []float64) float64 { return fit(p, bestDim, cells, bestSigma) }
	if !descend(quad, refitSteps, score(quad), score, stop) {
		return nil, 0, false
	}
	return quadGrid(quad, bestDim), bestDim, true
}
