package qrscan

import (
	"math"
	"sort"

	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// Grid fitting. Three finder patterns fix an affine grid; perspective needs a
// fourth point, which gozxing takes from the bottom-right alignment pattern
// it searches for near a parallelogram estimate. Under strong keystone that
// estimate is several modules off, the search finds nothing or a neighbour,
// and the whole grid is skewed. Here the fourth point is fitted instead: a
// candidate grid is scored by how well it reproduces the patterns every code
// of that version has (timing rows and columns, every alignment pattern),
// and the point is moved while the score improves. A score costs a few
// hundred samples, far less than a decode attempt.

// gridPoint is a point in image coordinates.
type gridPoint struct{ x, y float64 }

// gridTransform maps module coordinates to image coordinates with the finder
// pattern centres at (3.5, 3.5), (dim−3.5, 3.5), (3.5, dim−3.5) and br at
// (dim−6.5, dim−6.5).
func gridTransform(loc *located, br gridPoint, dim int) *common.PerspectiveTransform {
	d := float64(dim)
	return common.PerspectiveTransform_QuadrilateralToQuadrilateral(
		3.5, 3.5, d-3.5, 3.5, d-6.5, d-6.5, 3.5, d-3.5,
		loc.tl.GetX(), loc.tl.GetY(), loc.tr.GetX(), loc.tr.GetY(), br.x, br.y, loc.bl.GetX(), loc.bl.GetY())
}

// patternCells lists module centres whose colour every code of dimension dim
// has, as (x, y, dark) triples: the timing patterns and the alignment
// patterns' centres, rings and corners. A version's list is made once
// (patternTables) and shared: callers only read it.
func patternCells(dim int) [][3]int {
	if v := (dim - 17) / 4; (dim-17)%4 == 0 && v >= 1 && v <= 40 {
		return patternTables[v]()
	}
	return makePatternCells(dim)
}

// patternTables holds each version's patternCells, made the first time a
// grid of that version is fitted: a scan fits dozens of grids of a few
// versions, and made anew the lists were a twentieth of what it allocated.
var patternTables = perVersion(func(version *decoder.Version) [][3]int {
	return makePatternCells(version.GetDimensionForVersion())
})

func makePatternCells(dim int) [][3]int {
	var cells [][3]int
	for i := 8; i < dim-8; i++ {
		cells = append(cells, [3]int{i, 6, b2i(i%2 == 0)}, [3]int{6, i, b2i(i%2 == 0)})
	}
	v, err := decoder.Version_GetVersionForNumber((dim - 17) / 4)
	if err != nil {
		return cells
	}
	centers := v.GetAlignmentPatternCenters()
	for _, cy := range centers {
		for _, cx := range centers {
			if cx < 9 && cy < 9 || cx < 9 && cy > dim-10 || cx > dim-10 && cy < 9 {
				continue // under a finder pattern
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					ring := max(abs(dx), abs(dy))
					cells = append(cells, [3]int{cx + dx, cy + dy, b2i(ring != 1)})
				}
			}
		}
	}
	return cells
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// moduleSize is the size of a module in pixels along the top edge, for a
// code of dimension dim.
func (l *located) moduleSize(dim int) float64 {
	return math.Hypot(l.tr.GetX()-l.tl.GetX(), l.tr.GetY()-l.tl.GetY()) / float64(dim-7)
}

// scoreScratch holds what gridScore needs for one set of cells, made once
// for the many grids a fit scores: the cells' centres in module space, and
// room for them through a transform and for their values.
type scoreScratch struct {
	centres, pts []float64
	vals         []float32
}

func newScoreScratch(cells [][3]int) *scoreScratch {
	sc := &scoreScratch{centres: make([]float64, 2*len(cells)), pts: make([]float64, 2*len(cells)), vals: make([]float32, len(cells))}
	for i, c := range cells {
		sc.centres[2*i], sc.centres[2*i+1] = float64(c[0])+0.5, float64(c[1])+0.5
	}
	return sc
}

// gridScore is the contrast between cells that must be dark and cells that
// must be light, sampled through tr: high when the grid sits on the code.
// sc is cells' scratch: all cells go through tr in one call.
func gridScore(g *gray, tr *common.PerspectiveTransform, cells [][3]int, sc *scoreScratch) float64 {
	pts := sc.pts
	copy(pts, sc.centres)
	tr.TransformPoints(pts)
	vals := sc.vals
	if !g.sample(pts, vals) {
		return math.Inf(-1)
	}
	var dark, light float64
	var nd, nl int
	for i, c := range cells {
		v := vals[i]
		if c[2] == 1 {
			dark += float64(v)
			nd++
		} else {
			light += float64(v)
			nl++
		}
	}
	if nd == 0 || nl == 0 {
		return math.Inf(-1)
	}
	return light/float64(nl) - dark/float64(nd)
}

// fitGrid moves the fourth point from start (coordinate descent, step from
// two modules down to an eighth) to where the pattern score is highest, and
// returns it with its score.
func fitGrid(g *gray, loc *located, start gridPoint, dim int, cells [][3]int) (gridPoint, float64) {
	module := loc.moduleSize(dim)
	sc := newScoreScratch(cells)
	best := start
	bestScore := gridScore(g, gridTransform(loc, best, dim), cells, sc)
	for step := 2 * module; step >= module/8; step /= 2 {
		for improved := true; improved; {
			improved = false
			for _, d := range [][2]float64{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				cand := gridPoint{best.x + d[0]*step, best.y + d[1]*step}
				if s := gridScore(g, gridTransform(loc, cand, dim), cells, sc); s > bestScore {
					best, bestScore, improved = cand, s, true
				}
			}
		}
	}
	return best, bestScore
}

// coarseCorner searches a square of ±12 modules around start for the fourth
// point with the best pattern score: under strong keystone no local
// estimate comes close enough for fitGrid's descent. It scores the square
// in steps of four modules, then steps of two around the three best points:
// 76 scores where the steps of two everywhere took 169, and on the photo
// corpus and two fresh mixed corpora the same images read by the same
// passes (BenchmarkScanPhotos, 10 alternating rounds: perspective −14 %,
// blur2 −18 %, small1.5px −27 %, photo −9 % at p = 0.08).
func coarseCorner(g *gray, loc *located, start gridPoint, dim int, cells [][3]int) gridPoint {
	module := loc.moduleSize(dim)
	sc := newScoreScratch(cells)
	type scored struct {
		dx, dy int
		score  float64
	}
	var coarse []scored
	for dy := -12; dy <= 12; dy += 4 {
		for dx := -12; dx <= 12; dx += 4 {
			p := gridPoint{start.x + float64(dx)*module, start.y + float64(dy)*module}
			coarse = append(coarse, scored{dx, dy, gridScore(g, gridTransform(loc, p, dim), cells, sc)})
		}
	}
	sort.Slice(coarse, func(i, j int) bool { return coarse[i].score > coarse[j].score })
	best, bestScore := start, math.Inf(-1)
	seen := map[[2]int]bool{}
	for _, c := range coarse[:3] {
		for dy := -2; dy <= 2; dy += 2 {
			for dx := -2; dx <= 2; dx += 2 {
				k := [2]int{c.dx + dx, c.dy + dy}
				if seen[k] || abs(k[0]) > 12 || abs(k[1]) > 12 {
					continue
				}
				seen[k] = true
				p := gridPoint{start.x + float64(k[0])*module, start.y + float64(k[1])*module}
				if s := gridScore(g, gridTransform(loc, p, dim), cells, sc); s > bestScore {
					best, bestScore = p, s
				}
			}
		}
	}
	return best
}
