package qrscan

import (
	"math"

	"github.com/makiuchi-d/gozxing/common"
)

// Super-resolution. A code shrunk to about one pixel per module or less
// (a QR code in a small screenshot, or scaled down in a document) has fewer
// pixels than modules: no sampling of the image at module centres can
// separate neighbouring modules, because each pixel is the mean of the
// modules it covers. But which modules each pixel covers, and how much of
// each, follows from the located grid, so the pixels are linear equations
// in the modules' colours. With the code's quiet zone known to be light,
// the regularized least-squares solution of those equations has the right
// sign for most modules, and its magnitude says how sure each one is: the
// erasures' error correction reads the rest.
//
// Measured on the photo corpus's five small1.5px misses (0.88–0.95 px per
// module), on the grid of each image's clean original: 1.6 to 5.3 % of the
// modules wrong, and all five read; the deblurring's module-space filter
// left 2.3 to 6 % wrong at its best widths and read none. A located grid is
// first refined (refineGrid); the scan reads all five, the last located
// only in the image upscaled ×2 (readRestored).

// resolveMaxModule is the largest module size (pixels) the super-resolution
// is tried for: larger modules are sampled at their centres by the passes
// and the deblurring.
const resolveMaxModule = 1.3

// resolveSubsamples is how many points per module and axis spread a
// module's colour over the pixels.
const resolveSubsamples = 3

// refineSubsamples is resolveSubsamples for the grid refinement's fine
// steps, which evaluate the known modules a few hundred times; its coarse
// steps (the first two of refineSteps) take one point per module.
const refineSubsamples = 2

// resolvePad is how many modules of light quiet zone around the grid are
// part of the model.
const resolvePad = 2

// resolveIterations and resolveDamping are the conjugate gradients' steps
// and the Tikhonov term of the least squares. On codes like those of
// TestSuperResolvedReadsSmallCode, at 0.85 to 0.95 px per module, dampings
// of 0.005 to 0.02 left the
// fewest modules wrong (5.4 % at 0.9 px), 0.1 a tenth more and 0.3 half as
// many again; 10 steps came within 0.05 % of 100, 20 within 0.01 %.
const (
	resolveIterations = 25
	resolveDamping    = 0.02
)

// moduleSize is the mean side of a module of the dim×dim grid tr, in
// pixels.
func moduleSize(tr *common.PerspectiveTransform, dim int) float64 {
	d := float64(dim)
	p := []float64{0, 0, d, 0, d, d, 0, d}
	tr.TransformPoints(p)
	side := func(i, j int) float64 { return math.Hypot(p[2*i]-p[2*j], p[2*i+1]-p[2*j+1]) }
	return (side(0, 1) + side(1, 2) + side(2, 3) + side(3, 0)) / (4 * d)
}

// superResolved solves for the module colours of a dim×dim grid through tr
// from the pixels of g: dark modules below zero, light ones above, scaled
// so that a clear module is about ±1. ok is false when the grid leaves the
// image or its levels cannot be told.
func superResolved(g *gray, tr *common.PerspectiveTransform, dim int) ([]float32, bool) {
	side := dim + 2*resolvePad
	x0, y0, ww, wh, ok := gridWindow(g, tr, dim, 1)
	if !ok {
		return nil, false
	}
	isPad := func(mx, my int) bool {
		return mx < resolvePad || my < resolvePad || mx >= resolvePad+dim || my >= resolvePad+dim
	}
	// spread walks every module's s×s points and calls add with each pixel
	// a point reaches (bilinearly) and the share of the module's colour
	// that lands there. A module's shares add up to one.
	const s = resolveSubsamples
	spread := func(add func(mx, my, p int, w float64)) {
		eachSubRow(tr, side, resolvePad, s, func(my int, pts []float64) bool {
			for k := 0; k < side*s; k++ {
				splat(pts[2*k]-0.5-float64(x0), pts[2*k+1]-0.5-float64(y0), ww, wh, func(p int, w float64) {
					add(k/s, my, p, w/(s*s))
				})
			}
			return true
		})
	}
	// First walk: each pixel's total weight, and how much of it comes from
	// the quiet zone (known light) and from the finder patterns' dark 3×3
	// cores, for the levels.
	total := make([]float64, ww*wh)
	padShare := make([]float64, ww*wh)
	coreShare := make([]float64, ww*wh)
	spread(func(mx, my, p int, w float64) {
		total[p] += w
		if isPad(mx, my) {
			padShare[p] += w
		} else if finderCore(mx-resolvePad, my-resolvePad, dim) {
			coreShare[p] += w
		}
	})
	// Pixels mostly covered by the model; each pixel's equation is the
	// mean of the module colours over it.
	inModel := func(p int) bool { return total[p] > 0.5 }
	var light, dark float64
	var nl, nd int
	for p := range total {
		if !inModel(p) {
			continue
		}
		v := float64(g.pix[(y0+p/ww)*g.w+x0+p%ww])
		if padShare[p] > 0.95*total[p] {
			light += v
			nl++
		}
		if coreShare[p] > 0.95*total[p] {
			dark += v
			nd++
		}
	}
	if nl == 0 || nd == 0 {
		return nil, false
	}
	light, dark = light/float64(nl), dark/float64(nd)
	if light-dark < 8 {
		return nil, false // no contrast to work with
	}
	// y' = (y − mid)/half per pixel in the model, the pad's known +1 (its
	// share of the pixel's mean) moved to the right side.
	mid, half := (light+dark)/2, (light-dark)/2
	rhs := coreShare // reused: the levels are known
	for p := range rhs {
		rhs[p] = 0
		if inModel(p) {
			v := float64(g.pix[(y0+p/ww)*g.w+x0+p%ww])
			rhs[p] = (v-mid)/half - padShare[p]/total[p]
		}
	}
	padShare = nil
	// Second walk: B, the equations' coefficients over the code's modules
	// (A divided by each pixel's total weight t: the pixel is a mean), merged
	// per module and pixel, pixels outside the model dropped: module i's
	// run is [starts[i], starts[i+1]). The walk goes by module rows, each
	// row's point rows in turn, so a row's entries are gathered first.
	type entry struct {
		pix int32
		w   float32
	}
	const perModule = s * s * 4
	row := make([]entry, side*perModule)
	count := make([]int, side)
	var bPix []int32
	var bW []float32
	starts := make([]int32, 0, dim*dim+1)
	rowOf := -1
	flush := func() {
		if rowOf < resolvePad || rowOf >= resolvePad+dim {
			return
		}
		for mx := resolvePad; mx < resolvePad+dim; mx++ {
			starts = append(starts, int32(len(bPix)))
			first := len(bPix)
			for _, e := range row[mx*perModule : mx*perModule+count[mx]] {
				merged := false
				for k := first; k < len(bPix); k++ {
					if bPix[k] == e.pix {
						bW[k] += e.w
						merged = true
						break
					}
				}
				if !merged {
					bPix = append(bPix, e.pix)
					bW = append(bW, e.w)
				}
			}
		}
	}
	spread(func(mx, my, p int, w float64) {
		if my != rowOf {
			flush()
			rowOf = my
			clear(count)
		}
		if isPad(mx, my) || !inModel(p) {
			return
		}
		row[mx*perModule+count[mx]] = entry{int32(p), float32(w / total[p])}
		count[mx]++
	})
	flush()
	starts = append(starts, int32(len(bPix)))
	row = nil
	modules := dim * dim
	if len(starts) != modules+1 {
		return nil, false // rows of the code that reached no pixel
	}
	pix := make([]float64, ww*wh)
	apply := func(x []float64, out []float64) {
		clear(pix)
		for i := range modules {
			for k := starts[i]; k < starts[i+1]; k++ {
				pix[bPix[k]] += float64(bW[k]) * x[i]
			}
		}
		for i := range modules {
			v := resolveDamping * x[i]
			for k := starts[i]; k < starts[i+1]; k++ {
				v += float64(bW[k]) * pix[bPix[k]]
			}
			out[i] = v
		}
	}
	b := make([]float64, modules)
	for i := range modules {
		for k := starts[i]; k < starts[i+1]; k++ {
			b[i] += float64(bW[k]) * rhs[bPix[k]]
		}
	}
	x := make([]float64, modules)
	r := append([]float64(nil), b...)
	p := append([]float64(nil), r...)
	ap := make([]float64, modules)
	rr := dot(r, r)
	for range resolveIterations {
		if rr == 0 {
			break
		}
		apply(p, ap)
		alpha := rr / dot(p, ap)
		for i := range x {
			x[i] += alpha * p[i]
			r[i] -= alpha * ap[i]
		}
		next := dot(r, r)
		for i := range p {
			p[i] = r[i] + next/rr*p[i]
		}
		rr = next
	}
	vals := make([]float32, len(x))
	for i, v := range x {
		vals[i] = float32(v)
	}
	return vals, true
}

// finderCore reports whether module (x, y) is in the dark 3×3 centre of
// one of the dim×dim code's finder patterns.
func finderCore(x, y, dim int) bool {
	in := func(v, lo int) bool { return v >= lo && v < lo+3 }
	return in(x, 2) && in(y, 2) || in(x, dim-5) && in(y, 2) || in(x, 2) && in(y, dim-5)
}

// splat spreads a point at (px, py) of a w×h window (pixel centres at
// whole coordinates) over the four pixels around it by bilinear weight:
// add gets each pixel's index and share, for those inside the window
// with a share above zero. The shares of a point inside add up to one.
func splat(px, py float64, w, h int, add func(p int, share float64)) {
	ix, iy := int(math.Floor(px)), int(math.Floor(py))
	fx, fy := px-float64(ix), py-float64(iy)
	for _, c := range [4]struct {
		dx, dy int
		share  float64
	}{{0, 0, (1 - fx) * (1 - fy)}, {1, 0, fx * (1 - fy)}, {0, 1, (1 - fx) * fy}, {1, 1, fx * fy}} {
		x, y := ix+c.dx, iy+c.dy
		if x < 0 || y < 0 || x >= w || y >= h || c.share == 0 {
			continue
		}
		add(y*w+x, c.share)
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// decodeSuperResolved reads a grid of modules smaller than about a pixel by
// super-resolution: hard, then with erasures. stop ends it early (between
// the refinement's steps).
func decodeSuperResolved(g *gray, tr *common.PerspectiveTransform, dim int, accept func(string) bool, stop func() bool) (string, bool) {
	refined := refineGrid(g, tr, dim, stop)
	if stop() {
		return "", false
	}
	vals, ok := superResolved(g, refined, dim)
	if !ok {
		return "", false
	}
	return decodeSigned(vals, dim, accept)
}

// refineGrid moves the four corners of a dim×dim grid (tr) so that the
// code's known modules — the quiet zone, the finder patterns with their
// separators, the timing and alignment patterns — best predict the pixels
// they alone cover: coordinate descent on the eight coordinates in steps
// from a quarter of a pixel down to a thirty-second, within 4 pixels of
// where the grid was. The two coarse steps, about half the evaluations,
// model each module by its centre alone: a quarter of the points, and on
// the photo corpus and both mixed corpora the same images read by the
// same passes (BenchmarkScanPhotos, 8 alternating rounds: small1.5px
// −7.6 %).
// A located grid is off by a few tenths of a pixel, which is a third of a
// module here; the super-resolution needs it within a tenth.
func refineGrid(g *gray, tr *common.PerspectiveTransform, dim int, stop func() bool) *common.PerspectiveTransform {
	d := float64(dim)
	c := []float64{0, 0, d, 0, d, d, 0, d}
	tr.TransformPoints(c)
	known := knownModules(dim)
	transform := func(c []float64) *common.PerspectiveTransform {
		return common.PerspectiveTransform_QuadrilateralToQuadrilateral(0, 0, d, 0, d, d, 0, d,
			c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
	}
	coarse, ok := newResidualScratch(g, tr, dim, 4, known, 1)
	if !ok {
		return tr
	}
	fine := coarse.withSubsamples(refineSubsamples)
	best := knownResidual(g, transform(c), coarse)
	if math.IsInf(best, 1) {
		return tr
	}
	if !descend(c, refineSteps[:2], -best, func(c []float64) float64 { return -knownResidual(g, transform(c), coarse) }, stop) {
		return transform(c)
	}
	best = knownResidual(g, transform(c), fine)
	descend(c, refineSteps[2:], -best, func(c []float64) float64 { return -knownResidual(g, transform(c), fine) }, stop)
	return transform(c)
}

// refineSteps are refineGrid's descent steps in pixels.
var refineSteps = []float64{0.25, 0.125, 1.0 / 16, 1.0 / 32}

// descend is coordinate descent on p: each coordinate in turn moves by a
// step up, or else down, where score (of at least best at p) rises, until
// no move does, for each step of steps in turn. It reports false when stop
// ended it (asked before each score); p is then the best point so far.
func descend(p, steps []float64, best float64, score func([]float64) float64, stop func() bool) bool {
	for _, step := range steps {
		for improved := true; improved; {
			improved = false
			for i := range p {
				for _, dir := range []float64{1, -1} {
					if stop() {
						return false
					}
					p[i] += dir * step
					if s := score(p); s > best {
						best, improved = s, true
						break
					}
					p[i] -= dir * step
				}
			}
		}
	}
	return true
}

// knownModule is a module of the padded grid whose colour is fixed by the
// standard (+1 light, −1 dark), or 0 for a data module next to one: its
// pixels are not fully predicted.
type knownModule struct {
	x, y   int
	colour float64
}

// knownModules lists the modules of a dim×dim code whose colour is fixed,
// with resolvePad modules of quiet zone, and the unknown modules next to
// them.
func knownModules(dim int) []knownModule {
	side := dim + 2*resolvePad
	colour := make([]float64, side*side) // 0 unknown
	set := func(x, y int, dark bool) {
		c := 1.0
		if dark {
			c = -1
		}
		colour[(y+resolvePad)*side+x+resolvePad] = c
	}
	for y := -resolvePad; y < dim+resolvePad; y++ {
		for x := -resolvePad; x < dim+resolvePad; x++ {
			if x < 0 || y < 0 || x >= dim || y >= dim {
				set(x, y, false)
			}
		}
	}
	for _, o := range [][2]int{{0, 0}, {dim - 7, 0}, {0, dim - 7}} {
		for dy := -1; dy <= 7; dy++ {
			for dx := -1; dx <= 7; dx++ {
				x, y := o[0]+dx, o[1]+dy
				if x < 0 || y < 0 || x >= dim || y >= dim {
					continue
				}
				ring := max(abs(dx-3), abs(dy-3))
				set(x, y, ring != 2 && ring != 4)
			}
		}
	}
	for _, cell := range patternCells(dim) {
		set(cell[0], cell[1], cell[2] == 1)
	}
	var out []knownModule
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			c := colour[y*side+x]
			if c == 0 {
				near := false
				for dy := -1; dy <= 1 && !near; dy++ {
					for dx := -1; dx <= 1; dx++ {
						xx, yy := x+dx, y+dy
						if xx >= 0 && yy >= 0 && xx < side && yy < side && colour[yy*side+xx] != 0 {
							near = true
							break
						}
					}
				}
				if !near {
					continue
				}
			}
			out = append(out, knownModule{x - resolvePad, y - resolvePad, c})
		}
	}
	return out
}

// residualScratch holds knownResidual's per-pixel sums over a window of
// the image (x0, y0, w×h), reused by every evaluation of one refinement.
type residualScratch struct {
	x0, y0, w, h         int
	s                    int // sub-points per module and axis
	sum, weight, unknown []float64
	touched              []int
	src, pts             []float64 // subPoints'
	known                []knownModule
}

// subPoints returns the known modules' s×s sub-points (sc.s) in module
// space, module by module, made once with the scratch, in room for them to
// go through a transform.
func (sc *residualScratch) subPoints() []float64 {
	copy(sc.pts, sc.src)
	return sc.pts
}

// newResidualScratch covers the padded grid tr of dimension dim with a
// margin of margin pixels, clipped to g, for the known modules known (and
// their s×s sub-points each); ok is false for a grid off the image or far
// larger than this reading is for.
func newResidualScratch(g *gray, tr *common.PerspectiveTransform, dim int, margin float64, known []knownModule, s int) (*residualScratch, bool) {
	x0, y0, w, h, ok := gridWindow(g, tr, dim, margin)
	if !ok {
		return nil, false
	}
	n := w * h
	sc := &residualScratch{x0: x0, y0: y0, w: w, h: h, known: known,
		sum: make([]float64, n), weight: make([]float64, n), unknown: make([]float64, n)}
	return sc.withSubsamples(s), true
}

// withSubsamples is sc with s×s sub-points per known module. It shares
// sc's per-pixel sums, which every evaluation leaves cleared: the two may
// be used one after the other, not at once.
func (sc *residualScratch) withSubsamples(s int) *residualScratch {
	c := *sc
	c.s = s
	c.src = make([]float64, 0, 2*s*s*len(c.known))
	for _, m := range c.known {
		for j := 0; j < s; j++ {
			for k := 0; k < s; k++ {
				c.src = append(c.src, float64(m.x)+(float64(k)+0.5)/float64(s), float64(m.y)+(float64(j)+0.5)/float64(s))
			}
		}
	}
	c.pts = make([]float64, len(c.src))
	return &c
}

// gridWindow is the window of g (x0, y0, w×h) that the grid tr of dimension
// dim with resolvePad modules of quiet zone covers, with a margin of margin
// pixels clipped to the image. ok is false when the padded grid leaves the
// image (or the transform is degenerate), and for modules far larger than
// a pixel, which are not the super-resolution's case.
func gridWindow(g *gray, tr *common.PerspectiveTransform, dim int, margin float64) (x0, y0, w, h int, ok bool) {
	d := float64(dim + resolvePad)
	c := []float64{-resolvePad, -resolvePad, d, -resolvePad, d, d, -resolvePad, d}
	tr.TransformPoints(c)
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for i := 0; i < 8; i += 2 {
		minX, maxX = math.Min(minX, c[i]), math.Max(maxX, c[i])
		minY, maxY = math.Min(minY, c[i+1]), math.Max(maxY, c[i+1])
	}
	if !(minX >= 0 && minY >= 0 && maxX <= float64(g.w) && maxY <= float64(g.h)) {
		return 0, 0, 0, 0, false
	}
	x0, y0 = max(0, int(minX-margin)), max(0, int(minY-margin))
	w, h = min(g.w, int(maxX+margin)+1)-x0, min(g.h, int(maxY+margin)+1)-y0
	side := dim + 2*resolvePad
	if w*h > 4*side*side+4096 {
		return 0, 0, 0, 0, false
	}
	return x0, y0, w, h, true
}

// knownResidual is the mean squared difference between the pixels that
// the known modules (sc's) alone cover (95 % or more of their weight) and those
// modules' colours spread over them through tr, after the best offset and
// scale: +Inf when the modules leave the image or too few pixels remain.
func knownResidual(g *gray, tr *common.PerspectiveTransform, sc *residualScratch) float64 {
	defer func() {
		for _, p := range sc.touched {
			sc.sum[p], sc.weight[p], sc.unknown[p] = 0, 0, 0
		}
		sc.touched = sc.touched[:0]
	}()
	s := sc.s
	pts := sc.subPoints()
	tr.TransformPoints(pts)
	w, h := float64(sc.w-1), float64(sc.h-1)
	for i, m := range sc.known {
		for k := 0; k < s*s; k++ {
			j := 2 * (i*s*s + k)
			px, py := pts[j]-0.5-float64(sc.x0), pts[j+1]-0.5-float64(sc.y0)
			if !(px >= 0 && py >= 0 && px < w && py < h) {
				return math.Inf(1) // off the window (or NaN)
			}
			// The point's bilinear shares of its four pixels, every one
			// inside the window, a pixel's first share marking it
			// touched: splat's arithmetic written out, without its
			// checks or a call per pixel. Sharing a helper with splat
			// made a super-resolution 10 % slower.
			ix, iy := int(math.Floor(px)), int(math.Floor(py))
			fx, fy := px-float64(ix), py-float64(iy)
			p0 := iy*sc.w + ix
			for _, c := range [4]struct {
				p     int
				share float64
			}{{p0, (1 - fx) * (1 - fy)}, {p0 + 1, fx * (1 - fy)}, {p0 + sc.w, (1 - fx) * fy}, {p0 + sc.w + 1, fx * fy}} {
				if c.share == 0 {
					continue
				}
				p := c.p
				if sc.weight[p] == 0 && sc.unknown[p] == 0 {
					sc.touched = append(sc.touched, p)
				}
				if m.colour == 0 {
					sc.unknown[p] += c.share
				} else {
					sc.sum[p] += c.share * m.colour
					sc.weight[p] += c.share
				}
			}
		}
	}
	// y ≈ b + a·x over the pixels the known modules cover.
	var n, sx, sy, sxx, sxy, syy float64
	for _, p := range sc.touched {
		w := sc.weight[p]
		if w == 0 || w < 0.95*(w+sc.unknown[p]) {
			continue
		}
		x, y := sc.sum[p]/w, float64(g.pix[(sc.y0+p/sc.w)*g.w+sc.x0+p%sc.w])
		n, sx, sy, sxx, sxy, syy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y, syy+y*y
	}
	if n < 50 {
		return math.Inf(1)
	}
	vx, vy, cxy := sxx-sx*sx/n, syy-sy*sy/n, sxy-sx*sy/n
	if vx <= 0 {
		return math.Inf(1)
	}
	return (vy - cxy*cxy/vx) / n // the residual variance of the fit
}
