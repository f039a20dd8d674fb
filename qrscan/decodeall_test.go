package qrscan

import (
	"image"
	"image/color"
	"os"
	"slices"
	"testing"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
)

// structuredAppend is the version 1-L code of part seq (from 0) of total
// of a structured append holding text (at most 5 bytes), as a picture of
// px pixels a module with a quiet zone of four modules.
func structuredAppend(t *testing.T, seq, total int, text string, px int) image.Image {
	t.Helper()
	bits := gozxing.NewEmptyBitArray()
	bits.AppendBits(0b0011, 4)           // structured append
	bits.AppendBits(seq<<4|(total-1), 8) // position and count
	bits.AppendBits(0x5A, 8)             // parity
	bits.AppendBits(0b0100, 4)           // byte mode
	bits.AppendBits(len(text), 8)        // count
	for _, c := range []byte(text) {
		bits.AppendBits(int(c), 8)
	}
	bits.AppendBits(0, 4) // terminator
	for bits.GetSize()%8 != 0 {
		bits.AppendBit(false)
	}
	data := make([]byte, bits.GetSizeInBytes())
	bits.ToBytes(0, data, 0, len(data))
	for i := 0; len(data) < 19; i++ {
		data = append(data, []byte{0xEC, 0x11}[i%2]) // padding codewords
	}
	block := qrBlock(t, data, 7) // version 1-L: one block, 19 + 7
	all := gozxing.NewEmptyBitArray()
	for _, b := range block {
		all.AppendBits(int(b), 8)
	}
	v, _ := decoder.Version_GetVersionForNumber(1)
	m := encoder.NewByteMatrix(21, 21)
	if err := encoder.MatrixUtil_buildMatrix(all, decoder.ErrorCorrectionLevel_L, v, 2, m); err != nil {
		t.Fatal(err)
	}
	side := (21 + 8) * px
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := range 21 {
		for x := range 21 {
			if m.Get(x, y) == 1 {
				for dy := range px {
					for dx := range px {
						img.SetGray((x+4)*px+dx, (y+4)*px+dy, color.Gray{})
					}
				}
			}
		}
	}
	return img
}

// decodeAll reads what gozxing's multi-code reader reads, in its order:
// photo corpus images (read, located and not read, nothing located),
// several codes in one picture, and the parts of a structured append in
// and out of their sequence among other codes.
func TestDecodeAllMatchesGozxing(t *testing.T) {
	var pictures [][]byte
	pictures = append(pictures,
		qrtest.SideBySide(qrtest.Image(t, "HC1:ONE", 4), qrtest.Image(t, "HC1:TWO", 3), qrtest.Image(t, "three", 5)),
		qrtest.SideBySide(structuredAppend(t, 2, 3, "late", 4), qrtest.Image(t, "plain", 4),
			structuredAppend(t, 0, 3, "first", 4), structuredAppend(t, 1, 3, "mid", 4)),
		qrtest.SideBySide(structuredAppend(t, 1, 2, "b", 4), structuredAppend(t, 0, 2, "a", 4)),
	)
	for i, c := range loadPhotoCorpus(t) {
		if i%7 == 0 { // a seventh of every class
			data, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			pictures = append(pictures, data)
		}
	}
	read, sa := 0, false
	for i, data := range pictures {
		img, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		g := toGray(img)
		src, _ := gozxing.NewPlanarYUVLuminanceSource(g.pix, g.w, g.h, 0, 0, g.w, g.h, false)
		for _, source := range []gozxing.LuminanceSource{src, src.Invert()} { // the picture and its negative
			bits, err := newHybridBinarizer(source).GetBlackMatrix()
			if err != nil {
				t.Fatal(err)
			}
			bmp, _ := gozxing.NewBinaryBitmap(newHybridBinarizer(source))
			var want []string
			results, errWant := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, tryHarder)
			for _, r := range results {
				want = append(want, r.GetText())
			}
			got, err := decodeAll(bits)
			if !slices.Equal(got, want) || (err == nil) != (errWant == nil) {
				t.Fatalf("picture %d: decodeAll %q, %v; gozxing %q, %v", i, got, err, want, errWant)
			}
			read += len(got)
			sa = sa || slices.Contains(got, "firstmidlate")
		}
	}
	if read < 100 || !sa {
		t.Fatalf("%d codes read, structured append joined: %v", read, sa)
	}
}
