package qrscan

import (
	"iter"
	"math"
	"sort"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// Gray-level grid sampling. gozxing (like ZXing) binarizes pixels and then
// reads one binarized pixel per module. At 1.2–2 pixels per module, or under
// blur, the pixel threshold has already destroyed what the module centre
// still shows. Here the finder and alignment patterns come from gozxing, but
// modules are read from the gray image: bilinear value at the module centre,
// compared with the mean of the surrounding modules (a threshold in module
// space, immune to lighting gradients and to how many pixels a module has).

// located is a code found by gozxing's detector, in the coordinates of g.
type located struct {
	bl, tl, tr gozxing.ResultPoint
	align      *detector.AlignmentPattern
	dimension  int
	// rough marks a dimension estimated from pattern sizes alone: each
	// neighbouring dimension then gets its own search for the fourth
	// corner, and the neighbours reach further.
	rough bool
}

// maxTriples bounds how many finder-pattern triples are tried per image.
const maxTriples = 4

// locateAll runs gozxing's finder-pattern search on a binarization of g and
// returns the grids it implies: gozxing's own choice of three patterns first,
// then other plausible triples of the candidates it saw. gozxing picks the
// three candidates with the most similar module size; under keystone the near
// edge's patterns are genuinely larger than the far edge's, and a false
// candidate in the data area can win. The alternatives are ranked by how
// close the triple comes to a right angle at the top-left with arms of
// similar length.
func locateAll(g *gray, hybrid bool) iter.Seq[*located] {
	src, err := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
	if err != nil {
		return func(func(*located) bool) {}
	}
	var bin gozxing.Binarizer = gozxing.NewGlobalHistgramBinarizer(src)
	if hybrid {
		bin = newHybridBinarizer(src)
	}
	bits, err := bin.GetBlackMatrix()
	if err != nil {
		return func(func(*located) bool) {}
	}
	return locateIn(bits)
}

// locateIn is locateAll on an image already binarized (bits is turned
// and turned back). The grids come one at a time: the search for the other
// triples, half of the whole, runs only when the caller asks for more than
// gozxing's own choice, which most codes read from.
func locateIn(bits *gozxing.BitMatrix) iter.Seq[*located] {
	return func(yield func(*located) bool) {
		finder := detector.NewFinderPatternFinder(bits, nil)
		info, findErr := findPatterns(finder)
		det := detector.NewDetector(bits)
		n := 0 // grids yielded
		// next yields the grid of info, if it has one, and reports whether
		// the caller wants more.
		next := func(info *detector.FinderPatternInfo) bool {
			var loc *located
			res, err := det.ProcessFinderPatternInfo(info)
			if err != nil {
				// gozxing refuses dimension estimates of 4k+3; under
				// keystone the estimate is rough anyway, and decodeGrid
				// tries the neighbours.
				loc = estimateGrid(info)
			} else {
				pts := res.GetPoints()
				loc = &located{bl: pts[0], tl: pts[1], tr: pts[2], dimension: res.GetBits().GetWidth()}
				if len(pts) > 3 {
					loc.align, _ = pts[3].(*detector.AlignmentPattern)
				}
			}
			if loc == nil {
				return true
			}
			n++
			return yield(loc)
		}
		var primary [3]*detector.FinderPattern
		if findErr == nil {
			primary = [3]*detector.FinderPattern{info.GetBottomLeft(), info.GetTopLeft(), info.GetTopRight()}
			if !next(info) {
				return
			}
		}

		// gozxing scans rows from the top and stops at three confirmed
		// centres, so a false centre in the data area can hide the
		// bottom-left pattern. A second scan of the image turned by 180°
		// starts from the bottom.
		var cands []*detector.FinderPattern
		for _, c := range finder.GetPossibleCenters() {
			if c.GetCount() >= 2 {
				cands = append(cands, c)
			}
		}
		bits.Rotate180()
		back := detector.NewFinderPatternFinder(bits, nil)
		findPatterns(back) // only its candidates are wanted
		bits.Rotate180()   // det samples alignment patterns from bits
		w, h := float64(bits.GetWidth()), float64(bits.GetHeight())
		for _, c := range back.GetPossibleCenters() {
			if c.GetCount() < 2 {
				continue
			}
			x, y := w-c.GetX(), h-c.GetY()
			dup := false
			for _, o := range cands {
				if math.Hypot(o.GetX()-x, o.GetY()-y) < 3*c.GetEstimatedModuleSize() {
					dup = true
					break
				}
			}
			if !dup {
				cands = append(cands, detector.NewFinderPattern(x, y, c.GetEstimatedModuleSize(), c.GetCount()))
			}
		}
		sort.Slice(cands, func(i, j int) bool { return cands[i].GetCount() > cands[j].GetCount() })
		cands = cands[:min(len(cands), 6)]
		type triple struct {
			bl, tl, tr *detector.FinderPattern
			cost       float64
		}
		var triples []triple
		for i := range cands {
			for j := i + 1; j < len(cands); j++ {
				for k := j + 1; k < len(cands); k++ {
					info := orderedInfo(cands[i], cands[j], cands[k])
					bl, tl, tr := info.GetBottomLeft(), info.GetTopLeft(), info.GetTopRight()
					if [3]*detector.FinderPattern{bl, tl, tr} == primary {
						continue
					}
					if cost, ok := squareCost(info); ok { // the corners of a square seen at a plausible angle
						triples = append(triples, triple{bl, tl, tr, cost})
					}
				}
			}
		}
		sort.Slice(triples, func(i, j int) bool { return triples[i].cost < triples[j].cost })
		for _, t := range triples {
			if n >= maxTriples || !next(detector.NewFinderPatternInfo(t.bl, t.tl, t.tr)) {
				return
			}
		}
	}
}

// orderedInfo orders three finder patterns as bottom-left, top-left and
// top-right.
func orderedInfo(a, b, c *detector.FinderPattern) *detector.FinderPatternInfo {
	x, y, z := gozxing.ResultPoint_OrderBestPatterns(a, b, c)
	return detector.NewFinderPatternInfo(x.(*detector.FinderPattern), y.(*detector.FinderPattern), z.(*detector.FinderPattern))
}

// squareCost is how far three ordered patterns are from the corners of a
// square: the cosine of the angle at the top-left plus the log ratio of the
// two arms. !ok when they are not the corners of a square seen at a
// plausible angle.
func squareCost(info *detector.FinderPatternInfo) (float64, bool) {
	bl, tl, tr := info.GetBottomLeft(), info.GetTopLeft(), info.GetTopRight()
	ux, uy := tr.GetX()-tl.GetX(), tr.GetY()-tl.GetY()
	vx, vy := bl.GetX()-tl.GetX(), bl.GetY()-tl.GetY()
	d1, d2 := math.Hypot(ux, uy), math.Hypot(vx, vy)
	if d1 == 0 || d2 == 0 {
		return 0, false
	}
	cos := math.Abs(ux*vx+uy*vy) / (d1 * d2)
	ratio := math.Abs(math.Log(d1 / d2))
	return cos + ratio, cos <= 0.4 && ratio <= 0.5
}

// keystoneCorner estimates the bottom-right corner (at the finder pattern
// centres' module offset) from the finder patterns' sizes: a pattern's size
// is the local scale, so under keystone the bottom edge is longer than the
// top one by size(bl)/size(tl), the right edge longer than the left by
// size(tr)/size(tl). Averages both ways round the quadrilateral.
func keystoneCorner(loc *located) (gridPoint, bool) {
	size := func(p gozxing.ResultPoint) float64 {
		if fp, ok := p.(*detector.FinderPattern); ok {
			return fp.GetEstimatedModuleSize()
		}
		return 0
	}
	stl, str, sbl := size(loc.tl), size(loc.tr), size(loc.bl)
	if stl <= 0 || str <= 0 || sbl <= 0 {
		return gridPoint{}, false
	}
	ux, uy := loc.tr.GetX()-loc.tl.GetX(), loc.tr.GetY()-loc.tl.GetY()
	vx, vy := loc.bl.GetX()-loc.tl.GetX(), loc.bl.GetY()-loc.tl.GetY()
	a := gridPoint{loc.bl.GetX() + ux*sbl/stl, loc.bl.GetY() + uy*sbl/stl}
	b := gridPoint{loc.tr.GetX() + vx*str/stl, loc.tr.GetY() + vy*str/stl}
	return gridPoint{(a.x + b.x) / 2, (a.y + b.y) / 2}, true
}

// estimateGrid is the grid of three finder patterns without gozxing's
// checks: module size from the patterns, dimension snapped to 4k+1, no
// alignment pattern (decodeGrid fits the fourth point).
func estimateGrid(info *detector.FinderPatternInfo) *located {
	bl, tl, tr := info.GetBottomLeft(), info.GetTopLeft(), info.GetTopRight()
	module := (bl.GetEstimatedModuleSize() + tl.GetEstimatedModuleSize() + tr.GetEstimatedModuleSize()) / 3
	if module <= 0 {
		return nil
	}
	span := (gozxing.ResultPoint_Distance(tl, tr) + gozxing.ResultPoint_Distance(tl, bl)) / 2
	dim := int(math.Round(span/module)) + 7
	dim = (dim-1+2)/4*4 + 1 // nearest 4k+1
	if dim < 21 || dim > 177 {
		return nil
	}
	return &located{bl: bl, tl: tl, tr: tr, dimension: dim}
}

// same reports whether o is the grid l with the same dimension, each
// finder pattern within half a module: two passes that locate one code
// alike (most do) need it decoded once.
func (l *located) same(o *located) bool {
	tol := l.moduleSize(l.dimension) / 2
	near := func(a, b gozxing.ResultPoint) bool {
		return math.Hypot(a.GetX()-b.GetX(), a.GetY()-b.GetY()) < tol
	}
	return l.dimension == o.dimension && l.rough == o.rough && near(l.tl, o.tl) && near(l.tr, o.tr) && near(l.bl, o.bl)
}

// scaled returns the location in an image scaled by 1/f.
func (l *located) scaled(f float64) *located {
	// Finder patterns stay finder patterns, module size scaled too:
	// keystoneCorner reads their sizes.
	p := func(r gozxing.ResultPoint) gozxing.ResultPoint {
		if fp, ok := r.(*detector.FinderPattern); ok {
			return detector.NewFinderPattern(fp.GetX()/f, fp.GetY()/f, fp.GetEstimatedModuleSize()/f, fp.GetCount())
		}
		return gozxing.NewResultPoint(r.GetX()/f, r.GetY()/f)
	}
	out := &located{bl: p(l.bl), tl: p(l.tl), tr: p(l.tr), dimension: l.dimension, rough: l.rough}
	if l.align != nil {
		out.align = detector.NewAlignmentPattern(l.align.GetX()/f, l.align.GetY()/f, 1)
	}
	return out
}

// sampleModules reads the gray value at every module centre of a dim×dim
// grid through the perspective transform; ok is false when the grid leaves
// the image.
func sampleModules(g *gray, tr *common.PerspectiveTransform, dim int) ([]float32, bool) {
	vals := make([]float32, dim*dim)
	pts := make([]float64, 2*dim)
	for y := 0; y < dim; y++ {
		for x := 0; x < dim; x++ {
			pts[2*x], pts[2*x+1] = float64(x)+0.5, float64(y)+0.5
		}
		tr.TransformPoints(pts)
		if !g.sample(pts, vals[y*dim:(y+1)*dim]) {
			return nil, false
		}
	}
	return vals, true
}

// eachSubRow walks the sub-points of a grid of side×side modules, pad of
// them on each side outside the code (module coordinates from −pad), s×s
// points per module: for each module row my and each of its s rows of
// points, pts holds the side·s points through tr (point k in module k/s),
// and visit is called. A visit that returns false ends the walk, and
// eachSubRow returns false.
func eachSubRow(tr *common.PerspectiveTransform, side, pad, s int, visit func(my int, pts []float64) bool) bool {
	pts := make([]float64, 2*side*s)
	for my := 0; my < side; my++ {
		for j := 0; j < s; j++ {
			for k := 0; k < side*s; k++ {
				pts[2*k] = (float64(k)+0.5)/float64(s) - float64(pad)
				pts[2*k+1] = float64(my-pad) + (float64(j)+0.5)/float64(s)
			}
			tr.TransformPoints(pts)
			if !visit(my, pts) {
				return false
			}
		}
	}
	return true
}

// at is the bilinear gray value at (x, y), pixel centres at +0.5 (sample
// for one point).
func (g *gray) at(x, y float64) (float32, bool) {
	var v [1]float32
	ok := g.sample([]float64{x, y}, v[:])
	return v[0], ok
}

// sample puts the bilinear gray value at each point of pts (x, y pairs,
// pixel centres at +0.5) in out, and reports false, at the first, when a
// point lies farther than a pixel outside the image. Points whose four
// pixels lie inside the image, nearly all of them, take the short path in
// the loop; the rest atEdge, which handles every point the same way
// (TestAtShortPathMatchesEdgePath). The samplers' loops take up to a fifth
// of a hard photo's scan, so the short path is not a call.
func (g *gray) sample(pts []float64, out []float32) bool {
	w, h := float64(g.w-1), float64(g.h-1)
	pts = pts[:2*len(out)]
	for i := range out {
		xy := pts[2*i : 2*i+2 : 2*i+2]
		x, y := xy[0]-0.5, xy[1]-0.5
		if !(x >= 0 && y >= 0 && x < w && y < h) {
			v, ok := g.atEdge(x, y)
			if !ok {
				return false
			}
			out[i] = v
			continue
		}
		x0, y0 := int(x), int(y)
		fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
		// The pixel and its right neighbour, and the two under them.
		j := y0*g.w + x0
		p, q := g.pix[j:j+2:j+2], g.pix[j+g.w:j+g.w+2:j+g.w+2]
		top := float32(p[0])*(1-fx) + float32(p[1])*fx
		bot := float32(q[0])*(1-fx) + float32(q[1])*fx
		out[i] = top*(1-fy) + bot*fy
	}
	return true
}

// atEdge is at for a point (shifted by −0.5) by the image's last row or
// column or outside it: within a pixel of the image it is clamped to it,
// the right and lower neighbours being the pixel itself at the last column
// and row; farther out, or NaN (a degenerate grid transform), it fails.
func (g *gray) atEdge(x, y float64) (float32, bool) {
	if !(x >= -1 && y >= -1 && x <= float64(g.w) && y <= float64(g.h)) {
		return 0, false
	}
	// Clamped to the image (the range is checked above, so no NaN is left
	// for min and max to handle).
	if x < 0 {
		x = 0
	} else if x > float64(g.w-1) {
		x = float64(g.w - 1)
	}
	if y < 0 {
		y = 0
	} else if y > float64(g.h-1) {
		y = float64(g.h - 1)
	}
	x0, y0 := int(x), int(y)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	i, dx, dy := y0*g.w+x0, 1, g.w
	if x0 == g.w-1 {
		dx = 0
	}
	if y0 == g.h-1 {
		dy = 0
	}
	p := g.pix[i : i+dy+dx+1]
	top := float32(p[0])*(1-fx) + float32(p[dx])*fx
	bot := float32(p[dy])*(1-fx) + float32(p[dy+dx])*fx
	return top*(1-fy) + bot*fy, true
}

// moduleThreshold turns one grid's module values into bits: a module is
// dark when below the mean of the (2r+1)² modules around it. A sharpening s
// first subtracts s times the 4-neighbour mean from each value (adding it
// back in proportion), undoing the bleed of blur between adjacent modules.
// Window sums are linear in the values, so the summed-area tables of the
// values and of the neighbour means serve every sharpening tried.
type moduleThreshold struct {
	vals, nbr  []float32 // module values, and each one's 4-neighbour mean
	satV, satN []float32 // their summed-area tables, (dim+1)² each
	dim, r     int
}

func newModuleThreshold(vals []float32, dim, r int) *moduleThreshold {
	t := &moduleThreshold{}
	t.reset(vals, dim, r)
	return t
}

// reset makes t the threshold of other values, in its own tables when they
// are of the same dimension (a grid's few sharpenings and its neighbours'
// fits are mostly of one): the tables' first row and column, never
// written, stay zero.
func (t *moduleThreshold) reset(vals []float32, dim, r int) {
	if t.dim != dim || len(t.nbr) != len(vals) {
		t.nbr = make([]float32, len(vals))
		t.satV, t.satN = make([]float32, (dim+1)*(dim+1)), make([]float32, (dim+1)*(dim+1))
	}
	t.vals, t.dim, t.r = vals, dim, r
	for y := 0; y < dim; y++ {
		var rowV, rowN float32
		for x := 0; x < dim; x++ {
			n := (vals[y*dim+max(x-1, 0)] + vals[y*dim+min(x+1, dim-1)] +
				vals[max(y-1, 0)*dim+x] + vals[min(y+1, dim-1)*dim+x]) / 4
			t.nbr[y*dim+x] = n
			rowV += vals[y*dim+x]
			rowN += n
			i := (y+1)*(dim+1) + x + 1
			t.satV[i] = t.satV[i-dim-1] + rowV
			t.satN[i] = t.satN[i-dim-1] + rowN
		}
	}
}

// box is the sum of a summed-area table's values over [x0,x1)×[y0,y1).
func (t *moduleThreshold) box(sat []float32, x0, y0, x1, y1 int) float32 {
	w := t.dim + 1
	return sat[y1*w+x1] - sat[y0*w+x1] - sat[y1*w+x0] + sat[y0*w+x0]
}

// bits thresholds the values sharpened by s.
func (t *moduleThreshold) bits(s float32) *gozxing.BitMatrix {
	bits, _ := t.read(s, false)
	return bits
}

// read is bits that also returns, when margins is set, each module's
// distance from its threshold in units of the local standard deviation:
// how sure its bit is.
func (t *moduleThreshold) read(s float32, margins bool) (*gozxing.BitMatrix, []float32) {
	dim, r := t.dim, t.r
	v := func(i int) float32 { return t.vals[i] + s*(t.vals[i]-t.nbr[i]) }
	var sat2, margin []float32
	if margins { // the squares' table, for the standard deviations
		sat2, margin = make([]float32, (dim+1)*(dim+1)), make([]float32, dim*dim)
		for y := 0; y < dim; y++ {
			var row float32
			for x := 0; x < dim; x++ {
				c := v(y*dim + x)
				row += c * c
				sat2[(y+1)*(dim+1)+x+1] = sat2[y*(dim+1)+x+1] + row
			}
		}
	}
	bits, _ := gozxing.NewBitMatrix(dim, dim)
	for y := 0; y < dim; y++ {
		y0, y1 := max(y-r, 0), min(y+r+1, dim)
		for x := 0; x < dim; x++ {
			x0, x1 := max(x-r, 0), min(x+r+1, dim)
			n := float32((y1 - y0) * (x1 - x0))
			sum := (1+s)*t.box(t.satV, x0, y0, x1, y1) - s*t.box(t.satN, x0, y0, x1, y1)
			c := v(y*dim + x)
			if c*n < sum {
				bits.Set(x, y)
			}
			if margins {
				mean := sum / n
				sd := float32(math.Sqrt(float64(max(t.box(sat2, x0, y0, x1, y1)/n-mean*mean, 1e-6))))
				margin[y*dim+x] = float32(math.Abs(float64(c-mean))) / sd
			}
		}
	}
	return bits, margin
}

// poorFitShare is the share of its finder patterns' contrast below which
// a grid's pattern score (gridScore) marks its fourth corner as wrong.
const poorFitShare = 0.5

// finderContrast is the contrast of the three finder patterns of the grid
// tr of dimension dim: the mean of their light rings (two modules from the
// centre) less that of their dark 3×3 centres. The patterns sit at the
// three corners the detector placed, so this holds however wrong the
// fourth corner is, and a grid on the code scores about as much (gridScore).
func finderContrast(g *gray, tr *common.PerspectiveTransform, dim int) float64 {
	var cells [][3]int
	for _, o := range [][2]int{{0, 0}, {dim - 7, 0}, {0, dim - 7}} {
		for dy := 1; dy <= 5; dy++ {
			for dx := 1; dx <= 5; dx++ {
				switch max(abs(dx-3), abs(dy-3)) {
				case 1, 0:
					cells = append(cells, [3]int{o[0] + dx, o[1] + dy, 1})
				case 2:
					cells = append(cells, [3]int{o[0] + dx, o[1] + dy, 0})
				}
			}
		}
	}
	return gridScore(g, tr, cells, newScoreScratch(cells))
}

// maxGridTries is how many of a located code's best-fitting grids are
// decoded. On the photo corpus every grid that decoded was the best-fitting
// one (264 of 264); the second is insurance, and the two after it were
// spending most of a failing grid's time.
const maxGridTries = 2

// decodeGrid samples g on the grid of loc and decodes the modules. The
// detector's dimension and its neighbours are tried (blur and perspective
// make the estimate wrong); for each, the fourth corner of the grid is fitted
// to the code's fixed patterns, starting from the alignment pattern gozxing
// found and from the parallelogram estimate, and the best-fitting grids are
// decoded first (one that fits well as soon as it is fitted). accept
// filters the texts found. The best grid's module values go to soft for a
// later soft reading, or are read softly at once when soft is nil.
func decodeGrid(g *gray, loc *located, accept func(string) bool, soft *[]softCandidate) (string, bool) {
	type cand struct {
		dim   int
		br    gridPoint
		score float64
	}
	var cands []cand
	// Starting points for the fourth corner at the detected dimension: the
	// alignment pattern gozxing found, the parallelogram and keystone
	// estimates, and the best point of a coarse search.
	dim0 := loc.dimension
	k := func(dim int) float64 { return (float64(dim) - 10) / (float64(dim) - 7) }
	toAlign := func(p gridPoint, dim int) gridPoint { // corner at dim−3.5 → alignment at dim−6.5
		return gridPoint{loc.tl.GetX() + k(dim)*(p.x-loc.tl.GetX()), loc.tl.GetY() + k(dim)*(p.y-loc.tl.GetY())}
	}
	para := gridPoint{loc.tr.GetX() - loc.tl.GetX() + loc.bl.GetX(), loc.tr.GetY() - loc.tl.GetY() + loc.bl.GetY()}
	starts := []gridPoint{toAlign(para, dim0)}
	if loc.align != nil {
		starts = append(starts, gridPoint{loc.align.GetX(), loc.align.GetY()})
	}
	// guess is the fourth corner's estimate at a dimension: the keystone
	// estimate when the patterns' sizes give one, else the parallelogram.
	ks, keystone := keystoneCorner(loc)
	guess := func(dim int) gridPoint {
		if keystone {
			return toAlign(ks, dim)
		}
		return toAlign(para, dim)
	}
	if keystone {
		starts = append(starts, guess(dim0))
	}
	var th moduleThreshold // hard's, reused
	// hard samples the grid tr of dimension dim and decodes it at a few
	// thresholds; vals are the module values, nil when the grid leaves
	// the image.
	hard := func(tr *common.PerspectiveTransform, dim int) (vals []float32, text string, ok bool) {
		vals, ok = sampleModules(g, tr, dim)
		if !ok {
			return nil, "", false
		}
		th.reset(vals, dim, 3)
		for _, sh := range []float32{0, 0.6, 1.2, 2, 3, 4.5} {
			if t, ok := decodeHard(th.bits(sh)); ok && accept(t) {
				return vals, t, true
			}
		}
		return vals, "", false
	}
	// A grid that fits well (fitsWell, at its own dimension) is decoded as
	// soon as it is fitted: at the detector's dimension before the coarse
	// search and before the neighbours are fitted, and a neighbour before
	// the next one. Most codes read there, and the neighbours (with their
	// coarse searches) were most of their decoding time; on the photo
	// corpus every code read at a neighbouring dimension was read from the
	// best-fitting grid, which had fitted well. A grid that does not read
	// is ranked with the rest as before, and not decoded again.
	type decoded struct {
		dim  int
		br   gridPoint
		tr   *common.PerspectiveTransform
		vals []float32
	}
	var tried []decoded
	try := func(dim int, br gridPoint) (decoded, string, bool) {
		for _, d := range tried {
			if d.dim == dim && d.br == br {
				return d, "", false
			}
		}
		d := decoded{dim: dim, br: br, tr: gridTransform(loc, br, dim)}
		vals, t, ok := hard(d.tr, dim)
		d.vals = vals
		tried = append(tried, d)
		return d, t, ok
	}
	// fitsWell says whether a grid's pattern score is not poor
	// (poorFitShare) for its finder patterns' contrast.
	fitsWell := func(dim int, br gridPoint, score float64) bool {
		return score >= poorFitShare*finderContrast(g, gridTransform(loc, br, dim), dim)
	}
	cells0 := patternCells(dim0) // shared by the coarse search and every fit at dim0
	var best cand
	fit := func(st gridPoint) {
		br, score := fitGrid(g, loc, st, dim0, cells0)
		c := cand{dim0, br, score}
		cands = append(cands, c)
		if len(cands) == 1 || score > best.score {
			best = c
		}
	}
	for _, st := range starts {
		fit(st)
	}
	// The coarse search costs about as much as the fits: a grid that
	// fits well without it is decoded first.
	if fitsWell(dim0, best.br, best.score) {
		if _, t, ok := try(dim0, best.br); ok {
			return t, true
		}
	}
	fit(coarseCorner(g, loc, guess(dim0), dim0, cells0))
	// The neighbouring dimensions (blur and perspective make the estimate
	// wrong) start from the best corner found, or get their own coarse
	// search when that corner is a poor fit: under strong keystone the
	// detector's dimension is a version short (the top edge is), and the
	// right dimension's corner lies ten modules or more from the wrong
	// one's, past what fitGrid's descent walks. Grids from the correlation
	// (rough) had the coarse searches always, and they were most of the
	// photo class's decoding time; on the photo corpus those whose corner
	// fits well read the same without (photo −6 %, blur2 −12 %).
	neighbours := []int{4, -4, 8, -8}
	if loc.rough {
		neighbours = append(neighbours, 12, -12)
	}
	poor := !fitsWell(dim0, best.br, best.score)
	if !poor {
		if _, t, ok := try(dim0, best.br); ok {
			return t, true
		}
	}
	for _, dd := range neighbours {
		dim := dim0 + dd
		if dim < 21 || dim > 177 {
			continue
		}
		cells := patternCells(dim)
		start := best.br
		switch {
		case loc.rough && poor:
			start = coarseCorner(g, loc, toAlign(para, dim), dim, cells)
		case poor:
			start = coarseCorner(g, loc, guess(dim), dim, cells)
		}
		br, score := fitGrid(g, loc, start, dim, cells)
		cands = append(cands, cand{dim, br, score})
		if fitsWell(dim, br, score) {
			if _, t, ok := try(dim, br); ok {
				return t, true
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	for i, c := range cands {
		if i >= maxGridTries {
			break // the rest fit worse than better grids that failed
		}
		d, t, ok := try(c.dim, c.br)
		if ok {
			return t, true
		}
		// The best-fitting grid's module values are kept for the soft
		// reading (decodeSoft) when no hard reading succeeds.
		switch {
		case i > 0 || d.vals == nil:
		case soft == nil:
			return decodeSoft(d.vals, c.dim, accept)
		default:
			*soft = append(*soft, softCandidate{vals: d.vals, dim: c.dim, score: c.score, g: g, tr: d.tr})
		}
	}
	return "", false
}
