package qrscan

import (
	"encoding/binary"

	"github.com/makiuchi-d/gozxing"
)

// hybridBinarizer is gozxing's HybridBinarizer (the black point of each
// 8×8 block from its range and its neighbours', each pixel compared with
// the mean black point of the 5×5 blocks around its own) with the same
// black matrix, bit for bit (TestHybridBinarizerMatchesGozxing), made with
// flat tables and eight pixels at a time instead of a call per pixel:
// binarizing was a sixth of a scan's time. Everything else, and images
// under 40 pixels a side, goes to gozxing's.
type hybridBinarizer struct {
	gozxing.Binarizer
	matrix *gozxing.BitMatrix
	// positive is set for the binarizer of a negative (negative): its
	// pixels and block statistics are the positive's, read inverted.
	positive *hybridBinarizer
	lum      []byte      // the pixels, once read
	stats    []blockStat // per block, once made
}

func newHybridBinarizer(src gozxing.LuminanceSource) *hybridBinarizer {
	return &hybridBinarizer{Binarizer: gozxing.NewHybridBinarizer(src)}
}

// negative binarizes b's image inverted (gozxing's Invert of its source)
// from b's pixels and block statistics: a block's inverted sum, least and
// greatest values follow from its own, so only the thresholding reads the
// pixels again, and no inverted copy of them is made.
func (b *hybridBinarizer) negative() *hybridBinarizer {
	return &hybridBinarizer{Binarizer: gozxing.NewHybridBinarizer(b.GetLuminanceSource().Invert()), positive: b}
}

func (b *hybridBinarizer) CreateBinarizer(src gozxing.LuminanceSource) gozxing.Binarizer {
	return newHybridBinarizer(src)
}

// The block size and the range under which a block counts as flat, as
// gozxing has them.
const (
	hbBlock    = 8
	hbMinRange = 24
)

// source returns the pixels and block statistics of the image b reads
// (of its positive, for a negative), made on first use, and whether b
// reads them inverted.
func (b *hybridBinarizer) source() (lum []byte, stats []blockStat, inverted bool) {
	p := b
	if b.positive != nil {
		p, inverted = b.positive, true
	}
	src := p.GetLuminanceSource()
	w, h := src.GetWidth(), src.GetHeight()
	if p.lum == nil {
		p.lum = src.GetMatrix()
	}
	if p.stats == nil {
		p.stats = blockStats(p.lum, w, h)
	}
	return p.lum, p.stats, inverted
}

func (b *hybridBinarizer) GetBlackMatrix() (*gozxing.BitMatrix, error) {
	if b.matrix != nil {
		return b.matrix, nil
	}
	w, h := b.GetWidth(), b.GetHeight()
	if w < 5*hbBlock || h < 5*hbBlock {
		return b.Binarizer.GetBlackMatrix()
	}
	lum, stats, inverted := b.source()
	sw, sh := (w+hbBlock-1)/hbBlock, (h+hbBlock-1)/hbBlock
	black := blackPoints(stats, sw, sh, inverted)

	rowSize := (w + 31) / 32
	words := make([]uint32, rowSize*h)
	for y := range sh {
		yo := min(y*hbBlock, h-hbBlock) // the last block is moved inside the image
		top := min(max(y, 2), sh-3)
		for x := range sw {
			xo := min(x*hbBlock, w-hbBlock)
			left := min(max(x, 2), sw-3)
			sum := 0
			for z := top - 2; z <= top+2; z++ {
				row := black[z*sw+left-2 : z*sw+left+3]
				sum += row[0] + row[1] + row[2] + row[3] + row[4]
			}
			// A pixel is black at or under the threshold t (black 0 stays
			// black at 0); inverted, 255−p ≤ t where p > 254−t.
			t := sum / 25
			var atMost atMost
			var flip byte
			if inverted {
				atMost, flip = newAtMost(254-t), 0xFF
			} else {
				atMost = newAtMost(t)
			}
			word, shift := xo/32, uint(xo%32)
			for yy := range hbBlock {
				mask := uint64(atMost.of(lum[(yo+yy)*w+xo:])^flip) << shift
				i := (yo+yy)*rowSize + word
				words[i] |= uint32(mask)
				if shift > 32-hbBlock {
					words[i+1] |= uint32(mask >> 32)
				}
			}
		}
	}
	m, err := gozxing.NewBitMatrix(w, h)
	if err != nil {
		return nil, err
	}
	row := gozxing.NewBitArray(w)
	for y := range h {
		copy(row.GetBitArray(), words[y*rowSize:(y+1)*rowSize])
		m.SetRow(y, row)
	}
	b.matrix = m
	return m, nil
}

// atMost compares eight pixels at once with a threshold t (0 to 255), a
// 16-bit lane for each of four pixels: 0x100+t−p keeps bit 8 exactly when
// p ≤ t, and no lane borrows from the next.
type atMost uint64

func newAtMost(t int) atMost { return atMost(uint64(0x100+t) * 0x0001_0001_0001_0001) }

// of returns a byte whose bit i is set when px[i] ≤ t, for the first eight
// pixels of px.
func (t atMost) of(px []byte) byte {
	const (
		lanes = 0x00FF_00FF_00FF_00FF
		bit8  = 0x0100_0100_0100_0100
	)
	v := binary.LittleEndian.Uint64(px)
	even := (uint64(t) - v&lanes) & bit8   // pixels 0, 2, 4, 6 at bits 8, 24, 40, 56
	odd := (uint64(t) - v>>8&lanes) & bit8 // pixels 1, 3, 5, 7 at the same bits
	m := even>>8 | odd>>7                  // pixel 2k+j at bit 16k+j
	m |= m >> 14                           // pixels 2, 3 at bits 2, 3; 6, 7 at 34, 35
	m |= m >> 28                           // pixels 4–7 at bits 4–7
	return byte(m)
}

// rowSum is the sum of the first eight pixels of px, added in 16-bit
// lanes.
func rowSum(px []byte) int {
	const lanes = 0x00FF_00FF_00FF_00FF
	v := binary.LittleEndian.Uint64(px)
	v = v&lanes + v>>8&lanes                    // four lanes of at most 510
	return int(v * 0x0001_0001_0001_0001 >> 48) // their sum, in the top lane
}

// rowRange is the least and the greatest of the first eight pixels of px,
// taken pairwise: one pixel after another, each waited on the last.
func rowRange(px []byte) (lo, hi int) {
	p := px[:8]
	a, b, c, d := int(p[0]), int(p[1]), int(p[2]), int(p[3])
	e, f, g, h := int(p[4]), int(p[5]), int(p[6]), int(p[7])
	lo = min(min(min(a, b), min(c, d)), min(min(e, f), min(g, h)))
	hi = max(max(max(a, b), max(c, d)), max(max(e, f), max(g, h)))
	return lo, hi
}

// blockStat is what a block's black point is made from: the sum of its
// pixels, and its least and greatest pixel, both only until their range
// exceeds hbMinRange (a block that wide has its mean as its black point).
type blockStat struct{ sum, lo, hi int32 }

// blockStats are the statistics of each block of a w×h image, row by row.
func blockStats(lum []byte, w, h int) []blockStat {
	sw, sh := (w+hbBlock-1)/hbBlock, (h+hbBlock-1)/hbBlock
	stats := make([]blockStat, sw*sh)
	for y := range sh {
		yo := min(y*hbBlock, h-hbBlock)
		for x := range sw {
			xo := min(x*hbBlock, w-hbBlock)
			// A row of eight pixels at a time (rowSum, rowRange); the range
			// until it is wide enough.
			sum, lo, hi := 0, 0xFF, 0
			for yy := 0; yy < hbBlock; yy++ {
				px := lum[(yo+yy)*w+xo : (yo+yy)*w+xo+hbBlock]
				sum += rowSum(px)
				rlo, rhi := rowRange(px)
				lo, hi = min(lo, rlo), max(hi, rhi)
				if hi-lo > hbMinRange { // enough contrast: the rest only adds up
					for yy++; yy < hbBlock; yy++ {
						sum += rowSum(lum[(yo+yy)*w+xo:])
					}
				}
			}
			stats[y*sw+x] = blockStat{int32(sum), int32(lo), int32(hi)}
		}
	}
	return stats
}

// blackPoints is each block's black point: its mean, or for a flat block
// (range at most hbMinRange) half its minimum, or its upper and left
// neighbours' black point when that is above its minimum. Inverted, they
// are those of the image's negative: each pixel p read as 255−p, which
// turns a block's sum s into 64·255−s and its range [lo, hi] into
// [255−hi, 255−lo] (the same rows read, so the same width).
func blackPoints(stats []blockStat, sw, sh int, inverted bool) []int {
	black := make([]int, sw*sh)
	for y := range sh {
		for x := range sw {
			st := stats[y*sw+x]
			if inverted {
				st = blockStat{hbBlock*hbBlock*255 - st.sum, 255 - st.hi, 255 - st.lo}
			}
			average := int(st.sum >> 6)
			if st.hi-st.lo <= hbMinRange {
				average = int(st.lo / 2)
				if y > 0 && x > 0 {
					neighbours := (black[(y-1)*sw+x] + 2*black[y*sw+x-1] + black[(y-1)*sw+x-1]) / 4
					if int(st.lo) < neighbours {
						average = neighbours
					}
				}
			}
			black[y*sw+x] = average
		}
	}
	return black
}
