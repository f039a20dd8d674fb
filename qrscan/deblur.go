package qrscan

import (
	"math"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"gonum.org/v1/gonum/dsp/fourier"
)

// Deblurring. A code of two pixels per module under a Gaussian blur of σ = 2
// pixels keeps a few percent of the contrast between neighbouring modules:
// thresholds and sharpenings read a fifth of its modules wrong. But the blur
// is a linear filter, and read as each module's mean over its square of a
// located grid it is a filter in module space: a module's value is the sum
// of its neighbours' colours weighted by how much of the blur's spread falls
// on each. That filter can be inverted. The module values of a grid (and of
// a few modules of quiet zone around it) are restored with a Wiener filter
// through the discrete Fourier transform, for several blur widths in turn; at
// the right width about 1 % of the modules or fewer come out wrong, where
// the code's own error correction, hard or with erasures, reads the rest.
//
// Measured (TestDeblurRestoresModules logs it): on a code of 2 px modules
// blurred by σ = 2 px, the sharpened threshold reads 23 % of the modules
// wrong, the inverse filter 0.8 % at the true width and 4 % at a width 10 %
// off. On the true grid, a level-Q code was read under blurs up to 1.1
// modules and not from 1.15 (σ = 2.3 px on 2 px modules), nor at 1.5 px per
// module under a blur of one module. The photo corpus's blur2 class is
// σ = 2 px on codes of 2 px modules and more.

// deblurPad is how many modules of quiet zone around the grid are sampled:
// the blur's reach (three widths) at the widest width tried.
const deblurPad = 5

// deblurSubsamples is how many points per module and axis are averaged
// into a module's value: its mean over the module, whatever the phase of
// the pixel grid under the module grid (a single bilinear sample blurs a
// module on a pixel's edge more than one on a pixel's centre).
const deblurSubsamples = 3

// deblurWidths are the blur widths tried, as standard deviations in
// modules: σ = 2 px on 2 px modules is 1, the blur2 class. Narrower blurs
// are mostly read by the passes' sharpenings, but not under noise and
// JPEG: the photo class's last two misses (σ = 1 px on 2 px modules, noise,
// JPEG q50) read at 0.5, one also at 0.6, with 4–5 % of the pattern
// modules wrong. Wider ones than 1.2 lose too much.
var deblurWidths = []float64{1, 0.9, 1.1, 0.8, 1.2, 0.7, 0.6, 0.5}

// deblurNoise is the Wiener filter's noise-to-signal ratio: 8-bit
// quantisation of a full-contrast code. Larger values smooth the restored
// modules: on one blur2 miss's true grid 1e-4 left 4.7 % of the modules
// wrong and 1e-6 0.4 %; on the test's code 1e-5 read 2.8 % where 1e-6 read
// 0.8 %, and 1e-7 was worse again.
const deblurNoise = 1e-6

// deblurGrid holds the spectrum of one grid's padded module samples: each
// width tried is one filter and one inverse transform.
type deblurGrid struct {
	dim, n int
	spec   []complex128 // n rows of n/2+1 coefficients
	rows   *fourier.FFT
	cols   *fourier.CmplxFFT
}

// newDeblurGrid reads each module's mean value (s² points, deblurSubsamples
// for a reading) of a dim×dim grid through tr, with deblurPad modules of
// margin (clamped to the image), and takes the spectrum. ok is false when
// the grid is not within the image.
func newDeblurGrid(g *gray, tr *common.PerspectiveTransform, dim, s int) (*deblurGrid, bool) {
	side := dim + 2*deblurPad
	n := fftSize(side)
	samples := make([]float64, n*n)
	var ring float64 // the margin's mean: the quiet zone's colour
	rings := 0
	inside := eachSubRow(tr, side, deblurPad, s, func(y int, pts []float64) bool {
		row := samples[y*n : y*n+side]
		for x := 0; x < side*s; x++ {
			px, py := pts[2*x], pts[2*x+1]
			if !(px >= -1 && py >= -1 && px <= float64(g.w)+1 && py <= float64(g.h)+1) {
				if mx := x / s; mx >= deblurPad && mx < deblurPad+dim && y >= deblurPad && y < deblurPad+dim {
					return false // a module off the image (or NaN)
				}
			}
			v, _ := g.at(min(max(px, 0), float64(g.w)), min(max(py, 0), float64(g.h)))
			row[x/s] += float64(v) / float64(s*s)
		}
		return true
	})
	if !inside {
		return nil, false
	}
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			if x < deblurPad || y < deblurPad || x >= deblurPad+dim || y >= deblurPad+dim {
				ring += samples[y*n+x]
				rings++
			}
		}
	}
	ring /= float64(rings)
	// Relative to the quiet zone, and the rest of the periodic frame is quiet
	// zone too: no edge where the frame wraps around.
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if x < side && y < side {
				samples[y*n+x] -= ring
			} else {
				samples[y*n+x] = 0
			}
		}
	}
	d := &deblurGrid{dim: dim, n: n, rows: fourier.NewFFT(n), cols: fourier.NewCmplxFFT(n)}
	half := n/2 + 1
	d.spec = make([]complex128, n*half)
	for y := 0; y < n; y++ {
		d.rows.Coefficients(d.spec[y*half:(y+1)*half], samples[y*n:(y+1)*n])
	}
	col := make([]complex128, n)
	for x := 0; x < half; x++ {
		for y := 0; y < n; y++ {
			col[y] = d.spec[y*half+x]
		}
		d.cols.Coefficients(col, col)
		for y := 0; y < n; y++ {
			d.spec[y*half+x] = col[y]
		}
	}
	return d, true
}

// modules restores the module values for a blur of width sigma (in
// modules): dark modules come out below zero, light ones above.
func (d *deblurGrid) modules(sigma float64) []float32 {
	n, half := d.n, d.n/2+1
	resp := moduleResponse(n, sigma)
	spec := make([]complex128, n*half)
	col := make([]complex128, n)
	for x := 0; x < half; x++ {
		for y := 0; y < n; y++ {
			h := resp[x] * resp[y]
			col[y] = d.spec[y*half+x] * complex(h/(h*h+deblurNoise), 0)
		}
		d.cols.Sequence(col, col)
		for y := 0; y < n; y++ {
			spec[y*half+x] = col[y]
		}
	}
	row := make([]float64, n)
	vals := make([]float32, d.dim*d.dim)
	for y := 0; y < d.dim; y++ {
		r := y + deblurPad
		d.rows.Sequence(row, spec[r*half:(r+1)*half])
		for x := 0; x < d.dim; x++ {
			vals[y*d.dim+x] = float32(row[x+deblurPad])
		}
	}
	centre(vals)
	return vals
}

// moduleResponse is the discrete Fourier transform (length n) of
// moduleShares, along one axis. The blur is separable, so the 2D response
// at (kx, ky) is the product of two.
func moduleResponse(n int, sigma float64) []float64 {
	shares := moduleShares(sigma)
	resp := make([]float64, n)
	for k := range resp {
		v := shares[0]
		for d := 1; d < len(shares); d++ {
			v += 2 * shares[d] * math.Cos(2*math.Pi*float64(k*d)/float64(n))
		}
		resp[k] = v
	}
	return resp
}

// moduleShares is the share of a module's colour that a Gaussian blur of
// width sigma (in modules) carries into the value read for a module d
// modules away along one axis, for d from 0 to the blur's reach. A
// module's colour is a box of one module and the value read is the mean
// over the box the module covers: the two boxes make a triangle over
// [−1, 1], and the Gaussian's mass under it is integrated by the midpoint
// rule.
func moduleShares(sigma float64) []float64 {
	const steps = 64
	gauss := func(u float64) float64 { return math.Exp(-u*u/(2*sigma*sigma)) / (sigma * math.Sqrt(2*math.Pi)) }
	shares := make([]float64, int(math.Ceil(4*sigma))+2)
	for d := range shares {
		var v float64
		for i := range steps {
			t := -1 + (float64(i)+0.5)*2/steps
			v += (1 - math.Abs(t)) * gauss(float64(d)-t)
		}
		shares[d] = v * 2 / steps
	}
	return shares
}

// centre shifts restored module values so that zero lies halfway between
// the dark and the light modules' means (two-means clustering), and scales
// them so that the two means are at −1 and +1.
func centre(vals []float32) {
	var lo, hi float64
	var mean float64
	for _, v := range vals {
		mean += float64(v)
	}
	th := mean / float64(len(vals))
	for range 8 {
		var sl, sh float64
		var nl, nh int
		for _, v := range vals {
			if float64(v) < th {
				sl += float64(v)
				nl++
			} else {
				sh += float64(v)
				nh++
			}
		}
		if nl == 0 || nh == 0 {
			return
		}
		lo, hi = sl/float64(nl), sh/float64(nh)
		prev := th
		th = (lo + hi) / 2
		if th == prev {
			break // the same split again: converged
		}
	}
	half := (hi - lo) / 2
	if half <= 0 {
		return
	}
	for i, v := range vals {
		vals[i] = float32((float64(v) - th) / half)
	}
}

// fftSize is the smallest n ≥ least whose only prime factors are 2, 3 and
// 5 (what the transform handles fast).
func fftSize(least int) int {
	for n := max(least, 1); ; n++ {
		m := n
		for _, p := range []int{2, 3, 5} {
			for m%p == 0 {
				m /= p
			}
		}
		if m == 1 {
			return n
		}
	}
}

// decodeDeblurred restores a grid's modules for each width in turn and
// decodes them, hard and then with erasures. stop ends the search early.
func decodeDeblurred(g *gray, tr *common.PerspectiveTransform, dim int, accept func(string) bool, stop func() bool) (string, bool) {
	d, ok := newDeblurGrid(g, tr, dim, deblurSubsamples)
	if !ok {
		return "", false
	}
	cells := patternCells(dim)
	for _, sigma := range deblurWidths {
		if stop() {
			break
		}
		vals := d.modules(sigma)
		if patternErrors(vals, dim, cells) > deblurMaxPatternErrors {
			continue // the wrong width, or the wrong grid
		}
		if t, ok := decodeSigned(vals, dim, accept); ok {
			return t, true
		}
	}
	return "", false
}

// blurredFinderScore is the finder correlation a pattern must reach in the
// sharpened image for the restorations' own search (readRestored). The three finder
// patterns of the blur2 class's misses scored 0.50–0.58 there, other peaks
// up to 0.51: the triples' geometry and the grid fit sort them out.
const blurredFinderScore = 0.45

// deblurMaxPatternErrors is the share of a grid's timing and alignment
// modules a restoration may read wrong and still be decoded. The 12 blur2
// images deblurring read had 0.2–2.2 % wrong; a wrong width or grid gets
// 17–59 % (quartiles and maximum over the corpus's attempts), and decoding
// it, with erasures especially, was most of the deblurring's cost.
const deblurMaxPatternErrors = 0.08

// patternErrors is the share of cells (patternCells) whose restored value
// has the wrong sign.
func patternErrors(vals []float32, dim int, cells [][3]int) float64 {
	wrong := 0
	for _, c := range cells {
		if (vals[c[1]*dim+c[0]] < 0) != (c[2] == 1) {
			wrong++
		}
	}
	return float64(wrong) / float64(max(len(cells), 1))
}

// decodeSigned decodes module values whose sign is the colour (dark below
// zero) and whose magnitude is how sure it is (about 1 for a clear module):
// hard, then with the least sure modules' codewords as erasures.
func decodeSigned(vals []float32, dim int, accept func(string) bool) (string, bool) {
	// The hard decoding leaves the bits as they are; the soft one gets them
	// next.
	bits, _ := gozxing.NewSquareBitMatrix(dim)
	for i, v := range vals {
		if v < 0 {
			bits.Set(i%dim, i/dim)
		}
	}
	if t, ok := decodeHard(bits); ok && accept(t) {
		return t, true
	}
	margin := make([]float32, len(vals))
	for i, v := range vals {
		margin[i] = float32(math.Abs(float64(v)))
	}
	return decodeErasures(bits, margin, dim, accept)
}
