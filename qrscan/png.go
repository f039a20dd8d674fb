package qrscan

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"
)

// A fast path for the PNGs a verifier is mostly given: greyscale of 1 to 8
// bits, not interlaced (what scanners and ImageMagick write for a black and
// white code, and every PNG of the photo corpus). image/png takes 1.3 to
// 1.6 times as long on them (BenchmarkDecodePNG): its inflate is
// compress/flate's, its Paeth filter branches on every byte, and it
// unfilters each row in a buffer of its own before copying it out. Here
// klauspost/compress inflates (as hcert inflates certificates) into the
// image's own rows, which are unfiltered in place.
//
// The fast path decodes only what image/png decodes to the same pixels
// (TestGrayPNGMatchesImagePNG, FuzzGrayPNG): every chunk's CRC, the order
// of the chunks, the zlib checksum and the amount of pixel data are checked
// as image/png checks them. Anything else, or anything wrong, is left to
// image/png, which decodes it or says what is wrong.

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// decodeGrayPNG decodes data when it is a PNG of the fast path's kind; ok
// is false for any other data, well formed or not. It allocates the image
// its header declares (at most MaxImagePixels bytes) before it inflates a
// byte: Decode calls it after Inspect has weighed the header against the
// file's size.
func decodeGrayPNG(data []byte) (img *image.Gray, ok bool) {
	if !bytes.HasPrefix(data, pngSignature) {
		return nil, false
	}
	rest := data[len(pngSignature):]
	var (
		w, h, depth int
		idat        chunkReader // the consecutive IDAT chunks' data
		idatRun     int         // 0 before the first IDAT, 1 in the run, 2 after it
	)
	for first := true; ; first = false {
		if len(rest) < 12 {
			return nil, false // truncated
		}
		length := binary.BigEndian.Uint32(rest)
		if length > 0x7fffffff || int64(length) > int64(len(rest)-12) {
			return nil, false
		}
		typ, body := string(rest[4:8]), rest[8:8+length]
		if crc32.ChecksumIEEE(rest[4:8+length]) != binary.BigEndian.Uint32(rest[8+length:]) {
			return nil, false
		}
		rest = rest[12+length:]
		if first != (typ == "IHDR") {
			return nil, false // IHDR first, once
		}
		if idatRun == 1 && typ != "IDAT" {
			idatRun = 2
		}
		switch {
		case typ == "IHDR":
			if w, h, depth, ok = grayHeader(body); !ok {
				return nil, false
			}
		case typ == "IDAT":
			if idatRun == 2 {
				return nil, false // image/png ignores a later IDAT: rare, left to it
			}
			idatRun = 1
			idat = append(idat, body)
		case typ == "IEND":
			if idatRun == 0 {
				return nil, false
			}
			return inflateGray(&idat, w, h, depth)
		case typ == "tRNS" || typ[0]&0x20 == 0:
			return nil, false // transparency, PLTE and unknown critical chunks: image/png's
		default:
			// The other ancillary chunks (gAMA, pHYs, tEXt…) do not change
			// what image/png decodes.
		}
	}
}

// chunkReader reads the IDAT chunks' data as one stream.
type chunkReader [][]byte

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(*c) > 0 && len((*c)[0]) == 0 {
		*c = (*c)[1:]
	}
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	return n, nil
}

// pngInflaters recycles the decompressors and their read buffers: a fresh
// zlib reader allocates its window and tables (about 40 KiB), more than a
// small code's pixels.
var pngInflaters = sync.Pool{New: func() any { return new(pngInflater) }}

type pngInflater struct {
	br *bufio.Reader // over the chunks: klauspost/compress reads it without an interface call a byte
	zr io.ReadCloser
}

// grayHeader reads an IHDR chunk's body: the image's size and bit depth
// when it is greyscale of 1, 2, 4 or 8 bits, not interlaced, and no larger
// than MaxImagePixels.
func grayHeader(b []byte) (w, h, depth int, ok bool) {
	if len(b) != 13 {
		return 0, 0, 0, false
	}
	w, h, depth = int(int32(binary.BigEndian.Uint32(b))), int(int32(binary.BigEndian.Uint32(b[4:]))), int(b[8])
	colour, compression, filter, interlace := b[9], b[10], b[11], b[12]
	switch {
	case w <= 0 || h <= 0 || int64(w)*int64(h) > MaxImagePixels:
		return 0, 0, 0, false
	case colour != 0 || compression != 0 || filter != 0 || interlace != 0:
		return 0, 0, 0, false
	case depth != 1 && depth != 2 && depth != 4 && depth != 8:
		return 0, 0, 0, false
	}
	return w, h, depth, true
}

// inflateGray inflates and unfilters the pixel data of a w×h greyscale
// image of depth bits read from idat. The stream must end with the last row
// and with the IDAT data.
func inflateGray(idat io.Reader, w, h, depth int) (*image.Gray, bool) {
	f := pngInflaters.Get().(*pngInflater)
	defer pngInflaters.Put(f)
	if f.br == nil {
		f.br = bufio.NewReader(idat)
	} else {
		f.br.Reset(idat)
	}
	defer f.br.Reset(nil) // keep no reference to the caller's bytes
	var err error
	if f.zr == nil {
		f.zr, err = zlib.NewReader(f.br)
	} else {
		err = f.zr.(zlib.Resetter).Reset(f.br, nil)
	}
	if err != nil {
		f.zr = nil // a reader whose header failed is not kept
		return nil, false
	}
	zr := f.zr
	img := image.NewGray(image.Rect(0, 0, w, h))
	rowBytes := (w*depth + 7) / 8
	// Rows of 8 bits are unfiltered in the image itself; narrower ones in
	// two rows of packed pixels, then spread out.
	prev := make([]byte, rowBytes) // the row above the first: zeros
	var cur []byte
	if depth < 8 {
		cur = make([]byte, rowBytes)
	}
	var filter [2]byte
	for y := 0; y < h; y++ {
		if depth == 8 {
			cur = img.Pix[y*w : (y+1)*w]
		}
		if !readRow(zr, filter[:1], cur) {
			return nil, false
		}
		if depth == 8 && filter[0] == 4 && y+1 < h {
			// A Paeth row and the row under it: two Paeth rows are
			// unfiltered together.
			next := img.Pix[(y+1)*w : (y+2)*w]
			if !readRow(zr, filter[1:], next) {
				return nil, false
			}
			if filter[1] == 4 {
				paeth2(prev, cur, next)
			} else {
				unfilter(4, cur, prev)
				if !unfilter(filter[1], next, cur) {
					return nil, false
				}
			}
			prev = next
			y++
			continue
		}
		if !unfilter(filter[0], cur, prev) {
			return nil, false
		}
		if depth < 8 {
			spread(img.Pix[y*w:(y+1)*w], cur, depth)
		}
		prev, cur = cur, prev
	}
	// The stream ends here: its checksum is read and checked at EOF, and
	// no IDAT byte may follow it.
	if n, err := zr.Read(filter[:]); n != 0 || err != io.EOF || f.br.Buffered() != 0 {
		return nil, false
	}
	return img, true
}

// readRow reads a row's filter type into filter (one byte) and its data
// into row.
func readRow(zr io.Reader, filter, row []byte) bool {
	if _, err := io.ReadFull(zr, filter); err != nil {
		return false
	}
	_, err := io.ReadFull(zr, row)
	return err == nil
}

// paeth2 undoes the Paeth filter of two rows, r0 under prev and r1 under
// r0, at once: r1 a byte behind r0, whose bytes it needs above it. Each
// row's predictions wait on the one before, so one row at a time leaves
// the processor idle between them; two rows are two chains it runs side
// by side (BenchmarkDecodePNG, 5 alternating rounds: busy −19 %, blur2
// −8 %).
func paeth2(prev, r0, r1 []byte) {
	n := len(r0)
	prev, r1 = prev[:n], r1[:n]
	// a and c are each row's left and upper-left neighbours, 0 left of
	// the rows; r0's left neighbour is r1's upper one.
	b0 := int(prev[0])
	a0 := (paeth(0, b0, 0) + int(r0[0])) & 0xff
	r0[0] = byte(a0)
	c0, a1, c1 := b0, 0, 0
	for i := 1; i < n; i++ {
		b1 := a0
		b0 := int(prev[i])
		a0 = (paeth(a0, b0, c0) + int(r0[i])) & 0xff
		r0[i] = byte(a0)
		c0 = b0
		a1 = (paeth(a1, b1, c1) + int(r1[i-1])) & 0xff
		r1[i-1] = byte(a1)
		c1 = b1
	}
	r1[n-1] = byte(paeth(a1, a0, c1) + int(r1[n-1]))
}

// unfilter undoes a row's PNG filter (one byte a pixel for filtering:
// greyscale of up to 8 bits), given the row above, unfiltered.
func unfilter(filter byte, cur, prev []byte) bool {
	prev = prev[:len(cur)]
	switch filter {
	case 0: // none
	case 1: // sub
		for i := 1; i < len(cur); i++ {
			cur[i] += cur[i-1]
		}
	case 2: // up
		for i := range cur {
			cur[i] += prev[i]
		}
	case 3: // average
		var a int
		for i := range cur {
			a = (a+int(prev[i]))/2 + int(cur[i])
			a &= 0xff
			cur[i] = byte(a)
		}
	case 4: // Paeth
		var a, c int
		for i := range cur {
			b := int(prev[i])
			a = (paeth(a, b, c) + int(cur[i])) & 0xff
			cur[i] = byte(a)
			c = b
		}
	default:
		return false
	}
	return true
}

// paeth is the PNG Paeth predictor of a byte from its left (a), upper (b)
// and upper-left (c) neighbours: of a, b and c (in that order on a tie),
// the one nearest to a+b−c. It is computed as stb_image computes it,
// without branches: each prediction waits on the one before, so a
// mispredicted branch stalls the whole row. With lo and hi the smaller and
// the larger of a and b, the nearest is lo when c lies far enough above
// both (hi ≤ 3c−a−b), hi when far enough below (3c−a−b ≤ lo), and c
// otherwise; TestPaethMatchesDefinition checks all 2²⁴ triples.
func paeth(a, b, c int) int {
	t := 3*c - a - b
	lo, hi := min(a, b), max(a, b)
	p := c
	if hi <= t {
		p = lo
	}
	if t <= lo {
		p = hi
	}
	return p
}

// spread writes a row of packed pixels of depth bits (most significant
// first) as bytes, 0 black and 255 white, as image/png does. Whole packed
// bytes go through spreadTables, eight, four or two pixels at a store (a
// pixel at a time took a sixth of a 1-bit code's verification); the last,
// partial byte a pixel at a time.
func spread(dst, packed []byte, depth int) {
	per := 8 / depth
	whole := min(len(packed), len(dst)/per)
	t := spreadTables()
	switch depth {
	case 1:
		for i, b := range packed[:whole] {
			binary.LittleEndian.PutUint64(dst[8*i:], t.d1[b])
		}
	case 2:
		for i, b := range packed[:whole] {
			binary.LittleEndian.PutUint32(dst[4*i:], t.d2[b])
		}
	case 4:
		for i, b := range packed[:whole] {
			binary.LittleEndian.PutUint16(dst[2*i:], t.d4[b])
		}
	default:
		whole = 0
	}
	spreadBits(dst[whole*per:], packed[whole:], depth)
}

// spreadBits is spread a pixel at a time: the definition the tables are
// made from.
func spreadBits(dst, packed []byte, depth int) {
	per := 8 / depth
	mask := byte(1<<depth - 1)
	scale := 255 / mask
	for i, b := range packed {
		out := dst[i*per : min((i+1)*per, len(dst))]
		for k := range out {
			out[k] = (b >> (8 - depth*(k+1)) & mask) * scale
		}
	}
}

type spreadTable struct {
	d1 [256]uint64
	d2 [256]uint32
	d4 [256]uint16
}

// spreadTables holds each packed byte's pixels for depths 1, 2 and 4, the
// first pixel in the lowest byte (little-endian stores put it first).
var spreadTables = sync.OnceValue(func() *spreadTable {
	t := new(spreadTable)
	var px [8]byte
	for b := range 256 {
		spreadBits(px[:], []byte{byte(b)}, 1)
		t.d1[b] = binary.LittleEndian.Uint64(px[:])
		spreadBits(px[:4], []byte{byte(b)}, 2)
		t.d2[b] = binary.LittleEndian.Uint32(px[:])
		spreadBits(px[:2], []byte{byte(b)}, 4)
		t.d4[b] = binary.LittleEndian.Uint16(px[:])
	}
	return t
})
