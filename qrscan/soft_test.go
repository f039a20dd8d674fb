package qrscan

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"
)

// encodeQR is gozxing's encoding of text at version v (level M) as a bit
// matrix without quiet zone.
func encodeQR(t testing.TB, text string, v int) *gozxing.BitMatrix {
	t.Helper()
	return encodeQRLevel(t, text, v, decoder.ErrorCorrectionLevel_M)
}

// encodeQRLevel is encodeQR at error correction level ec.
func encodeQRLevel(t testing.TB, text string, v int, ec decoder.ErrorCorrectionLevel) *gozxing.BitMatrix {
	t.Helper()
	code, err := encoder.Encoder_encode(text, ec,
		map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_QR_VERSION: v})
	if err != nil {
		t.Fatalf("version %d: %v", v, err)
	}
	m := code.GetMatrix()
	bits, _ := gozxing.NewBitMatrix(m.GetWidth(), m.GetHeight())
	for y := range m.GetHeight() {
		for x := range m.GetWidth() {
			if m.Get(x, y) == 1 {
				bits.Set(x, y)
			}
		}
	}
	return bits
}

// TestCodewordModulesMatchGozxing derives gozxing's reading order from
// readings (flipping the modules whose index has bit j set flips, in every
// codeword, the bits read from them) and compares it with
// codewordModules for every version.
func TestCodewordModulesMatchGozxing(t *testing.T) {
	for v := 1; v <= 40; v++ {
		bits := encodeQR(t, "HC1:TEST", v)
		dim := bits.GetWidth()
		read := func(flip func(x, y int) bool) []byte {
			p, err := decoder.NewBitMatrixParser(copyBits(bits, flip))
			if err != nil {
				t.Fatal(err)
			}
			cw, err := p.ReadCodewords()
			if err != nil {
				t.Fatalf("version %d: %v", v, err)
			}
			return cw
		}
		base := read(nil)
		want := make([][8]int, len(base))
		for j := 0; 1<<j < dim*dim; j++ {
			cw := read(func(x, y int) bool { return (y*dim+x)>>j&1 == 1 && !formatArea(x, y, dim) })
			for i := range cw {
				for k := range 8 {
					if (cw[i]^base[i])>>(7-k)&1 == 1 {
						want[i][k] |= 1 << j
					}
				}
			}
		}
		version, _ := decoder.Version_GetVersionForNumber(v)
		got := codewordModules(version)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("version %d: codeword %d at %v, gozxing reads it at %v", v, i, got[i], want[i])
				}
			}
		}
	}
}

// TestDecodeSoft plays a blurred code: the grid's module values are the
// code's, with noise, and with a fifth of some blocks' codewords pushed
// just across their threshold — more than the hard reading corrects. The
// soft reading declares those close calls erasures and reads the text.
func TestDecodeSoft(t *testing.T) {
	text := "HC1:" + strings.Repeat("6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DPF6R:5SVBHABVCNN95SWMPHQUHQN%A0SOE+QQAB-HQ/HQ7IR.SQEEOK9SAI4- 7Y15KBPD34  QWSP0WRGTQFNPLIR.KQNA7N95U/3FJCTG90OARH9P1J4HGZJKBEG%123ZC$0BCI757TLXKIBTV5TN%2LXK-$CH4TSXKZ4S/$K%0KPQ1HEP9.PZE9Q$95:UENEUW6646936HRTO$9KZ56DE/.QC$Q3J62:6LZ6O59++9-G9+E93ZM$96TV6NRNJ1", 2)
	bits := encodeQR(t, text, 20)
	dim := bits.GetWidth()
	version, _ := decoder.Version_GetVersionForNumber(20)
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]float32, dim*dim)
	for y := range dim {
		for x := range dim {
			v := float32(200)
			if bits.Get(x, y) {
				v = 50
			}
			vals[y*dim+x] = v + float32(rng.NormFloat64()*8)
		}
	}
	// Push the modules of 30 % of the codewords (more than level M's 26 of
	// 65-70 per block corrects as errors, fewer than as erasures) to just
	// past the middle, one in eight of them across it.
	where := codewordModules(version)
	for i, mods := range where {
		if i%10 >= 3 {
			continue
		}
		for k, m := range mods {
			dark := vals[m] < 125
			if dark == (k == 0) { // the first module crosses over
				vals[m] = 140
			} else {
				vals[m] = 110
			}
		}
	}
	accept := func(s string) bool { return s == text }
	dec := decoder.NewDecoder()
	if res, err := dec.Decode(newModuleThreshold(vals, dim, 3).bits(0), nil); err == nil && res.GetText() == text {
		t.Fatal("the hard reading corrects this grid: the test shows nothing")
	}
	got, ok := decodeSoft(vals, dim, accept)
	if !ok || got != text {
		t.Fatalf("soft reading failed (%v)", ok)
	}
	// A grid of noise decodes to nothing.
	for i := range vals {
		vals[i] = float32(rng.IntN(256))
	}
	if _, ok := decodeSoft(vals, dim, func(string) bool { return true }); ok {
		t.Fatal("noise decoded")
	}
}

// formatArea reports whether module (x, y) holds format or version
// information (or a finder pattern next to them): the test never flips
// those, so that every reading decodes the same format.
func formatArea(x, y, dim int) bool {
	switch {
	case x < 9 && y < 9, x >= dim-8 && y < 9, x < 9 && y >= dim-8:
		return true
	case dim >= 45 && (x >= dim-11 && x < dim-8 && y < 6 || y >= dim-11 && y < dim-8 && x < 6):
		return true // version information (versions 7 and up)
	}
	return false
}

// FuzzDecodeSoft: module values of any grid of versions 1 to 10 read softly
// without panicking.
func FuzzDecodeSoft(f *testing.F) {
	f.Add(make([]byte, 21*21))
	f.Add(bytes.Repeat([]byte{0, 255}, 29*29/2+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		dim := 21
		for dim+4 <= 57 && (dim+4)*(dim+4) <= len(data) {
			dim += 4
		}
		if len(data) < dim*dim {
			return
		}
		vals := make([]float32, dim*dim)
		for i := range vals {
			vals[i] = float32(data[i])
		}
		decodeSoft(vals, dim, func(string) bool { return true })
	})
}

// TestSoftReadingNeedsAccept: a corpus photo that only the soft reading
// reads is read with a checking Accept, and not without one.
func TestSoftReadingNeedsAccept(t *testing.T) {
	var c photoCase
	for _, pc := range loadPhotoCorpus(t) {
		if pc.class == "photo" && strings.HasSuffix(pc.file, "/HU_png_1.jpg") {
			c = pc
		}
	}
	if c.file == "" {
		t.Fatal("photo/HU_png_1.jpg is not in the corpus")
	}
	img := c.image(t)
	found, err := Scan(context.Background(), img, Options{Budget: time.Hour, Accept: hcert.IsDCCText})
	if err != nil || found.Text != c.want || found.Pass != "soft reading" {
		t.Fatalf("with Accept: %q by %q, %v", found.Text, found.Pass, err)
	}
	if found, err := Scan(context.Background(), img, Options{Budget: time.Hour}); err == nil && found.Pass == "soft reading" {
		t.Fatal("the soft reading ran without Accept")
	}
}

// copyBits copies m (gozxing's parser unmasks what it reads in place), with the modules where flip says so inverted.
func copyBits(m *gozxing.BitMatrix, flip func(x, y int) bool) *gozxing.BitMatrix {
	w, h := m.GetWidth(), m.GetHeight()
	out, _ := gozxing.NewBitMatrix(w, h)
	for y := range h {
		for x := range w {
			if m.Get(x, y) != (flip != nil && flip(x, y)) {
				out.Set(x, y)
			}
		}
	}
	return out
}

// decodeHard reads what gozxing's Decoder reads, and fails where it fails:
// codes of several versions and levels, as they are and mirrored, with
// more and more modules flipped, to past what the blocks correct.
func TestDecodeHardMatchesGozxing(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	levels := []decoder.ErrorCorrectionLevel{decoder.ErrorCorrectionLevel_L, decoder.ErrorCorrectionLevel_M,
		decoder.ErrorCorrectionLevel_Q, decoder.ErrorCorrectionLevel_H}
	read, failed := 0, 0
	for _, v := range []int{1, 4, 10, 20} {
		for _, ec := range levels {
			code := encodeQRLevel(t, fmt.Sprintf("HC1:%d", rng.IntN(1000)), v, ec)
			dim := code.GetWidth()
			for _, flips := range []int{0, 3, 10, 30, 60, 120, 250} {
				for _, mirrored := range []bool{false, true} {
					flip := map[[2]int]bool{}
					for range flips * dim * dim / 10000 {
						flip[[2]int{rng.IntN(dim), rng.IntN(dim)}] = true
					}
					what := fmt.Sprintf("version %d, %v, %d flips, mirrored %v", v, ec, len(flip), mirrored)
					if sameAsGozxing(t, flipped(code, flip, mirrored), what) {
						read++
					} else {
						failed++
					}
				}
			}
		}
	}
	if read < 40 || failed < 20 {
		t.Fatalf("%d read and %d failed: the flips do not span both", read, failed)
	}
}

// flipped makes copies of code with the modules in flip inverted, and
// transposed when mirrored.
func flipped(code *gozxing.BitMatrix, flip map[[2]int]bool, mirrored bool) func() *gozxing.BitMatrix {
	return func() *gozxing.BitMatrix {
		b := copyBits(code, func(x, y int) bool { return flip[[2]int{x, y}] })
		if mirrored {
			return transposed(b)
		}
		return b
	}
}

// sameAsGozxing decodes a copy of the bits with decodeHard and another with
// gozxing's Decoder, fails t where they differ, and reports whether
// decodeHard read them.
func sameAsGozxing(t *testing.T, bits func() *gozxing.BitMatrix, what string) bool {
	t.Helper()
	res, err := decoder.NewDecoder().Decode(bits(), nil)
	text, ok := decodeHard(bits())
	if ok != (err == nil) || ok && text != res.GetText() {
		t.Fatalf("%s: decodeHard %q %v, gozxing %v %v", what, text, ok, res, err)
	}
	return ok
}

// transposed is m mirrored about its main diagonal.
func transposed(m *gozxing.BitMatrix) *gozxing.BitMatrix {
	out, _ := gozxing.NewBitMatrix(m.GetHeight(), m.GetWidth())
	for y := range m.GetHeight() {
		for x := range m.GetWidth() {
			if m.Get(x, y) {
				out.Set(y, x)
			}
		}
	}
	return out
}

// FuzzDecodeHard: a code with any modules flipped (two bytes a module's
// position), mirrored or not, reads with decodeHard as with gozxing's
// Decoder.
func FuzzDecodeHard(f *testing.F) {
	code := encodeQRLevel(f, "HC1:FUZZ", 4, decoder.ErrorCorrectionLevel_M)
	dim := code.GetWidth()
	f.Add([]byte{}, false)
	f.Add([]byte{3, 4, 10, 20, 30, 9}, true)
	f.Fuzz(func(t *testing.T, flips []byte, mirrored bool) {
		flip := map[[2]int]bool{}
		for i := 0; i+1 < len(flips); i += 2 {
			flip[[2]int{int(flips[i]) % dim, int(flips[i+1]) % dim}] = true
		}
		sameAsGozxing(t, flipped(code, flip, mirrored), fmt.Sprintf("flips %v, mirrored %v", flips, mirrored))
	})
}

// masked is gozxing's data masks, module for module.
func TestMaskedMatchesGozxing(t *testing.T) {
	const dim = 177
	for mask := range byte(8) {
		m, _ := gozxing.NewSquareBitMatrix(dim)
		decoder.DataMaskValues[mask].UnmaskBitMatrix(m, dim) // sets the masked modules
		for i := range dim {
			for j := range dim {
				if masked(mask, i, j) != m.Get(j, i) {
					t.Fatalf("mask %d, row %d, column %d: %v, gozxing %v", mask, i, j, masked(mask, i, j), m.Get(j, i))
				}
			}
		}
	}
}

// readCodewords reads the codewords gozxing's parser reads, as they are and
// mirrored, for codes of every version and level (and so of several
// masks), with random modules flipped outside the format and version
// information; and it leaves the matrix alone.
func TestReadCodewordsMatchesGozxing(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	levels := []decoder.ErrorCorrectionLevel{decoder.ErrorCorrectionLevel_L, decoder.ErrorCorrectionLevel_M,
		decoder.ErrorCorrectionLevel_Q, decoder.ErrorCorrectionLevel_H}
	masks := map[byte]bool{}
	for v := 1; v <= 40; v++ {
		code := encodeQRLevel(t, fmt.Sprintf("HC1:%d", v), v, levels[v%4])
		dim := code.GetWidth()
		flipped := copyBits(code, func(x, y int) bool { return !formatArea(x, y, dim) && rng.IntN(5) == 0 })
		for _, mirrored := range []bool{false, true} {
			m := flipped
			if mirrored {
				m = transposed(flipped)
			}
			parser, err := decoder.NewBitMatrixParser(copyBits(m, nil))
			if err != nil {
				t.Fatal(err)
			}
			parser.SetMirror(mirrored)
			version, err1 := parser.ReadVersion()
			format, err2 := parser.ReadFormatInformation()
			if err1 != nil || err2 != nil {
				t.Fatalf("version %d: %v, %v", v, err1, err2)
			}
			if mirrored {
				parser.Mirror()
			}
			want, err := parser.ReadCodewords()
			if err != nil {
				t.Fatal(err)
			}
			before := m.String()
			got, ok := readCodewords(m, version, format.GetDataMask(), mirrored)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("version %d, mask %d, mirrored %v: codewords differ", v, format.GetDataMask(), mirrored)
			}
			if m.String() != before {
				t.Fatalf("version %d: the matrix changed", v)
			}
			masks[format.GetDataMask()] = true
		}
	}
	if len(masks) < 6 {
		t.Fatalf("only masks %v were read", masks)
	}
	// A matrix of another size is refused, not read out of its rows.
	v5, _ := decoder.Version_GetVersionForNumber(5)
	for _, side := range []int{21, 45, 64} {
		m, _ := gozxing.NewBitMatrix(side, side)
		if _, ok := readCodewords(m, v5, 0, false); ok {
			t.Fatalf("a %d×%d matrix read as version 5", side, side)
		}
	}
}

// maskCycle gives every mask's bit at every module of the largest code.
func TestMaskCycle(t *testing.T) {
	c := maskCycle()
	for i := range 177 {
		for j := range 177 {
			for k := range byte(8) {
				if got := c[i%12][j%12]>>k&1 == 1; got != masked(k, i, j) {
					t.Fatalf("mask %d at row %d, column %d: %v", k, i, j, got)
				}
			}
		}
	}
}
