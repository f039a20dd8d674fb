package qrscan

import (
	"image"
	"math"
)

// gray is an 8-bit luminance plane, the only pixel format the QR passes use.
type gray struct {
	pix  []byte
	w, h int
}

// toGray converts an image to luminance, reading YCbCr (JPEG) and Gray
// images without conversion. The result may share img's pixels: it must
// not be written to.
func toGray(img image.Image) *gray {
	b := img.Bounds()
	n := b.Dx() * b.Dy()
	// A luminance plane whose rows lie back to back is used as it is: the
	// scan only reads its image, and a copy was a twelfth of a keystoned
	// photo's scan (most of it the fresh pages' faults).
	switch m := img.(type) {
	case *image.Gray:
		if m.Stride == b.Dx() {
			off := m.PixOffset(b.Min.X, b.Min.Y)
			return &gray{pix: m.Pix[off : off+n : off+n], w: b.Dx(), h: b.Dy()}
		}
	case *image.YCbCr:
		if m.YStride == b.Dx() {
			off := m.YOffset(b.Min.X, b.Min.Y)
			return &gray{pix: m.Y[off : off+n : off+n], w: b.Dx(), h: b.Dy()}
		}
	}
	g := &gray{pix: make([]byte, n), w: b.Dx(), h: b.Dy()}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < g.h; y++ {
			copy(g.pix[y*g.w:(y+1)*g.w], m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X):])
		}
	case *image.YCbCr:
		for y := 0; y < g.h; y++ {
			copy(g.pix[y*g.w:(y+1)*g.w], m.Y[m.YOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.NRGBA:
		for y := 0; y < g.h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < g.w; x++ {
				p := row[4*x : 4*x+4]
				// Transparent pixels are paper: composite over white.
				a := uint32(p[3])
				l := (299*uint32(p[0]) + 587*uint32(p[1]) + 114*uint32(p[2])) / 1000
				g.pix[y*g.w+x] = byte((l*a + 255*(255-a)) / 255)
			}
		}
	default:
		for y := 0; y < g.h; y++ {
			for x := 0; x < g.w; x++ {
				r, gg, bb, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				l := (299*r + 587*gg + 114*bb) / 1000 // premultiplied: transparent is black…
				l += 0xFFFF - a                       // …so add the white paper behind it
				g.pix[y*g.w+x] = byte(min(l, 0xFFFF) >> 8)
			}
		}
	}
	return g
}

// workingScale is the factor that brings a w×h image to at most
// maxWorkingSide on its long side (1 when it is that small already).
func workingScale(w, h int) float64 {
	if side := max(w, h); side > maxWorkingSide {
		return float64(maxWorkingSide) / float64(side)
	}
	return 1
}

// scaledSize is the size of a w×h image scaled by f, as scale makes it.
func scaledSize(w, h int, f float64) (int, int) {
	return max(1, int(float64(w)*f+0.5)), max(1, int(float64(h)*f+0.5))
}

// scale resizes by factor f with bilinear interpolation. Upscaling gives the
// binarizer more than one pixel per module; downscaling a large photo makes
// every pass cheaper.
func (g *gray) scale(f float64) *gray {
	w, h := scaledSize(g.w, g.h, f)
	out := &gray{pix: make([]byte, w*h), w: w, h: h}
	if f < 1 {
		// Box filter: average the source pixels each output pixel covers.
		for y := 0; y < h; y++ {
			y0, y1 := y*g.h/h, max((y+1)*g.h/h, y*g.h/h+1)
			for x := 0; x < w; x++ {
				x0, x1 := x*g.w/w, max((x+1)*g.w/w, x*g.w/w+1)
				sum, n := 0, 0
				for yy := y0; yy < y1; yy++ {
					row := g.pix[yy*g.w:]
					for xx := x0; xx < x1; xx++ {
						sum += int(row[xx])
					}
					n += x1 - x0
				}
				out.pix[y*w+x] = byte(sum / n)
			}
		}
		return out
	}
	// Bilinear in 8-bit fixed point: per column the two source columns and
	// the weight are computed once.
	x0s, x1s, wxs := make([]int, w), make([]int, w), make([]int32, w)
	for x := range w {
		fx := max(0, (float64(x)+0.5)*float64(g.w)/float64(w)-0.5)
		x0s[x] = min(int(fx), g.w-1)
		x1s[x] = min(x0s[x]+1, g.w-1)
		wxs[x] = int32((fx - float64(x0s[x])) * 256)
	}
	for y := 0; y < h; y++ {
		fy := max(0, (float64(y)+0.5)*float64(g.h)/float64(h)-0.5)
		y0 := min(int(fy), g.h-1)
		y1 := min(y0+1, g.h-1)
		wy := int32((fy - float64(y0)) * 256)
		r0, r1 := g.pix[y0*g.w:(y0+1)*g.w], g.pix[y1*g.w:(y1+1)*g.w]
		row := out.pix[y*w : (y+1)*w]
		for x := range row {
			a, b, wx := x0s[x], x1s[x], wxs[x]
			top := int32(r0[a])*(256-wx) + int32(r0[b])*wx
			bot := int32(r1[a])*(256-wx) + int32(r1[b])*wx
			row[x] = byte((top*(256-wy) + bot*wy + 1<<15) >> 16)
		}
	}
	return out
}

// blur approximates a Gaussian blur of standard deviation sigma with three
// box blurs (each O(1) per pixel): it removes sensor and JPEG noise that the
// binarizer would take for modules.
func (g *gray) blur(sigma float64) *gray {
	// Box radius whose three-fold repetition has variance sigma² (3·r(r+1)/3).
	return g.boxBlur(max(1, int(math.Round((math.Sqrt(4*sigma*sigma+1)-1)/2))), 3)
}

// boxBlur averages over (2r+1)² pixels, rounds times.
func (g *gray) boxBlur(r, rounds int) *gray {
	out := &gray{pix: make([]byte, len(g.pix)), w: g.w, h: g.h}
	tmp := make([]byte, len(g.pix))
	src := g.pix
	for range rounds {
		boxH(src, tmp, g.w, g.h, r)
		boxV(tmp, out.pix, g.w, g.h, r)
		src = out.pix
	}
	return out
}

// rounded divides by n, rounding to nearest, as a multiplication: an integer
// division per pixel was most of a box blur's time. Exact for sums below
// 2^40/n (TestRoundedDivision), far above 255 × any window here.
type rounded struct{ half, mul uint64 }

func roundedBy(n int) rounded {
	return rounded{uint64(n / 2), (1<<40 + uint64(n) - 1) / uint64(n)}
}

func (d rounded) of(sum int) byte { return byte((uint64(sum) + d.half) * d.mul >> 40) }

// boxH averages each pixel with r neighbours left and right (edges clamped).
func boxH(src, dst []byte, w, h, r int) {
	d := roundedBy(2*r + 1)
	for y := 0; y < h; y++ {
		row, out := src[y*w:(y+1)*w], dst[y*w:(y+1)*w]
		sum := 0
		for i := -r; i <= r; i++ {
			sum += int(row[min(max(i, 0), w-1)])
		}
		x := 0
		for ; x < w && (x-r < 0 || x+r+1 >= w); x++ { // left edge (and tiny rows)
			out[x] = d.of(sum)
			sum += int(row[min(x+r+1, w-1)]) - int(row[max(x-r, 0)])
		}
		for ; x+r+1 < w; x++ { // interior: no clamping
			out[x] = d.of(sum)
			sum += int(row[x+r+1]) - int(row[x-r])
		}
		for ; x < w; x++ { // right edge
			out[x] = d.of(sum)
			sum += int(row[w-1]) - int(row[max(x-r, 0)])
		}
	}
}

// boxV is boxH down the columns, kept as running sums of whole rows so that
// memory is read in order.
func boxV(src, dst []byte, w, h, r int) {
	d := roundedBy(2*r + 1)
	sums := make([]int, w)
	for i := -r; i <= r; i++ {
		row := src[min(max(i, 0), h-1)*w:]
		for x := range sums {
			sums[x] += int(row[x])
		}
	}
	for y := 0; y < h; y++ {
		out := dst[y*w : (y+1)*w]
		for x, s := range sums {
			out[x] = d.of(s)
		}
		add, sub := src[min(y+r+1, h-1)*w:], src[max(y-r, 0)*w:]
		for x := range sums {
			sums[x] += int(add[x]) - int(sub[x])
		}
	}
}

// invert returns the negative: dark-mode screens show light modules on dark.
func (g *gray) invert() *gray {
	out := &gray{pix: make([]byte, len(g.pix)), w: g.w, h: g.h}
	for i, p := range g.pix {
		out.pix[i] = 255 - p
	}
	return out
}

// sharpen is an unsharp mask: g + amount·(g − blur(g)). It steepens the
// edges a defocused camera smears.
func (g *gray) sharpen(sigma, amount float64) *gray {
	return g.unsharp(g.blur(sigma), amount)
}

// unsharp returns g + amount·(g − b).
func (g *gray) unsharp(b *gray, amount float64) *gray {
	out := &gray{pix: make([]byte, len(g.pix)), w: g.w, h: g.h}
	k := int32(math.Round(amount * 256)) // amount in 8-bit fixed point
	for i, p := range g.pix {
		v := int32(p) + (k*(int32(p)-int32(b.pix[i]))+128)>>8
		out.pix[i] = byte(min(max(v, 0), 255))
	}
	return out
}
