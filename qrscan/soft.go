package qrscan

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/common"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// Soft-decision decoding. When a sampled grid is read as bits, every bit is
// a decision, but some are close calls: a module whose value lies near its
// threshold is as likely wrong as right. A code of two pixels per module
// under blur, noise and JPEG comes out with 3–5 % of its modules wrong,
// which leaves some Reed–Solomon blocks with more wrong codewords than
// they correct, and gozxing gives up. Here the codewords holding the
// closest calls are declared erasures, a few more at a time, and each block
// is corrected with them (rsCorrect): a block corrects twice as many
// erasures as errors. Format and version information are read as gozxing
// reads them; only the data codewords are treated softly.

// softSharpen and softRadius are the module-space sharpening and threshold
// window of the soft reading (the hard readings try several sharpenings
// with a radius of 3). The radius was chosen on the photo corpus's photo
// class: 4 read 44 of 52, 5: 47, 6: 50, 7: 48, 8: 47; reading every block
// with several settings and keeping the cheapest correction read no more.
const (
	softSharpen = 4.5
	softRadius  = 6
)

// softConfidence scales a module's margin (in local standard deviations)
// into its log odds of being right.
const softConfidence = 4

// softCandidate is a grid that no hard reading decoded, kept for a soft
// reading after every pass has had its cheaper try: its module values,
// dimension and pattern score.
type softCandidate struct {
	vals  []float32
	dim   int
	score float64
	// g and tr are where the values were sampled, for the restorations.
	g  *gray
	tr *common.PerspectiveTransform
	// softRead marks a grid read softly already (a pass's softAfter).
	softRead bool
}

// maxSoftCandidates bounds how many grids a scan keeps for soft reading
// (the best-scoring ones).
const maxSoftCandidates = 8

// decodeSoft reads the module values of a dim×dim grid with erasures.
func decodeSoft(vals []float32, dim int, accept func(string) bool) (string, bool) {
	bits, margin := newModuleThreshold(vals, dim, softRadius).read(softSharpen, true)
	return decodeErasures(bits, margin, dim, accept)
}

// decodeErasures decodes a dim×dim grid's bits, each module's margin its
// distance from its threshold in standard deviations.
func decodeErasures(bits *gozxing.BitMatrix, margin []float32, dim int, accept func(string) bool) (string, bool) {
	writeVersionInfo(bits, dim)
	parser, err := decoder.NewBitMatrixParser(bits)
	if err != nil {
		return "", false
	}
	format, err := parser.ReadFormatInformation()
	if err != nil {
		return "", false
	}
	version, err := parser.ReadVersion()
	if err != nil || version.GetDimensionForVersion() != dim {
		return "", false
	}
	codewords, ok := readCodewords(bits, version, format.GetDataMask(), false)
	if !ok {
		return "", false
	}

	// A codeword's doubt is the log of the chance that all its modules are
	// right, each module's chance a logistic function of its margin.
	where := codewordModulesOf(version)
	doubt := make([]float32, len(codewords))
	for i, mods := range where {
		var logRight float64
		for _, m := range mods {
			logRight -= math.Log1p(math.Exp(-softConfidence * float64(margin[m])))
		}
		doubt[i] = float32(logRight)
	}
	ecLevel := format.GetErrorCorrectionLevel()
	// The blocks are deinterleaved from the codewords by a fixed
	// permutation; running the codewords' indices (low and high bytes)
	// through the same function tells where each block's codewords were.
	lo, hi := make([]byte, len(codewords)), make([]byte, len(codewords))
	for i := range codewords {
		lo[i], hi[i] = byte(i), byte(i>>8)
	}
	loBlocks, err1 := decoder.DataBlock_GetDataBlocks(lo, version, ecLevel)
	hiBlocks, err2 := decoder.DataBlock_GetDataBlocks(hi, version, ecLevel)
	if err1 != nil || err2 != nil {
		return "", false
	}
	res, ok := decodeCodewords(codewords, version, ecLevel, func(bi int, cw []byte, nsym int) bool {
		bd := make([]float32, len(cw))
		for j := range cw {
			bd[j] = doubt[int(loBlocks[bi].GetCodewords()[j])|int(hiBlocks[bi].GetCodewords()[j])<<8]
		}
		return correctBlock(cw, nsym, bd)
	})
	if !ok || !accept(res.GetText()) {
		return "", false
	}
	return res.GetText(), true
}

// decodeCodewords splits a code's codewords into their blocks, corrects
// each with correct (given the block's index, codewords and number of check
// codewords) and decodes the data they hold.
func decodeCodewords(codewords []byte, version *decoder.Version, ecLevel decoder.ErrorCorrectionLevel, correct func(bi int, cw []byte, nsym int) bool) (*common.DecoderResult, bool) {
	blocks, err := decoder.DataBlock_GetDataBlocks(codewords, version, ecLevel)
	if err != nil {
		return nil, false
	}
	var data []byte
	for bi, b := range blocks {
		cw, nd := b.GetCodewords(), b.GetNumDataCodewords()
		if !correct(bi, cw, len(cw)-nd) {
			return nil, false
		}
		data = append(data, cw[:nd]...)
	}
	res, err := decoder.DecodedBitStreamParser_Decode(data, version, ecLevel, nil)
	return res, err == nil
}

// decodeHard decodes a grid's bits as gozxing's Decoder does, and mirrored
// when that fails, with this package's Reed–Solomon decoder (rsCorrect,
// errors only, as many as gozxing's corrects): gozxing's computes each
// syndrome with a division per codeword, and most grids a scan tries fail
// there, after every block's syndromes.
func decodeHard(bits *gozxing.BitMatrix) (string, bool) {
	res, ok := decodeHardResult(bits)
	if !ok {
		return "", false
	}
	return res.GetText(), true
}

// decodeHardResult is decodeHard with gozxing's result: the text, and a
// structured append's place.
func decodeHardResult(bits *gozxing.BitMatrix) (*common.DecoderResult, bool) {
	parser, err := decoder.NewBitMatrixParser(bits)
	if err != nil {
		return nil, false
	}
	read := func(mirrored bool) (*common.DecoderResult, bool) {
		version, err := parser.ReadVersion()
		if err != nil {
			return nil, false
		}
		format, err := parser.ReadFormatInformation()
		if err != nil {
			return nil, false
		}
		codewords, ok := readCodewords(bits, version, format.GetDataMask(), mirrored)
		if !ok {
			return nil, false
		}
		return decodeCodewords(codewords, version, format.GetErrorCorrectionLevel(), func(_ int, cw []byte, nsym int) bool {
			return rsCorrect(cw, nsym, nil)
		})
	}
	if res, ok := read(false); ok {
		return res, true
	}
	// Mirrored: the version and format information read mirrored first, as
	// gozxing has it, then the codewords.
	parser.SetMirror(true)
	if _, err := parser.ReadVersion(); err != nil {
		return nil, false
	}
	if _, err := parser.ReadFormatInformation(); err != nil {
		return nil, false
	}
	return read(true)
}

// readCodewords reads a version's codewords from a code's modules as
// gozxing's BitMatrixParser.ReadCodewords reads them
// (TestReadCodewordsMatchesGozxing), through the version's table of
// codeword modules: gozxing's unmasks the matrix in place and builds the
// function patterns for every try, and was 2 % of the photo corpus's CPU.
// The matrix's rows are copied out once; the table holds each module's
// word and bit in them, read straight or mirrored, and its mask bits, so
// no module costs a division or a call (they were most of a clean code's
// reading). Mirrored, module (x, y) is read at (y, x). bits are left as
// they are; ok is false when they are not the version's size.
func readCodewords(bits *gozxing.BitMatrix, version *decoder.Version, mask byte, mirrored bool) (codewords []byte, ok bool) {
	reads := codewordReadsOf(version)
	dim, rowSize := version.GetDimensionForVersion(), bits.GetRowSize()
	if bits.GetWidth() != dim || bits.GetHeight() != dim || rowSize != (dim+31)/32 {
		return nil, false
	}
	words := make([]uint32, dim*rowSize)
	var row *gozxing.BitArray
	for y := range dim {
		row = bits.GetRow(y, row)
		copy(words[y*rowSize:(y+1)*rowSize], row.GetBitArray())
	}
	out := make([]byte, len(reads)/8)
	for n := range out {
		var b byte
		for _, m := range reads[8*n : 8*n+8] {
			at, shift := m.at, m.shift
			if mirrored {
				at, shift = m.atMirrored, m.shiftMirrored
			}
			b = b<<1 | (byte(words[at]>>shift&1) ^ m.masks>>mask&1)
		}
		out[n] = b
	}
	return out, true
}

// A moduleRead is where a codeword module is in a matrix's rows of 32-bit
// words (rowSize words a row): its word and bit, and those of its mirror
// image; and whether each of the eight data masks inverts it (bit k for
// mask k).
type moduleRead struct {
	at, atMirrored       uint16
	shift, shiftMirrored uint8
	masks                uint8
}

// codewordReads holds each version's moduleReads, made the first time a
// version is read.
var codewordReads = perVersion(moduleReads)

// moduleReads is a version's codeword modules as moduleReads, in
// codewordModules' order.
func moduleReads(version *decoder.Version) []moduleRead {
	dim := version.GetDimensionForVersion()
	rowSize := (dim + 31) / 32 // a BitMatrix's
	masks := maskCycle()
	mods := codewordModulesOf(version)
	reads := make([]moduleRead, 0, 8*len(mods))
	for _, cw := range mods {
		for _, m := range cw {
			x, y := m%dim, m/dim
			reads = append(reads, moduleRead{
				at: uint16(y*rowSize + x/32), shift: uint8(x % 32),
				atMirrored: uint16(x*rowSize + y/32), shiftMirrored: uint8(y % 32),
				masks: masks[y%12][x%12],
			})
		}
	}
	return reads
}

// maskCycle holds the eight masks' bits (bit k for mask k) at row i and
// column j by i and j modulo 12: every mask repeats within 12 rows and 12
// columns (its terms are i and j modulo 2, 3 and 6, and i/2 and j/3
// modulo 2).
var maskCycle = sync.OnceValue(func() (t [12][12]uint8) {
	for i := range 12 {
		for j := range 12 {
			for k := range byte(8) {
				if masked(k, i, j) {
					t[i][j] |= 1 << k
				}
			}
		}
	}
	return t
})

// codewordReadsOf is version's codewordReads.
func codewordReadsOf(version *decoder.Version) []moduleRead {
	return codewordReads[version.GetVersionNumber()]()
}

// masked reports whether data mask mask (0 to 7, ISO/IEC 18004's 000 to
// 111) inverts the module in row i, column j.
func masked(mask byte, i, j int) bool {
	switch mask {
	case 0:
		return (i+j)%2 == 0
	case 1:
		return i%2 == 0
	case 2:
		return j%3 == 0
	case 3:
		return (i+j)%3 == 0
	case 4:
		return (i/2+j/3)%2 == 0
	case 5:
		return i*j%6 == 0
	case 6:
		return i*j%6 < 3
	case 7:
		return (i+j+i*j%3)%2 == 0
	}
	return false
}

// codewordTables holds codewordModules for each version (1 to 40), made
// the first time a version is read.
var codewordTables = perVersion(codewordModules)

// perVersion returns, for each version 1 to 40 (the index), a function
// that makes build(version) the first time it is called, from any
// goroutine, and returns the same value from then on.
func perVersion[T any](build func(*decoder.Version) T) (t [41]func() T) {
	for v := 1; v <= 40; v++ {
		t[v] = sync.OnceValue(func() T {
			version, _ := decoder.Version_GetVersionForNumber(v) // 1 to 40 are versions
			return build(version)
		})
	}
	return t
}

// codewordModulesOf is codewordModules(version), made once per version.
func codewordModulesOf(version *decoder.Version) [][8]int {
	return codewordTables[version.GetVersionNumber()]()
}

// correctBlock corrects one block in place, with the most doubtful
// codewords as erasures: none, then one more at a time while they fit the
// block's check codewords.
func correctBlock(cw []byte, nsym int, doubt []float32) bool {
	order := make([]int, len(cw))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(doubt[a], doubt[b]) })
	for f := 0; f <= nsym; f++ {
		if rsCorrect(cw, nsym, order[:f]) {
			return true
		}
	}
	return false
}

// codewordModules returns, for each codeword of a version, the indices
// (y·dim+x) of its eight modules, most significant bit first: the data
// modules in ISO/IEC 18004's placement order (column pairs from the right,
// up and down in turn, skipping the function patterns), which is how
// gozxing reads them (TestCodewordModulesMatchGozxing holds the two alike).
func codewordModules(version *decoder.Version) [][8]int {
	dim := version.GetDimensionForVersion()
	function := make([]bool, dim*dim)
	region := func(x0, y0, w, h int) {
		for y := y0; y < y0+h; y++ {
			for x := x0; x < x0+w; x++ {
				function[y*dim+x] = true
			}
		}
	}
	region(0, 0, 9, 9)     // top-left finder, separator, format
	region(dim-8, 0, 8, 9) // top-right
	region(0, dim-8, 9, 8) // bottom-left, with the dark module
	centers := version.GetAlignmentPatternCenters()
	for i, cy := range centers {
		for j, cx := range centers {
			if i == 0 && (j == 0 || j == len(centers)-1) || i == len(centers)-1 && j == 0 {
				continue // under a finder pattern
			}
			region(cx-2, cy-2, 5, 5)
		}
	}
	region(6, 9, 1, dim-17) // timing
	region(9, 6, dim-17, 1)
	if version.GetVersionNumber() >= 7 {
		region(dim-11, 0, 3, 6) // version information
		region(0, dim-11, 6, 3)
	}
	out := make([][8]int, version.GetTotalCodewords())
	n, bit := 0, 0
	up := true
	for x := dim - 1; x > 0 && n < len(out); x -= 2 {
		if x == 6 {
			x-- // the vertical timing pattern's column
		}
		for c := 0; c < dim && n < len(out); c++ {
			y := c
			if up {
				y = dim - 1 - c
			}
			for col := 0; col < 2 && n < len(out); col++ {
				if i := y*dim + x - col; !function[i] {
					out[n][bit] = i
					if bit++; bit == 8 {
						n, bit = n+1, 0
					}
				}
			}
		}
		up = !up
	}
	return out
}

// writeVersionInfo writes the version information of a dim×dim code
// (versions 7 and up) into both its places: the grid was sampled for that
// dimension, so the version is known, and a blurred 18-bit field is one
// more thing to fail on.
func writeVersionInfo(bits *gozxing.BitMatrix, dim int) {
	v := (dim - 17) / 4
	if v < 7 || v-7 >= len(decoder.VERSION_DECODE_INFO) {
		return
	}
	info := decoder.VERSION_DECODE_INFO[v-7]
	k := 17 // gozxing reads the most significant bit first, in this order
	for a := 5; a >= 0; a-- {
		for b := dim - 9; b >= dim-11; b-- {
			set := bits.Unset
			if info>>k&1 == 1 {
				set = bits.Set
			}
			set(b, a) // top right: 3 wide, 6 tall
			set(a, b) // bottom left: 6 wide, 3 tall
			k--
		}
	}
}
