package verifier

import (
	"sort"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
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
}

// locate runs gozxing's detector on a binarization of g.
func locate(g *gray, hybrid bool, hints map[gozxing.DecodeHintType]any) (*located, error) {
	src, err := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
	if err != nil {
		return nil, err
	}
	var bin gozxing.Binarizer = gozxing.NewGlobalHistgramBinarizer(src)
	if hybrid {
		bin = gozxing.NewHybridBinarizer(src)
	}
	bits, err := bin.GetBlackMatrix()
	if err != nil {
		return nil, err
	}
	res, err := detector.NewDetector(bits).Detect(hints)
	if err != nil {
		return nil, err
	}
	pts := res.GetPoints()
	loc := &located{bl: pts[0], tl: pts[1], tr: pts[2], dimension: res.GetBits().GetWidth()}
	if len(pts) > 3 {
		loc.align, _ = pts[3].(*detector.AlignmentPattern)
	}
	return loc, nil
}

// scaled returns the location in an image scaled by 1/f.
func (l *located) scaled(f float64) *located {
	p := func(r gozxing.ResultPoint) gozxing.ResultPoint {
		return gozxing.NewResultPoint(r.GetX()/f, r.GetY()/f)
	}
	out := &located{bl: p(l.bl), tl: p(l.tl), tr: p(l.tr), dimension: l.dimension}
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
		for x := 0; x < dim; x++ {
			v, ok := g.at(pts[2*x], pts[2*x+1])
			if !ok {
				return nil, false
			}
			vals[y*dim+x] = v
		}
	}
	return vals, true
}

// at is the bilinear gray value at (x, y), pixel centres at +0.5.
func (g *gray) at(x, y float64) (float32, bool) {
	x, y = x-0.5, y-0.5
	if x < -1 || y < -1 || x > float64(g.w) || y > float64(g.h) {
		return 0, false
	}
	x = min(max(x, 0), float64(g.w-1))
	y = min(max(y, 0), float64(g.h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.w-1), min(y0+1, g.h-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	p := func(xx, yy int) float32 { return float32(g.pix[yy*g.w+xx]) }
	top := p(x0, y0)*(1-fx) + p(x1, y0)*fx
	bot := p(x0, y1)*(1-fx) + p(x1, y1)*fx
	return top*(1-fy) + bot*fy, true
}

// threshold turns module values into bits: dark when below the mean of the
// (2r+1)² modules around it. sharpen subtracts that much of the 4-neighbour
// mean first, undoing the bleed of blur between adjacent modules.
func threshold(vals []float32, dim int, sharpen float32, r int) *gozxing.BitMatrix {
	v := vals
	if sharpen > 0 {
		v = make([]float32, len(vals))
		for y := 0; y < dim; y++ {
			for x := 0; x < dim; x++ {
				c := vals[y*dim+x]
				n := (vals[y*dim+max(x-1, 0)] + vals[y*dim+min(x+1, dim-1)] +
					vals[max(y-1, 0)*dim+x] + vals[min(y+1, dim-1)*dim+x]) / 4
				v[y*dim+x] = c + sharpen*(c-n)
			}
		}
	}
	// Summed-area table for the local means.
	sat := make([]float32, (dim+1)*(dim+1))
	for y := 0; y < dim; y++ {
		var row float32
		for x := 0; x < dim; x++ {
			row += v[y*dim+x]
			sat[(y+1)*(dim+1)+x+1] = sat[y*(dim+1)+x+1] + row
		}
	}
	bits, _ := gozxing.NewBitMatrix(dim, dim)
	for y := 0; y < dim; y++ {
		y0, y1 := max(y-r, 0), min(y+r+1, dim)
		for x := 0; x < dim; x++ {
			x0, x1 := max(x-r, 0), min(x+r+1, dim)
			sum := sat[y1*(dim+1)+x1] - sat[y0*(dim+1)+x1] - sat[y1*(dim+1)+x0] + sat[y0*(dim+1)+x0]
			if v[y*dim+x]*float32((y1-y0)*(x1-x0)) < sum {
				bits.Set(x, y)
			}
		}
	}
	return bits
}

// decodeGrid samples g on the grid of loc and decodes the modules. The
// detector's dimension and its neighbours are tried (blur and perspective
// make the estimate wrong); for each, the fourth corner of the grid is fitted
// to the code's fixed patterns, starting from the alignment pattern gozxing
// found and from the parallelogram estimate, and the best-fitting grids are
// decoded first. accept filters the texts found.
func decodeGrid(g *gray, loc *located, accept func(string) bool) (string, bool) {
	type cand struct {
		dim   int
		br    gridPoint
		score float64
	}
	var cands []cand
	para := gridPoint{loc.tr.GetX() - loc.tl.GetX() + loc.bl.GetX(), loc.tr.GetY() - loc.tl.GetY() + loc.bl.GetY()}
	for _, dd := range []int{0, 4, -4, 8, -8} {
		dim := loc.dimension + dd
		if dim < 21 || dim > 177 {
			continue
		}
		// The parallelogram corner is at module dim−3.5; the fitted point is
		// the bottom-right alignment pattern at dim−6.5.
		k := (float64(dim) - 10) / (float64(dim) - 7)
		starts := []gridPoint{{loc.tl.GetX() + k*(para.x-loc.tl.GetX()), loc.tl.GetY() + k*(para.y-loc.tl.GetY())}}
		if loc.align != nil {
			starts = append(starts, gridPoint{loc.align.GetX(), loc.align.GetY()})
		}
		for _, st := range starts {
			br, score := fitGrid(g, loc, st, dim)
			cands = append(cands, cand{dim, br, score})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	dec := decoder.NewDecoder()
	try := func(tr *common.PerspectiveTransform, dim int) (string, bool) {
		vals, ok := sampleModules(g, tr, dim)
		if !ok {
			return "", false
		}
		for _, sh := range []float32{0, 0.6, 1.2, 2, 3, 4.5} {
			res, err := dec.Decode(threshold(vals, dim, sh, 3), nil)
			if err == nil && accept(res.GetText()) {
				return res.GetText(), true
			}
		}
		return "", false
	}
	for i, c := range cands {
		if i >= 4 {
			break // the rest fit worse than four better grids that failed
		}
		if t, ok := try(gridTransform(loc, c.br, c.dim), c.dim); ok {
			return t, true
		}
	}
	return "", false
}
