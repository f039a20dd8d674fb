package qrscan

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/qrtest"
	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// specPaeth is the Paeth predictor as the PNG specification writes it.
func specPaeth(a, b, c int) int {
	abs := func(x int) int { return max(x, -x) }
	p := a + b - c
	pa, pb, pc := abs(p-a), abs(p-b), abs(p-c)
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func TestPaethMatchesDefinition(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			for c := range 256 {
				if got, want := paeth(a, b, c), specPaeth(a, b, c); got != want {
					t.Fatalf("paeth(%d, %d, %d) = %d, want %d", a, b, c, got, want)
				}
			}
		}
	}
}

// grayScanlines makes a w×h greyscale image of depth bits from random
// values and returns its PNG scanlines (a filter byte and the packed row,
// filtered as the specification says, row y with filters[y%len(filters)])
// and the pixels image/png decodes them to.
func grayScanlines(rng *rand.Rand, w, h, depth int, filters []byte) (lines, want []byte) {
	rowBytes := (w*depth + 7) / 8
	prev := make([]byte, rowBytes)
	for y := range h {
		row := make([]byte, rowBytes)
		for x := range w {
			v := byte(rng.IntN(1 << depth))
			if y%3 == 1 {
				v = byte(x * 7 % (1 << depth)) // runs and ramps, not only noise
			}
			row[x*depth/8] |= v << (8 - depth - x*depth%8)
			want = append(want, v*byte(255/(1<<depth-1)))
		}
		f := filters[y%len(filters)]
		lines = append(lines, f)
		for i := range row {
			var a, b, c int
			if i > 0 {
				a, c = int(row[i-1]), int(prev[i-1])
			}
			b = int(prev[i])
			pred := [5]int{0, a, b, (a + b) / 2, specPaeth(a, b, c)}[f]
			lines = append(lines, byte(int(row[i])-pred))
		}
		prev = row
	}
	return lines, want
}

func deflate(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

func ihdr(w, h, depth, colour, interlace int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(w))
	b = binary.BigEndian.AppendUint32(b, uint32(h))
	return qrtest.PNGChunk("IHDR", append(b, byte(depth), byte(colour), 0, 0, byte(interlace)))
}

// pngFile joins the signature and chunks.
func pngFile(chunks ...[]byte) []byte {
	return bytes.Join(append([][]byte{pngSignature}, chunks...), nil)
}

// idats splits a zlib stream into n IDAT chunks (the first ones may be
// empty when n exceeds its length).
func idats(stream []byte, n int) []byte {
	var out []byte
	for i := range n {
		out = append(out, qrtest.PNGChunk("IDAT", stream[i*len(stream)/n:(i+1)*len(stream)/n])...)
	}
	return out
}

var iend = qrtest.PNGChunk("IEND", nil)

// The fast path decodes greyscale of every depth and filter to the pixels
// image/png decodes, across IDAT chunks and around ancillary chunks.
func TestGrayPNGMatchesImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	text := qrtest.PNGChunk("tEXt", []byte("Comment\x00made for a test"))
	for _, depth := range []int{1, 2, 4, 8} {
		for _, w := range []int{1, 7, 9, 33} {
			// Paeth rows are unfiltered two at a time: after Paeth
			// comes each filter, and a Paeth row is the last.
			for _, filters := range [][]byte{{0}, {1}, {2}, {3}, {4}, {4, 0, 3, 1, 2}, {4, 4, 1}, {2, 4}, {4, 3, 4, 4}} {
				for _, parts := range []int{1, 3} {
					lines, want := grayScanlines(rng, w, 6, depth, filters)
					data := pngFile(ihdr(w, 6, depth, 0, 0), text, idats(deflate(lines), parts), text, iend)
					got, ok := decodeGrayPNG(data)
					if !ok {
						t.Fatalf("depth %d, width %d, filters %v, %d IDATs: not decoded", depth, w, filters, parts)
					}
					std, err := png.Decode(bytes.NewReader(data))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got.Pix, want) || !bytes.Equal(got.Pix, std.(*image.Gray).Pix) || got.Rect != std.Bounds() || got.Stride != w {
						t.Fatalf("depth %d, width %d, filters %v: pixels differ\n got %v\nwant %v", depth, w, filters, got.Pix, want)
					}
				}
			}
		}
	}
}

// Everything else goes to image/png: other colour types and depths,
// interlacing, transparency, and every kind of damage. Decode then answers
// as image/png does.
func TestGrayPNGLeavesTheRestToImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lines, _ := grayScanlines(rng, 9, 5, 8, []byte{4, 1})
	stream := deflate(lines)
	head := ihdr(9, 5, 8, 0, 0)
	encoded := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	good := pngFile(head, idats(stream, 1), iend)
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-len(iend)-1] ^= 1 // the IDAT's CRC
	badAdler := bytes.Clone(stream)
	badAdler[len(badAdler)-1] ^= 1
	short, _ := grayScanlines(rng, 9, 4, 8, []byte{0})
	long, _ := grayScanlines(rng, 9, 6, 8, []byte{0})
	paethShort, _ := grayScanlines(rng, 9, 4, 8, []byte{4}) // its fourth row is the second of a pair
	paethShort = paethShort[:len(paethShort)-3]
	badAfterPaeth := bytes.Clone(lines) // rows 4 and 5 (filter 5 under a Paeth row)
	badAfterPaeth[10] = 5
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"RGBA", encoded(image.NewRGBA(image.Rect(0, 0, 5, 4)))},
		{"paletted", encoded(image.NewPaletted(image.Rect(0, 0, 5, 4), color.Palette{color.Black, color.White}))},
		{"16-bit greyscale", encoded(image.NewGray16(image.Rect(0, 0, 5, 4)))},
		{"interlaced", pngFile(ihdr(9, 5, 8, 0, 1), idats(stream, 1), iend)},
		{"depth 3", pngFile(ihdr(9, 5, 3, 0, 0), idats(stream, 1), iend)},
		{"transparency", pngFile(head, qrtest.PNGChunk("tRNS", []byte{0, 0}), idats(stream, 1), iend)},
		{"a palette in greyscale", pngFile(head, qrtest.PNGChunk("PLTE", make([]byte, 6)), idats(stream, 1), iend)},
		{"an unknown critical chunk", pngFile(head, qrtest.PNGChunk("ABCD", nil), idats(stream, 1), iend)},
		{"IDAT before IHDR", pngFile(idats(stream, 1), head, iend)},
		{"two IHDRs", pngFile(head, head, idats(stream, 1), iend)},
		{"no IDAT", pngFile(head, iend)},
		{"no IEND", pngFile(head, idats(stream, 1))},
		{"truncated", good[:len(good)-20]},
		{"a bad CRC", badCRC},
		{"a bad zlib checksum", pngFile(head, idats(badAdler, 1), iend)},
		{"bytes after the zlib stream", pngFile(head, idats(append(bytes.Clone(stream), 0), 1), iend)},
		{"too little pixel data", pngFile(head, idats(deflate(short), 1), iend)},
		{"too much pixel data", pngFile(head, idats(deflate(long), 1), iend)},
		{"filter type 5", pngFile(head, idats(deflate(append([]byte{5}, lines[1:]...)), 1), iend)},
		{"filter type 5 under a Paeth row", pngFile(head, idats(deflate(badAfterPaeth), 1), iend)},
		{"too little pixel data in a pair of Paeth rows", pngFile(head, idats(deflate(paethShort), 1), iend)},
		{"an IDAT after another chunk", pngFile(head, idats(stream, 1), qrtest.PNGChunk("tEXt", nil), qrtest.PNGChunk("IDAT", nil), iend)},
		{"not a zlib stream", pngFile(head, qrtest.PNGChunk("IDAT", []byte{1, 2, 3, 4}), iend)},
		{"no signature", good[8:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := decodeGrayPNG(tc.data); ok {
				t.Fatal("decoded by the fast path")
			}
			std, errStd := png.Decode(bytes.NewReader(tc.data))
			img, err := Decode(tc.data)
			if (err == nil) != (errStd == nil) {
				t.Fatalf("Decode: %v; image/png: %v", err, errStd)
			}
			if err == nil && !imagesEqual(img, std) {
				t.Fatal("Decode's image is not image/png's")
			}
		})
	}
	if _, ok := decodeGrayPNG(good); !ok {
		t.Fatal("the undamaged file is not decoded") // the cases above are damage, not the file
	}
}

func imagesEqual(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

// corpusPNGs returns the photo corpus's PNG files.
func corpusPNGs(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(testdata.Dir(t, "photos"), "*", "*.png"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no PNGs in the photo corpus (%v)", err)
	}
	return files
}

// The photo corpus's PNGs (greyscale of 1 and 8 bits) all take the fast
// path, to image/png's pixels.
func TestGrayPNGReadsTheCorpus(t *testing.T) {
	for _, f := range corpusPNGs(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeGrayPNG(data)
		if !ok {
			t.Fatalf("%s: not decoded by the fast path", f)
		}
		std, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pix, std.(*image.Gray).Pix) {
			t.Fatalf("%s: pixels differ from image/png's", f)
		}
	}
}

// FuzzGrayPNG holds the fast path to image/png: what it decodes, image/png
// decodes to the same pixels. Each input is tried as it is and, so that
// mutations get past the CRCs, as the pixel data (a zlib stream) of a
// greyscale PNG of the given size and depth with its chunks' CRCs right.
func FuzzGrayPNG(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, depth := range []int{1, 2, 4, 8} {
		lines, _ := grayScanlines(rng, 11, 4, depth, []byte{0, 1, 2, 3, 4})
		stream := deflate(lines)
		f.Add(pngFile(ihdr(11, 4, depth, 0, 0), idats(stream, 2), iend), uint8(11), uint8(4), uint8(depth))
		f.Add(stream, uint8(11), uint8(4), uint8(depth))
	}
	f.Fuzz(func(t *testing.T, data []byte, w, h, depth uint8) {
		for _, file := range [][]byte{data, pngFile(ihdr(int(w), int(h), int(depth), 0, 0), idats(data, 1), iend)} {
			got, ok := decodeGrayPNG(file)
			if !ok {
				continue
			}
			std, err := png.Decode(bytes.NewReader(file))
			if err != nil {
				t.Fatalf("decoded, but image/png says: %v", err)
			}
			if g, isGray := std.(*image.Gray); !isGray || g.Rect != got.Rect || !bytes.Equal(g.Pix, got.Pix) {
				t.Fatal("pixels differ from image/png's")
			}
		}
	})
}

// BenchmarkDecodePNG decodes photo corpus PNGs with image/png and with the
// fast path, side by side.
func BenchmarkDecodePNG(b *testing.B) {
	dir := testdata.Dir(b, "photos")
	for _, class := range []string{"clean", "blur2", "busy", "small1.5px"} {
		files, _ := filepath.Glob(filepath.Join(dir, class, "*.png"))
		var data [][]byte
		for _, f := range files[:min(8, len(files))] {
			d, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			data = append(data, d)
		}
		b.Run(class+"/image-png", func(b *testing.B) {
			for b.Loop() {
				for _, d := range data {
					if _, err := png.Decode(bytes.NewReader(d)); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(class+"/fast-path", func(b *testing.B) {
			for b.Loop() {
				for _, d := range data {
					if _, ok := decodeGrayPNG(d); !ok {
						b.Fatal("not decoded")
					}
				}
			}
		})
	}
}
